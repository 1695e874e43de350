"""attnlab.attention: formulas, functional equivalence, gates, gradients, capture, errors, build."""

from __future__ import annotations

import math
import warnings

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attnlab import attention as A
from tests.test_attention_refs import (
    ca_functional,
    cbam_functional,
    eca_functional,
    se_functional,
    simam_functional,
)

NAMES = ("se", "cbam", "eca", "ca", "simam")
TOL = dict(rtol=1e-5, atol=1e-6)


def _randomize(module, seed=0):
    """Non-trivial weights and BN statistics so that mistakes show in outputs."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)
        for name, b in module.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(torch.randn(b.shape, generator=g) * 0.2)
            elif name.endswith("running_var"):
                b.copy_(torch.rand(b.shape, generator=g) + 0.5)
    return module


def functional(module, x):
    """The independent functional form (tests/test_attention_refs.py) of a configured module."""
    if isinstance(module, A.SqueezeExcite):
        l1, l2 = module.fc[0], module.fc[2]
        return se_functional(x, l1.weight, l2.weight, l1.bias, l2.bias, module._gate_kind)
    if isinstance(module, A.CBAM):
        return cbam_functional(x, module, module.order, module.channelattention.pool)
    if isinstance(module, A.ECA):
        return eca_functional(x, module.conv.weight)
    if isinstance(module, A.CoordAttention):
        return ca_functional(x, module)
    if isinstance(module, A.SimAM):
        return simam_functional(x, module.e_lambda)
    raise AssertionError(type(module))


# ---------------------------------------------------------------------------------------------
# parameter counts: closed forms
# ---------------------------------------------------------------------------------------------

CHANNELS = sorted({16, 17, 24, 31, 32, 48, 64, 100, 128, 130, 200, 255, 256, 384, 500, 512, 768, 1000, 1024})


def n_params(m):
    return sum(p.numel() for p in m.parameters())


@pytest.mark.parametrize("c", CHANNELS)
def test_parameter_counts_closed_form(c):
    assert n_params(A.SqueezeExcite(c)) == 2 * c * (c // 16)
    assert n_params(A.SqueezeExcite(c, 4, bias=True)) == 2 * c * (c // 4) + c // 4 + c
    assert n_params(A.CBAM(c)) == 2 * c * (c // 8) + 2 * 7 * 7
    assert n_params(A.CBAM(c, 16, 3, spatial_bn=True)) == 2 * c * (c // 16) + 2 * 3 * 3 + 2
    k = A.eca_kernel_size(c)
    assert n_params(A.ECA(c)) == k == (int((math.log2(c) + 1) / 2) | 1)
    assert n_params(A.ECA(c, 7)) == 7
    assert n_params(A.CoordAttention(c)) == 3 * c * (c // 16) + 2 * (c // 16)
    assert n_params(A.SimAM(c)) == 0
    assert n_params(A.NoAttention(c)) == 0


# ---------------------------------------------------------------------------------------------
# ECA kernel size
# ---------------------------------------------------------------------------------------------


def test_eca_kernel_size_reference_rule():
    assert [A.eca_kernel_size(c) for c in (16, 32, 64, 128, 256, 512, 1024, 2048)] == [3, 3, 3, 5, 5, 5, 5, 7]
    assert A.eca_kernel_size(1) == 1
    assert A.eca_kernel_size(64, gamma=1, b=0) == 7  # int(6) -> even -> 7


def test_eca_kernel_size_paper_rule_differs_only_at_ties():
    assert A.eca_kernel_size(128, rule="paper") == 3
    assert A.eca_kernel_size(128, rule="reference") == 5
    for c in range(1, 5000):
        t = abs((math.log2(c) + 1) / 2)
        ref, paper = A.eca_kernel_size(c), A.eca_kernel_size(c, rule="paper")
        assert paper % 2 == 1 and abs(paper - t) <= 1 + 1e-9  # an odd number nearest to t
        tie = t == int(t) and int(t) % 2 == 0
        assert (ref != paper) == tie, c
    assert A.ECA(128, rule="paper").kernel_size == 3


def test_eca_kernel_size_errors():
    with pytest.raises(ValueError, match="rule"):
        A.eca_kernel_size(64, rule="nearest")
    with pytest.raises(ValueError, match="gamma"):
        A.eca_kernel_size(64, gamma=0)
    with pytest.raises(ValueError, match="channels"):
        A.eca_kernel_size(0)


# ---------------------------------------------------------------------------------------------
# outputs equal the functional forms, for the options too
# ---------------------------------------------------------------------------------------------

CONFIGS = [
    ("se", {}),
    ("se", {"reduction": 4, "bias": True}),
    ("se", {"reduction": 8, "gate": "hsigmoid"}),
    ("se", {"reduction": 32, "min_hidden": 8}),
    ("cbam", {}),
    ("cbam", {"kernel_size": 3}),
    ("cbam", {"pool": "avg"}),
    ("cbam", {"pool": "max", "bias": True}),
    ("cbam", {"bias": True}),
    ("cbam", {"order": "spatial-channel"}),
    ("cbam", {"order": "parallel", "spatial_bn": True}),
    ("eca", {}),
    ("eca", {"kernel_size": 7}),
    ("eca", {"rule": "paper", "gamma": 1.5}),
    ("ca", {}),
    ("ca", {"reduction": 8, "bias": True}),
    ("ca", {"reduction": 32, "min_hidden": 8, "activation": "hswish"}),
    ("simam", {}),
    ("simam", {"e_lambda": 0.5}),
]


@pytest.mark.parametrize("name,options", CONFIGS, ids=[f"{n}-{o}" for n, o in CONFIGS])
def test_outputs_equal_functional_reference(name, options):
    torch.manual_seed(1)
    m = _randomize(A.build(name, 64, **options)).eval()
    x = torch.randn(3, 64, 9, 7) * 2
    x_before = x.clone()
    with torch.no_grad():
        out = m(x)  # without autograd
    expected = functional(m, x)
    torch.testing.assert_close(out, expected, **TOL)
    torch.testing.assert_close(m(x), expected, **TOL)  # with autograd (parameters need grads)
    assert torch.equal(x, x_before), "the input was modified"


# ---------------------------------------------------------------------------------------------
# property-based: random shapes
# ---------------------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(NAMES),
    b=st.integers(1, 3),
    c=st.integers(1, 80),
    h=st.integers(1, 12),
    w=st.integers(1, 12),
    seed=st.integers(0, 2**16),
)
def test_random_shapes_property(name, b, c, h, w, seed):
    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # r > C: minimum hidden width
        m = _randomize(A.build(name, c), seed).eval()
    x = torch.randn(b, c, h, w)
    with A.capture(m) as gates:
        out = m(x)
    assert out.shape == x.shape and out.dtype == x.dtype
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, functional(m, x), rtol=1e-4, atol=1e-5)
    for key, g in gates[""].items():
        assert ((g > 0) & (g < 1)).all(), (name, key)


# ---------------------------------------------------------------------------------------------
# gates and capture
# ---------------------------------------------------------------------------------------------

EXPECTED_GATES = {
    "se": {"channel": (2, 32, 1, 1)},
    "eca": {"channel": (2, 32, 1, 1)},
    "cbam": {"channel": (2, 32, 1, 1), "spatial": (2, 1, 10, 6)},
    "ca": {"height": (2, 32, 10, 1), "width": (2, 32, 1, 6)},
    "simam": {"energy": (2, 32, 10, 6)},
}


class Net(torch.nn.Module):
    def __init__(self, name):
        super().__init__()
        self.stem = torch.nn.Conv2d(3, 32, 3, padding=1)
        self.feat1_att = A.build(name, 32)
        self.body = torch.nn.Sequential(torch.nn.Conv2d(32, 32, 1), A.build(name, 32))
        self.none_att = A.build("none", 32)

    def forward(self, x):
        return self.none_att(self.body(self.feat1_att(self.stem(x))))


@pytest.mark.parametrize("name", NAMES)
def test_capture_records_gates_without_changing_the_model(name):
    torch.manual_seed(0)
    net = _randomize(Net(name)).eval()
    x = torch.randn(2, 3, 10, 6)
    hooks_before = [(len(m._forward_hooks), len(m._forward_pre_hooks)) for m in net.modules()]
    attrs_before = [sorted(vars(m)) for m in net.modules()]
    with torch.no_grad():
        plain = net(x)
        with A.capture(net) as gates:
            captured = net(x)
        after = net(x)
    assert torch.equal(plain, captured) and torch.equal(plain, after)
    assert set(gates) == {"feat1_att", "body.1"}  # NoAttention records nothing
    for path in gates:
        shapes = {k: tuple(v.shape) for k, v in gates[path].items()}
        assert shapes == EXPECTED_GATES[name]
        assert tuple(gates[path]) == A.GATE_KEYS[type(net.feat1_att).__name__]
        for g in gates[path].values():
            assert not g.requires_grad and ((g > 0) & (g < 1)).all()
    # nothing lasting: no hooks, no attributes, no active recorder
    assert [(len(m._forward_hooks), len(m._forward_pre_hooks)) for m in net.modules()] == hooks_before
    assert [sorted(vars(m)) for m in net.modules()] == attrs_before
    from attnlab.attention import _common

    assert _common._ACTIVE is None


def test_capture_gates_are_the_gates_used():
    """The recorded channel gate reproduces the output: out == x * gate."""
    torch.manual_seed(0)
    se = _randomize(A.SqueezeExcite(32))
    x = torch.randn(2, 32, 5, 5)
    with A.capture(se) as gates:
        out = se(x)  # with autograd
    torch.testing.assert_close(out, x * gates[""]["channel"], **TOL)
    for m in (A.CBAM(32), A.CoordAttention(32), A.SimAM(32), A.ECA(32)):
        with A.capture(m) as gates:
            out = m(x.requires_grad_(True))
        x.requires_grad_(False)
        g = gates[""]
        if isinstance(m, A.CBAM):
            y = x * g["channel"]
            torch.testing.assert_close(out, y * g["spatial"], **TOL)
        elif isinstance(m, A.CoordAttention):
            torch.testing.assert_close(out, x * g["height"] * g["width"], **TOL)
        else:
            torch.testing.assert_close(out, x * next(iter(g.values())), **TOL)
        assert all(not t.requires_grad for t in g.values())
    simam = A.SimAM(32)
    with torch.no_grad(), A.capture(simam) as gates:
        out = simam(x)  # without autograd too, the recorded gate is the one used
    torch.testing.assert_close(out, x * gates[""]["energy"], **TOL)
    ca = _randomize(A.CoordAttention(32)).eval()
    with torch.no_grad(), A.capture(ca) as gates:
        out = ca(x)
    torch.testing.assert_close(out, x * gates[""]["height"] * gates[""]["width"], **TOL)


def test_capture_keep_last_and_all_and_nesting():
    se = A.SqueezeExcite(16)
    x1, x2 = torch.randn(1, 16, 4, 4), torch.randn(3, 16, 4, 4)
    with torch.no_grad():
        with A.capture(se) as last:
            se(x1)
            se(x2)
        with A.capture(se, keep="all") as every:
            se(x1)
            with A.capture(se) as inner:
                se(x2)
            se(x2)
    assert last[""]["channel"].shape[0] == 3
    assert [e["channel"].shape[0] for e in every[""]] == [1, 3]
    assert inner[""]["channel"].shape[0] == 3
    with pytest.raises(ValueError, match="keep"):
        with A.capture(se, keep="first"):
            pass
    with pytest.raises(TypeError, match="nn.Module"):
        with A.capture("model"):
            pass


def test_capture_is_reset_after_an_exception():
    from attnlab.attention import _common

    se = A.SqueezeExcite(16)
    with pytest.raises(RuntimeError):
        with A.capture(se):
            raise RuntimeError("boom")
    assert _common._ACTIVE is None


# ---------------------------------------------------------------------------------------------
# gradients
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name,options", CONFIGS, ids=[f"{n}-{o}" for n, o in CONFIGS])
def test_gradients_reach_every_parameter_and_match_functional(name, options):
    torch.manual_seed(2)
    m = _randomize(A.build(name, 32, **options)).eval()
    x = torch.randn(2, 32, 6, 5, requires_grad=True)
    params = [p for p in m.parameters()]
    g = torch.randn(2, 32, 6, 5)
    grads = torch.autograd.grad(m(x), [x, *params], g)
    expected = torch.autograd.grad(functional(m, x), [x, *params], g)
    for got, want in zip(grads, expected):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
    for p, gp in zip(params, grads[1:]):
        assert gp is not None and gp.abs().sum() > 0


def test_gradients_in_training_mode_with_batchnorm():
    torch.manual_seed(3)
    for m in (A.CoordAttention(32), A.CBAM(32, spatial_bn=True)):
        m.train()
        x = torch.randn(4, 32, 6, 6, requires_grad=True)
        m(x).square().mean().backward()
        assert x.grad is not None and torch.isfinite(x.grad).all()
        for name, p in m.named_parameters():
            assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_training_step_updates_batchnorm_statistics_once_like_the_reference():
    """A training step moves BatchNorm's running statistics once, as the reference does."""
    from attnlab.attention.reference import RefCA

    torch.manual_seed(5)
    m = A.CoordAttention(32).train()
    ref = RefCA(32).train()
    ref.load_state_dict(m.state_dict())
    x = torch.randn(4, 32, 6, 7, requires_grad=True)
    m(x).sum().backward()
    ref(x).sum().backward()
    assert int(m.bn.num_batches_tracked) == 1
    torch.testing.assert_close(m.bn.running_mean, ref.bn.running_mean)
    torch.testing.assert_close(m.bn.running_var, ref.bn.running_var)
    for (name, p), q in zip(m.named_parameters(), ref.parameters()):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-4, atol=1e-5, msg=name)


