"""Reference blocks for attnlab.attention, written as DESIGN.md describes them (the way the
YOLOv4-tiny reference project writes se_block, cbam_block, eca_block and CA_Block), independent
functional forms of every block and its options, and the "Done when" tests: state_dicts saved from
the reference blocks load into the package's blocks and give identical outputs."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


# The reference blocks, exactly as the YOLOv4-tiny project writes them, live in
# attnlab/attention/reference.py (the benchmark measures against them too); the names the
# reference project uses are kept here.
from attnlab.attention.reference import RefCA as CA_Block  # noqa: E402
from attnlab.attention.reference import RefCBAM as cbam_block  # noqa: E402
from attnlab.attention.reference import RefChannelAttention as ChannelAttention  # noqa: E402
from attnlab.attention.reference import RefECA as eca_block  # noqa: E402
from attnlab.attention.reference import RefSE as se_block  # noqa: E402
from attnlab.attention.reference import RefSpatialAttention as SpatialAttention  # noqa: E402


def simam_reference(x, e_lambda=1e-4):
    """The SimAM authors' forward."""
    b, c, h, w = x.size()
    n = w * h - 1
    x_minus_mu_square = (x - x.mean(dim=[2, 3], keepdim=True)).pow(2)
    y = x_minus_mu_square / (4 * (x_minus_mu_square.sum(dim=[2, 3], keepdim=True) / n + e_lambda)) + 0.5
    return x * torch.sigmoid(y)


# ---------------------------------------------------------------------------------------------
# functional forms (plain einsum / loops over the paper's equations), for options too
# ---------------------------------------------------------------------------------------------


def gate_fn(kind):
    return {"sigmoid": torch.sigmoid, "hsigmoid": lambda t: torch.clamp(t + 3, 0, 6) / 6}[kind]


def se_functional(x, w1, w2, b1=None, b2=None, gate="sigmoid"):
    z = x.sum(dim=(2, 3)) / (x.shape[2] * x.shape[3])
    h = torch.einsum("bc,hc->bh", z, w1)
    if b1 is not None:
        h = h + b1
    h = torch.clamp(h, min=0)
    a = torch.einsum("bh,ch->bc", h, w2)
    if b2 is not None:
        a = a + b2
    return x * gate_fn(gate)(a)[:, :, None, None]


def channel_gate_functional(x, w1, w2, b1=None, b2=None, pool="both"):
    b, c = x.shape[:2]
    flat = x.reshape(b, c, -1)
    descs = []
    if pool in ("both", "avg"):
        descs.append(flat.mean(-1))
    if pool in ("both", "max"):
        descs.append(flat.max(-1).values)
    total = 0
    for z in descs:
        h = z @ w1.reshape(w1.shape[0], c).T
        if b1 is not None:
            h = h + b1
        a = torch.relu(h) @ w2.reshape(c, -1).T
        if b2 is not None:
            a = a + b2
        total = total + a
    return torch.sigmoid(total)[:, :, None, None]


