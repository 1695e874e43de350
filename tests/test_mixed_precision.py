"""The CUDA training set-up (mixed precision, channels-last) exercised on the CPU at tiny sizes:
autocast to bfloat16 stands in for CUDA's float16."""

from __future__ import annotations

import math

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


def test_classifier_trains_in_mixed_precision_channels_last_and_defaults_stay_exact_on_cpu():
    from attnlab.data.shapes import make_classification
    from attnlab.experiments.classification import train_classifier
    from attnlab.models.classifier import AttentionCNN

    train = make_classification(96, image_size=16, seed=0, split="train").tensors()
    val = make_classification(32, image_size=16, seed=0, split="val").tensors()
    runs = {}
    for amp, cl in [("auto", "auto"), (False, False), (True, True)]:
        model = AttentionCNN(6, attention="se", width=16, seed=0)
        runs[(amp, cl)] = train_classifier(model, train, val, epochs=2, batch_size=32, seed=0, amp=amp,
                                           channels_last=cl)
    # on a CPU "auto" is plain float32: the same run as amp=False, step for step
    assert runs[("auto", "auto")]["step_losses"] == runs[(False, False)]["step_losses"]
    mixed = runs[(True, True)]["step_losses"]
    assert all(math.isfinite(v) for v in mixed) and mixed != runs[(False, False)]["step_losses"]
    assert mixed[-1] < mixed[0]
    with pytest.raises(ValueError, match="amp must be 'auto', True or False"):
        train_classifier(AttentionCNN(6, width=16), train, val, epochs=1, batch_size=32, amp="yes")
