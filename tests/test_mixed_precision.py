"""The CUDA training set-up (mixed precision, channels-last) exercised on the CPU at tiny sizes:
autocast to bfloat16 stands in for CUDA's float16."""

from __future__ import annotations

import pytest
import torch

from attnlab.attention import build
from attnlab.experiments.budget import measure_step
from attnlab.models import YoloV4Tiny

BLOCKS = ["se", "cbam", "eca", "ca", "simam"]


@pytest.mark.parametrize("name", BLOCKS)
def test_every_block_trains_under_autocast_and_channels_last(name):
    torch.manual_seed(0)
    block = build(name, 32)
    x = torch.randn(2, 32, 8, 8).contiguous(memory_format=torch.channels_last).requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = block(x)
    assert y.shape == x.shape
    y.float().square().mean().backward()
    grads = [x.grad, *(p.grad for p in block.parameters())]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    # the same gradient as in float32, to bfloat16's precision
    x32 = x.detach().clone().requires_grad_()
    block(x32).square().mean().backward()
    assert torch.allclose(x.grad.float(), x32.grad, atol=2e-2 * x32.grad.abs().max().item() + 1e-6)


@pytest.mark.parametrize("attention", ["none", "se", "cbam"])
def test_detector_training_step_in_mixed_precision_channels_last(attention):
    model = YoloV4Tiny(6, attention=attention, input_size=64)
    seconds = measure_step(model, lambda outs: sum(o.float().mean() for o in outs), torch.rand(2, 3, 64, 64),
                           steps=1, warmup=0, amp=True, channels_last=True)
    assert seconds > 0