def spatial_gate_functional(x, weight, bn=None):
    d = torch.stack([x.mean(1), x.max(1).values], 1)
    a = F.conv2d(d, weight, padding=weight.shape[-1] // 2)
    if bn is not None:
        a = bn(a)
    return torch.sigmoid(a)


def cbam_functional(x, cbam_module, order="channel-spatial", pool="both"):
    ca, sa = cbam_module.channelattention, cbam_module.spatialattention

    def mc(t):
        return channel_gate_functional(t, ca.fc1.weight, ca.fc2.weight, ca.fc1.bias, ca.fc2.bias, pool)

    def ms(t):
        return spatial_gate_functional(t, sa.conv1.weight, sa.bn)

    if order == "channel-spatial":
        y = x * mc(x)
        return y * ms(y)
    if order == "spatial-channel":
        y = x * ms(x)
        return y * mc(y)
    return x * mc(x) * ms(x)


def eca_functional(x, weight):
    k = weight.shape[-1]
    z = x.mean(dim=(2, 3))  # (B, C)
    zp = F.pad(z, (k // 2, k // 2))
    w = weight.reshape(k)
    y = torch.stack([(zp[:, i : i + k] * w).sum(-1) for i in range(z.shape[1])], 1)
    return x * torch.sigmoid(y)[:, :, None, None]


def ca_functional(x, mod):
    """Coordinate attention in eval mode (BN from running statistics) from the equations."""
    b, c, h, w = x.shape
    zh = x.mean(3)  # (B, C, H)
    zw = x.mean(2)  # (B, C, W)
    z = torch.cat([zh, zw], 2)
    m = mod.conv_1x1.weight.shape[0]
    f = torch.einsum("mc,bcl->bml", mod.conv_1x1.weight.reshape(m, c), z)
    if mod.conv_1x1.bias is not None:
        f = f + mod.conv_1x1.bias[:, None]
    bn = mod.bn
    f = (f - bn.running_mean[:, None]) / torch.sqrt(bn.running_var[:, None] + bn.eps) * bn.weight[:, None] + bn.bias[:, None]
    f = torch.relu(f) if mod.activation == "relu" else f * torch.clamp(f + 3, 0, 6) / 6
    fh, fw = f[:, :, :h], f[:, :, h:]
    ah = torch.einsum("cm,bml->bcl", mod.F_h.weight.reshape(c, m), fh)
    aw = torch.einsum("cm,bml->bcl", mod.F_w.weight.reshape(c, m), fw)
    if mod.F_h.bias is not None:
        ah = ah + mod.F_h.bias[:, None]
        aw = aw + mod.F_w.bias[:, None]
    return x * torch.sigmoid(ah)[:, :, :, None] * torch.sigmoid(aw)[:, :, None, :]


def simam_functional(x, e_lambda=1e-4):
    b, c, h, w = x.shape
    mu = x.mean(dim=(2, 3), keepdim=True)
    var = ((x - mu) ** 2).sum(dim=(2, 3), keepdim=True) / max(h * w - 1, 1)
    e_inv = (x - mu) ** 2 / (4 * (var + e_lambda)) + 0.5
    return x * torch.sigmoid(e_inv)


# ---------------------------------------------------------------------------------------------
# Done when: reference state_dicts load and give identical outputs
# ---------------------------------------------------------------------------------------------

import io  # noqa: E402

import pytest  # noqa: E402

from attnlab import attention as A  # noqa: E402

# (slot prefix, channels, H, W) of YOLOv4-tiny's three attention slots
SLOTS = [("feat1_att", 256, 26, 26), ("feat2_att", 512, 13, 13), ("upsample_att", 128, 26, 26)]

# attention keys and shapes of the reference project's state_dict
# (/work/shared/reference/yolov4_tiny_state_dict_phi{1..4}.txt), for the 256-channel slot
REFERENCE_KEYS = {
    1: {"fc.0.weight": (16, 256), "fc.2.weight": (256, 16)},
    2: {
        "channelattention.fc1.weight": (32, 256, 1, 1),
        "channelattention.fc2.weight": (256, 32, 1, 1),
        "spatialattention.conv1.weight": (1, 2, 7, 7),
    },
    3: {"conv.weight": (1, 1, 5)},
    4: {
        "conv_1x1.weight": (16, 256, 1, 1),
        "bn.weight": (16,),
        "bn.bias": (16,),
        "bn.running_mean": (16,),
        "bn.running_var": (16,),
        "bn.num_batches_tracked": (),
        "F_h.weight": (256, 16, 1, 1),
        "F_w.weight": (256, 16, 1, 1),
    },
}
REFERENCE_BLOCKS = {1: se_block, 2: cbam_block, 3: eca_block, 4: CA_Block}


def _roundtrip(state_dict):
    buf = io.BytesIO()
    torch.save(state_dict, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


@pytest.mark.parametrize("phi", [1, 2, 3, 4])
def test_state_dict_keys_and_shapes_match_reference_project(phi):
    ours = A.build(phi, 256).state_dict()
    assert {k: tuple(v.shape) for k, v in ours.items()} == REFERENCE_KEYS[phi]
    ref = REFERENCE_BLOCKS[phi](256).state_dict()
    assert list(ours) == list(ref)  # same keys in the same order


@pytest.mark.parametrize("phi", [1, 2, 3, 4])
@pytest.mark.parametrize("slot", SLOTS, ids=[s[0] for s in SLOTS])
def test_reference_weights_load_and_outputs_are_identical(phi, slot):
    _, c, h, w = slot
    torch.manual_seed(phi * 1000 + c)
    ref = REFERENCE_BLOCKS[phi](c)
    for p in ref.parameters():  # non-trivial weights (and BN statistics) so differences show
        torch.nn.init.normal_(p, std=0.2)
    if phi == 4:
        ref.bn.running_mean.uniform_(-0.5, 0.5)
        ref.bn.running_var.uniform_(0.5, 2.0)
    ours = A.build(phi, c)
    ours.load_state_dict(_roundtrip(ref.state_dict()), strict=True)
    x = torch.randn(2, c, h, w)
    ref.eval(), ours.eval()
    with torch.no_grad():
        torch.testing.assert_close(ours(x), ref(x), rtol=1e-5, atol=1e-6)
    # training mode too (CA's BatchNorm uses batch statistics and updates the same buffers)
    ref.train(), ours.train()
    torch.testing.assert_close(ours(x), ref(x), rtol=1e-5, atol=1e-6)
    for (k, a), (_, b) in zip(ours.state_dict().items(), ref.state_dict().items()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=f"buffer {k} differs after a training step")


def test_simam_equals_authors_code():
    torch.manual_seed(0)
    x = torch.randn(2, 64, 13, 11)
    with torch.no_grad():
        torch.testing.assert_close(A.SimAM(64)(x), simam_reference(x), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(A.SimAM(64, e_lambda=0.1)(x), simam_reference(x, 0.1), rtol=1e-5, atol=1e-6)


def test_yolo_slot_parameter_totals_match_reference_project():
    """Attention parameters over the three slots = reference totals minus phi 0 (DESIGN.md)."""
    base = 5_918_006
    totals = {1: 5_961_014, 2: 6_004_316, 3: 5_918_021, 4: 5_982_630}
    for phi, total in totals.items():
        n = sum(p.numel() for _, c, _, _ in SLOTS for p in A.build(phi, c).parameters())
        assert n == total - base, phi