# ---------------------------------------------------------------------------------------------
# memory formats and autocast
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_channels_last_input(name):
    torch.manual_seed(4)
    m = _randomize(A.build(name, 32)).eval()
    x = torch.randn(2, 32, 7, 9)
    xl = x.contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        out, out_l = m(x), m(xl)
    torch.testing.assert_close(out_l, out, **TOL)
    assert out_l.is_contiguous(memory_format=torch.channels_last)
    g = torch.randn(2, 32, 7, 9)
    grads = []
    for inp in (x, xl):
        xg = inp.clone().requires_grad_(True)
        m(xg).backward(g)
        grads.append(xg.grad)
    torch.testing.assert_close(grads[1], grads[0], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_bfloat16_autocast_cpu(name):
    torch.manual_seed(5)
    m = _randomize(A.build(name, 32)).eval()
    x = torch.randn(2, 32, 8, 8)
    with torch.no_grad():
        ref = m(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = m(x)
            with A.capture(m) as gates:
                m(x)
    assert out.shape == x.shape and torch.isfinite(out).all()
    torch.testing.assert_close(out.float(), ref, rtol=0.05, atol=0.05)
    for g in gates[""].values():
        assert ((g >= 0) & (g <= 1)).all()
    # bfloat16 weights and input end to end
    mb = m.to(torch.bfloat16)
    with torch.no_grad():
        outb = mb(x.bfloat16())
    assert outb.dtype == torch.bfloat16
    torch.testing.assert_close(outb.float(), ref, rtol=0.1, atol=0.1)


# ---------------------------------------------------------------------------------------------
# bad input and bad arguments: clear errors naming module, argument, expected and got
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ("none",) + NAMES)
def test_non_4d_input_is_a_clear_error(name):
    m = A.build(name, 16)
    cls = type(m).__name__
    with pytest.raises(ValueError, match=rf"{cls}: input must be a 4-D tensor .*got 3-D tensor of shape \(16, 4, 4\)"):
        m(torch.randn(16, 4, 4))
    with pytest.raises(TypeError, match=rf"{cls}: input must be a torch.Tensor"):
        m([[1.0]])


@pytest.mark.parametrize("name", ("none",) + NAMES)
def test_wrong_channel_count_is_a_clear_error(name):
    m = A.build(name, 16)
    cls = type(m).__name__
    with pytest.raises(ValueError, match=rf"{cls}: input channels \(dim 1\) must be 16 .*got 8"):
        m(torch.randn(2, 8, 4, 4))


def test_simam_without_channels_accepts_any():
    assert A.SimAM()(torch.randn(1, 5, 3, 3)).shape == (1, 5, 3, 3)
    assert A.SimAM()(torch.randn(1, 5, 1, 1)).shape == (1, 5, 1, 1)  # no variance: defined anyway


@pytest.mark.parametrize("bad", [0, -3])
@pytest.mark.parametrize("name", ("none",) + NAMES)
def test_non_positive_channels(name, bad):
    with pytest.raises(ValueError, match=rf"channels must be a positive int, got {bad}"):
        A.build(name, bad)


@pytest.mark.parametrize("cls", [A.SqueezeExcite, A.CBAM, A.ECA, A.CoordAttention, A.SimAM, A.NoAttention])
def test_non_int_channels(cls):
    with pytest.raises(TypeError, match=rf"{cls.__name__}: channels must be a positive int, got 16.0"):
        cls(16.0)
    with pytest.raises(TypeError, match="channels must be a positive int"):
        cls(True)


def test_kernel_size_errors():
    with pytest.raises(ValueError, match=r"ECA: kernel_size must be a positive odd int .*got 4"):
        A.ECA(64, kernel_size=4)
    with pytest.raises(ValueError, match=r"ECA: kernel_size .*got 0"):
        A.ECA(64, kernel_size=0)
    for k in (4, 5, 1, 9):
        with pytest.raises(ValueError, match=rf"SpatialAttention: kernel_size must be one of \[3, 7\].*got {k}"):
            A.CBAM(64, kernel_size=k)


@pytest.mark.parametrize("cls,arg", [(A.SqueezeExcite, "reduction"), (A.CBAM, "ratio"), (A.CoordAttention, "reduction")])
def test_ratio_larger_than_channels_warns_and_uses_min_hidden(cls, arg):
    with pytest.warns(UserWarning, match=r"=32 is larger than channels=8.*min_hidden=1"):
        m = cls(8, 32)
    assert m(torch.randn(1, 8, 3, 3)).shape == (1, 8, 3, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cls(64, 16)  # no warning in the normal case
    with pytest.raises(ValueError, match=rf"{arg} must be a positive int, got 0"):
        cls(8, 0)
    with pytest.raises(ValueError, match="min_hidden must be a positive int, got 0"):
        cls(8, 2, min_hidden=0)


def test_option_errors():
    with pytest.raises(ValueError, match=r"CBAM: order must be one of .*got 'serial'"):
        A.CBAM(16, order="serial")
    with pytest.raises(ValueError, match=r"ChannelAttention: pool must be one of .*got 'min'"):
        A.CBAM(16, pool="min")
    with pytest.raises(ValueError, match=r"SqueezeExcite: gate must be one of .*got 'tanh'"):
        A.SqueezeExcite(16, gate="tanh")
    with pytest.raises(ValueError, match=r"CoordAttention: activation must be one of .*got 'gelu'"):
        A.CoordAttention(16, activation="gelu")
    with pytest.raises(ValueError, match=r"SimAM: e_lambda must be a positive number, got 0"):
        A.SimAM(16, e_lambda=0)


# ---------------------------------------------------------------------------------------------
# build and the public surface
# ---------------------------------------------------------------------------------------------


def test_build_by_name_and_phi():
    assert A.ATTENTION_NAMES == ("none", "se", "cbam", "eca", "ca", "simam")
    assert A.PHI_NAMES == {0: "none", 1: "se", 2: "cbam", 3: "eca", 4: "ca"}
    expected = {"none": A.NoAttention, "se": A.SE, "cbam": A.CBAM, "eca": A.ECA, "ca": A.CA, "simam": A.SimAM}
    for name, cls in expected.items():
        m = A.build(name, 64)
        assert type(m) is cls and m.channels == 64
        assert type(A.build(name.upper(), 64)) is cls
        assert m.extra_repr().startswith("channels=64")
    for phi, name in A.PHI_NAMES.items():
        assert type(A.build(phi, 64)) is expected[name]
    assert A.build("se", 64, reduction=4).hidden == 16
    x = torch.randn(1, 64, 2, 2)
    assert A.build("none", 64)(x) is x


def test_build_unknown_names_list_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown attention name 'bam'; known names: \['none', 'se', 'cbam', 'eca', 'ca', 'simam'\]"):
        A.build("bam", 64)
    with pytest.raises(ValueError, match=r"unknown phi 7; known phi values"):
        A.build(7, 64)
    with pytest.raises(TypeError, match="name must be"):
        A.build(None, 64)
    with pytest.raises(TypeError, match="unexpected keyword"):
        A.build("se", 64, kernel_size=3)


def test_public_classes_have_examples_and_paper_docstrings():
    import importlib

    for mod, paper in [("se", "Hu"), ("cbam", "Woo"), ("eca", "Wang"), ("coord", "Hou"), ("simam", "Yang")]:
        doc = importlib.import_module(f"attnlab.attention.{mod}").__doc__
        assert paper in doc and ".. math::" in doc
    for name in ["SqueezeExcite", "CBAM", "ChannelAttention", "SpatialAttention", "ECA", "CoordAttention", "SimAM", "NoAttention"]:
        assert "Example:" in getattr(A, name).__doc__, name


def test_repr_lists_configuration():
    text = repr(A.build("cbam", 64, kernel_size=3))
    assert "channels=64, order='channel-spatial'" in text and "kernel_size=3" in text
    assert "hidden=4" in repr(A.SE(64))


@pytest.mark.parametrize("name", NAMES)
def test_bfloat16_autocast_training_step(name):
    torch.manual_seed(6)
    m = _randomize(A.build(name, 32)).train()
    x = torch.randn(2, 32, 8, 8, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = m(x)
    out.float().square().mean().backward()
    assert torch.isfinite(x.grad).all() and x.grad.dtype == torch.float32
    for p in m.parameters():
        assert p.grad is not None and p.grad.dtype == p.dtype and torch.isfinite(p.grad).all()
    xb = torch.randn(2, 32, 8, 8, dtype=torch.bfloat16, requires_grad=True)
    mb = m.to(torch.bfloat16)
    mb(xb).float().sum().backward()
    assert xb.grad.dtype == torch.bfloat16 and torch.isfinite(xb.grad.float()).all()


# ---------------------------------------------------------------------------------------------
# plain PyTorch: hooks fire, double backward works, no hand-written backward passes
# ---------------------------------------------------------------------------------------------

# (block, inner layers whose forward hooks must fire on every call of the block)
INNER_LAYERS = [
    ("se", ["fc.0", "fc.2", "fc.3"]),
    ("cbam", ["channelattention", "channelattention.fc1", "channelattention.fc2", "spatialattention",
              "spatialattention.conv1"]),
    ("eca", ["conv"]),
    ("ca", ["conv_1x1", "bn", "relu", "F_h", "F_w", "sigmoid_h", "sigmoid_w"]),
]


@pytest.mark.parametrize("name,layers", INNER_LAYERS, ids=[n for n, _ in INNER_LAYERS])
@pytest.mark.parametrize("grad", [False, True], ids=["no_grad", "autograd"])
def test_forward_hooks_on_inner_layers_fire(name, layers, grad):
    m = A.build(name, 32)
    calls = []
    modules = dict(m.named_modules())
    for layer in layers:
        modules[layer].register_forward_hook(lambda mod, args, out, layer=layer: calls.append(layer))
    x = torch.randn(2, 32, 5, 4, requires_grad=grad)
    with torch.set_grad_enabled(grad):
        m(x)
    assert sorted(set(calls)) == sorted(layers)
    if name == "cbam":  # the shared MLP runs once per descriptor (average and max)
        assert calls.count("channelattention.fc1") == 2


def test_se_hook_sees_the_bottleneck():
    """What a learner hooks on fc[0] is W1 z for the pooled descriptor z."""
    se = _randomize(A.SqueezeExcite(32, 8))
    seen = {}
    se.fc[0].register_forward_hook(lambda mod, args, out: seen.update(z=args[0], h=out))
    x = torch.randn(3, 32, 6, 6)
    se(x)
    torch.testing.assert_close(seen["z"], x.mean((2, 3)))
    torch.testing.assert_close(seen["h"], x.mean((2, 3)) @ se.fc[0].weight.T)


SMALL = [("se", {"reduction": 4}), ("se", {"reduction": 4, "bias": True}),
         ("cbam", {"ratio": 4}), ("cbam", {"ratio": 4, "order": "spatial-channel", "kernel_size": 3}),
         ("cbam", {"ratio": 4, "order": "parallel", "pool": "avg"}), ("eca", {"kernel_size": 3}),
         ("ca", {"reduction": 4}), ("ca", {"reduction": 4, "activation": "hswish", "bias": True}), ("simam", {})]


@pytest.mark.parametrize("name,options", SMALL, ids=[f"{n}-{o}" for n, o in SMALL])
def test_second_derivatives(name, options):
    """Plain autograd all the way: double backward works (the old hand-fused paths refused it).
    (Not with gate="hsigmoid": torch has no second derivative of hardsigmoid.)"""
    torch.manual_seed(7)
    m = _randomize(A.build(name, 8, **options)).double().eval()
    x = torch.randn(2, 8, 3, 3, dtype=torch.float64, requires_grad=True)
    params = [p for p in m.parameters()]
    assert torch.autograd.gradcheck(lambda x, *p: m(x), (x, *params), fast_mode=True)
    assert torch.autograd.gradgradcheck(m, (x,), fast_mode=True)


def test_no_hand_written_autograd_functions():
    import importlib
    import inspect

    for mod in ("_common", "se", "cbam", "eca", "coord", "simam", "factory", "capture"):
        module = importlib.import_module(f"attnlab.attention.{mod}")
        for name, obj in vars(module).items():
            assert not (inspect.isclass(obj) and issubclass(obj, torch.autograd.Function)), f"{mod}.{name}"
    torch.manual_seed(0)
    x = torch.randn(2, 32, 5, 5, requires_grad=True)
    for name in NAMES:
        out = A.build(name, 32)(x)
        assert "Backward" in type(out.grad_fn).__name__ and "BackwardCFunction" not in type(out.grad_fn).__name__


@pytest.mark.parametrize("cls", [A.SqueezeExcite, A.ECA, A.CBAM, A.ChannelAttention, A.SpatialAttention,
                                 A.CoordAttention, A.SimAM])
def test_forward_is_short(cls):
    """A guard for readability: each forward is the block's equations, not machinery."""
    import inspect

    lines = [ln for ln in inspect.getsource(cls.forward).splitlines() if ln.strip() and not ln.strip().startswith("#")]
    assert len(lines) <= 18, f"{cls.__name__}.forward has {len(lines)} lines"


@pytest.mark.parametrize("name", NAMES)
def test_gate_methods_equal_the_captured_gates(name):
    torch.manual_seed(8)
    m = _randomize(A.build(name, 32)).eval()
    x = torch.randn(2, 32, 7, 5)
    with torch.no_grad(), A.capture(m) as gates:
        m(x)
        g = gates[""]
        if name in ("se", "eca"):
            torch.testing.assert_close(m.channel_gate(x), g["channel"])
        elif name == "cbam":
            torch.testing.assert_close(m.channelattention(x), g["channel"])
            torch.testing.assert_close(m.spatialattention(x * g["channel"]), g["spatial"])
        elif name == "ca":
            g_h, g_w = m.coordinate_gates(x)
            torch.testing.assert_close(g_h, g["height"])
            torch.testing.assert_close(g_w, g["width"])
        else:
            torch.testing.assert_close(m.energy_gate(x), g["energy"])


# ---------------------------------------------------------------------------------------------
# empty inputs
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("train", [False, True], ids=["eval", "train"])
@pytest.mark.parametrize("name", NAMES)
def test_empty_batch_gives_an_empty_output(name, train):
    m = A.build(name, 16).train(train)
    x = torch.randn(0, 16, 6, 5)
    out = m(x)
    assert out.shape == (0, 16, 6, 5) and out.dtype == x.dtype


@pytest.mark.parametrize("shape", [(2, 16, 0, 5), (2, 16, 6, 0), (0, 16, 0, 0)])
def test_coord_attention_refuses_empty_height_or_width(shape):
    ca = A.CoordAttention(16)
    text = re_escape(str(shape))
    with pytest.raises(ValueError, match=rf"CoordAttention: input height and width .* must be >= 1, got input of shape {text}"):
        ca(torch.randn(*shape))
    with pytest.raises(ValueError, match="height and width"):
        ca.coordinate_gates(torch.randn(*shape))


def re_escape(text):
    import re

    return re.escape(text)
