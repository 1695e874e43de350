"""Tests for attnlab.models.classifier.AttentionCNN."""

import pytest
import torch
from torch import nn

from attnlab.models.classifier import AttentionCNN


pytestmark = pytest.mark.usefixtures("one_thread")


def test_output_shape_and_channels():
    model = AttentionCNN(num_classes=5, width=4, depth=3, seed=0)
    assert model.channels == [4, 8, 16]
    assert model(torch.rand(2, 3, 16, 16)).shape == (2, 5)
    outs = model.stage_outputs(torch.rand(2, 3, 16, 16))
    assert [tuple(o.shape) for o in outs] == [(2, 4, 16, 16), (2, 8, 8, 8), (2, 16, 4, 4)]


def test_none_slot_is_identity_and_named():
    model = AttentionCNN(num_classes=3, attention="none", width=4, depth=2)
    names = dict(model.named_modules())
    assert isinstance(names["stages.0.attn"], nn.Identity)
    assert isinstance(names["stages.1.attn"], nn.Identity)


def test_callable_factory_gets_stage_channels():
    seen = []

    def factory(c):
        seen.append(c)
        return nn.Identity()

    AttentionCNN(num_classes=2, attention=factory, width=3, depth=3)
    assert seen == [3, 6, 12]


def test_seed_gives_same_weights_and_leaves_global_rng_alone():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = AttentionCNN(num_classes=2, width=4, seed=7)
    after = torch.rand(1)
    assert torch.equal(before, after)  # fork_rng: building the model did not consume global RNG
    b = AttentionCNN(num_classes=2, width=4, seed=7)
    c = AttentionCNN(num_classes=2, width=4, seed=8)
    for (ka, va), (_, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(va, vb), ka
    assert not torch.equal(a.stages[0].conv.weight, c.stages[0].conv.weight)


@pytest.mark.parametrize("kwargs", [dict(num_classes=0), dict(num_classes=2, width=0),
                                    dict(num_classes=2, depth=0), dict(num_classes=2.5)])
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        AttentionCNN(**kwargs)


def test_bad_attention_type():
    with pytest.raises(TypeError):
        AttentionCNN(num_classes=2, attention=3.5)
    with pytest.raises(TypeError):
        AttentionCNN(num_classes=2, attention=lambda c: "not a module")


def test_bad_input():
    model = AttentionCNN(num_classes=2, width=4, depth=3)
    with pytest.raises(ValueError, match="expects input"):
        model(torch.rand(2, 1, 16, 16))
    with pytest.raises(ValueError, match="expects input"):
        model(torch.rand(3, 16, 16))
    with pytest.raises(ValueError, match="needs H, W"):
        model(torch.rand(1, 3, 2, 2))


def test_with_package_attention():
    attention = pytest.importorskip("attnlab.attention")
    if not hasattr(attention, "build"):
        pytest.skip("attnlab.attention.build not available")
    model = AttentionCNN(num_classes=3, attention="se", width=8, attention_options={"reduction": 4}, seed=0)
    assert not isinstance(model.stages[0].attn, nn.Identity)
    assert model(torch.rand(2, 3, 16, 16)).shape == (2, 3)
    base = AttentionCNN(num_classes=3, width=8, seed=0)
    extra = sum(p.numel() for p in model.parameters()) - sum(p.numel() for p in base.parameters())
    # SE adds 2 * C * (C // r) weights per stage (no biases): C = 8, 16, 32 with r = 4
    assert extra == sum(2 * c * (c // 4) for c in (8, 16, 32))
