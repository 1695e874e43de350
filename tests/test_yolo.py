"""YOLOv4-tiny: reference layouts, checkpoints, fusing, summary, bench, ONNX, bad input."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from attnlab.models import (
    CheckpointError,
    LoadResult,
    YoloV4Tiny,
    fuse_for_inference,
    load_checkpoint,
    summarize,
)

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "reference"
SHARED = ROOT.parent / "shared" / "reference"
PARAMS = {0: 5_918_006, 1: 5_961_014, 2: 6_004_316, 3: 5_918_021, 4: 5_982_630}
NAMES = {0: "none", 1: "se", 2: "cbam", 3: "eca", 4: "ca"}


def read_reference(folder: Path, phi: int) -> tuple[list[tuple[str, tuple[int, ...]]], dict[str, str]]:
    """(key, shape) pairs in file order, and the header fields (params=...)."""
    entries, header = [], {}
    for line in (folder / f"yolov4_tiny_state_dict_phi{phi}.txt").read_text().splitlines():
        if line.startswith("#"):
            for tok in line[1:].split():
                if "=" in tok and tok.split("=")[0].isidentifier():
                    header[tok.split("=")[0]] = tok.split("=")[1]
            continue
        if not line.strip():
            continue
        key, shape = line.split("\t")
        entries.append((key, tuple(int(v) for v in shape.strip("()").split(",") if v.strip())))
    return entries, header


def small_input(batch: int = 1, size: int = 64, seed: int = 0) -> torch.Tensor:
    return torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(seed))


def randomize_bn(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Non-trivial batch-norm statistics and affine parameters (as after training)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.2)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=g) * 0.1)
    return model


# ----------------------------------------------------------------------------- layouts
@pytest.mark.parametrize("phi", range(5))
def test_state_dict_matches_reference_fixture(phi):
    entries, header = read_reference(FIXTURES, phi)
    model = YoloV4Tiny(num_classes=20, attention=phi)
    sd = model.state_dict()
    assert [k for k, _ in entries] == list(sd), "keys (and their order) must equal the reference's"
    for key, shape in entries:
        assert tuple(sd[key].shape) == shape, key
    n = sum(p.numel() for p in model.parameters())
    assert n == PARAMS[phi] == int(header["params"])
    assert len(sd) == int(header["state_dict_entries"])


@pytest.mark.parametrize("phi", range(5))
def test_fixture_equals_shared_reference(phi):
    if not SHARED.is_dir():
        pytest.skip(f"shared reference folder {SHARED} is absent (fresh clone): the fixture copy is tested instead")
    name = f"yolov4_tiny_state_dict_phi{phi}.txt"
    assert (FIXTURES / name).read_text() == (SHARED / name).read_text()


def test_attention_by_name_equals_by_phi():
    for phi, name in NAMES.items():
        a, b = YoloV4Tiny(attention=phi), YoloV4Tiny(attention=name.upper())
        assert a.attention == b.attention == name and a.phi == b.phi == phi
        assert {k: v.shape for k, v in a.state_dict().items()} == {k: v.shape for k, v in b.state_dict().items()}
    simam = YoloV4Tiny(attention="simam")
    assert simam.phi is None and sum(p.numel() for p in simam.parameters()) == PARAMS[0]
    for slot in ("feat1_att", "feat2_att", "upsample_att"):
        assert hasattr(YoloV4Tiny(attention=0), slot)


@pytest.mark.parametrize("phi", [0, 2, 4])
def test_output_shapes(phi):
    model = YoloV4Tiny(num_classes=3, attention=phi).eval()
    with torch.no_grad():
        out0, out1 = model(small_input(2, 64))
    assert out0.shape == (2, 24, 2, 2) and out1.shape == (2, 24, 4, 4)
    assert model.output_shapes(416) == [(1, 24, 13, 13), (1, 24, 26, 26)]
    assert YoloV4Tiny().output_shapes(416, batch=4) == [(4, 75, 13, 13), (4, 75, 26, 26)]


def test_defaults_are_reference():
    model = YoloV4Tiny()
    assert model.input_size == (416, 416) and model.num_classes == 20
    assert model.anchors.tolist() == [[10, 14], [23, 27], [37, 58], [81, 82], [135, 169], [344, 319]]
    assert [list(m) for m in model.anchors_mask] == [[3, 4, 5], [1, 2, 3]]
    custom = YoloV4Tiny(num_classes=2, anchors=[1, 2, 3, 4, 5, 6, 7, 8], anchors_mask=[[2, 3], [0, 1]])
    assert custom.state_dict()["yolo_headP5.1.weight"].shape == (14, 512, 1, 1)


def test_bad_construction():
    with pytest.raises(ValueError, match="phi"):
        YoloV4Tiny(attention=7)
    with pytest.raises(ValueError, match="unknown attention"):
        YoloV4Tiny(attention="transformer")
    with pytest.raises(ValueError, match="num_classes"):
        YoloV4Tiny(num_classes=0)
    with pytest.raises(ValueError, match="multiples of 32"):
        YoloV4Tiny(input_size=400)
    with pytest.raises(ValueError, match="anchors_mask refers"):
        YoloV4Tiny(anchors_mask=[[3, 4, 9], [1, 2, 3]])


def test_bad_input_gets_clear_errors():
    model = YoloV4Tiny(num_classes=2).eval()
    with pytest.raises(ValueError, match="3 colour channels"):
        model(torch.rand(1, 1, 64, 64))
    with pytest.raises(ValueError, match="3 colour channels"):
        model(torch.rand(1, 64, 64, 3))  # channels last by mistake
    with pytest.raises(ValueError, match="multiples of 32"):
        model(torch.rand(1, 3, 100, 64))
    with pytest.raises(ValueError, match="unsqueeze"):
        model(torch.rand(3, 64, 64))
    with pytest.raises(TypeError, match="float"):
        model(torch.zeros(1, 3, 64, 64, dtype=torch.uint8))


# ----------------------------------------------------------------------------- checkpoints
def reference_state_dict(phi: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """A state dict built only from the reference listing, as the reference's torch.save writes it."""
    entries, _ = read_reference(FIXTURES, phi)
    g = torch.Generator().manual_seed(seed)
    sd = {}
    for key, shape in entries:
        if key.endswith("num_batches_tracked"):
            sd[key] = torch.tensor(1000)
        elif key.endswith("running_var"):
            sd[key] = torch.rand(shape, generator=g) + 0.5
        elif key.endswith(("bn.weight",)):
            sd[key] = torch.rand(shape, generator=g) + 0.5
        else:
            fan_in = math.prod(shape[1:]) if len(shape) > 1 else 1
            sd[key] = torch.randn(shape, generator=g) / math.sqrt(max(fan_in, 1)) * (0.1 if len(shape) == 1 else 1.0)
    return sd


def reference_forward(sd: dict[str, torch.Tensor], x: torch.Tensor, phi: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The reference YoloBody forward written with torch.nn.functional on the raw state dict."""

    def conv(prefix, t, stride=1):
        w = sd[prefix + ".conv.weight"]
        t = F.conv2d(t, w, stride=stride, padding=w.shape[-1] // 2)
        t = F.batch_norm(t, sd[prefix + ".bn.running_mean"], sd[prefix + ".bn.running_var"],
                         sd[prefix + ".bn.weight"], sd[prefix + ".bn.bias"], False, 0.0, 1e-5)
        return F.leaky_relu(t, 0.1)

    def resblock(prefix, t):
        t = conv(prefix + ".conv1", t)
        route = t
        c = t.shape[1]
        t = torch.split(t, c // 2, dim=1)[1]
        t = conv(prefix + ".conv2", t)
        route1 = t
        t = conv(prefix + ".conv3", t)
        t = conv(prefix + ".conv4", torch.cat([t, route1], 1))
        feat = t
        return F.max_pool2d(torch.cat([route, t], 1), 2, 2), feat

    def att(prefix, t):
        if phi == 0:
            return t
        assert phi == 1  # SE: avgpool -> fc -> relu -> fc -> sigmoid -> scale
        y = t.mean((2, 3))
        y = torch.sigmoid(F.linear(F.relu(F.linear(y, sd[prefix + ".fc.0.weight"])), sd[prefix + ".fc.2.weight"]))
        return t * y[:, :, None, None]

    def head(prefix, t):
        t = conv(prefix + ".0", t)
        return F.conv2d(t, sd[prefix + ".1.weight"], sd[prefix + ".1.bias"])

    t = conv("backbone.conv1", x, 2)
    t = conv("backbone.conv2", t, 2)
    t, _ = resblock("backbone.resblock_body1", t)
    t, _ = resblock("backbone.resblock_body2", t)
    t, feat1 = resblock("backbone.resblock_body3", t)
    feat2 = conv("backbone.conv3", t)
    feat1, feat2 = att("feat1_att", feat1), att("feat2_att", feat2)
    p5 = conv("conv_for_P5", feat2)
    out0 = head("yolo_headP5", p5)
    up = F.interpolate(conv("upsample.upsample.0", p5), scale_factor=2, mode="nearest")
    up = att("upsample_att", up)
    out1 = head("yolo_headP4", torch.cat([up, feat1], 1))
    return out0, out1


@pytest.mark.parametrize("phi", [0, 1])
def test_reference_layout_checkpoint_loads_and_gives_reference_outputs(tmp_path, phi):
    sd = reference_state_dict(phi)
    path = tmp_path / "ref.pth"
    torch.save(sd, path)
    model = YoloV4Tiny(num_classes=20, attention=phi)
    result = load_checkpoint(model, path)
    assert isinstance(result, LoadResult) and result.ok and len(result.loaded) == len(sd)
    for k, v in model.state_dict().items():
        assert torch.equal(v, sd[k]), k
    x = small_input(2, 96)
    model.eval()
    with torch.no_grad():
        ours = model(x)
        ref = reference_forward(sd, x, phi)
    for a, b in zip(ours, ref):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_wrapped_and_ddp_checkpoints(tmp_path):
    sd = YoloV4Tiny(attention="eca").state_dict()
    for wrapped in ({"model": sd, "epoch": 3}, {"state_dict": {"module." + k: v for k, v in sd.items()}},
                    {"module." + k: v for k, v in sd.items()}):
        path = tmp_path / "ck.pt"
        torch.save(wrapped, path)
        target = YoloV4Tiny(attention=3)
        res = load_checkpoint(target, path)
        assert res.ok
        assert all(torch.equal(target.state_dict()[k], v) for k, v in sd.items())
    assert load_checkpoint(YoloV4Tiny(attention=3), {"module." + k: v for k, v in sd.items()}).stripped_prefix == "module."


def test_other_architecture_is_rejected(tmp_path):
    other = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    path = tmp_path / "other.pth"
    torch.save(other.state_dict(), path)
    with pytest.raises(CheckpointError, match="another architecture"):
        load_checkpoint(YoloV4Tiny(), path)
    with pytest.raises(CheckpointError, match="another architecture"):
        load_checkpoint(YoloV4Tiny(), path, strict=False)
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="is not a torch checkpoint"):
        load_checkpoint(YoloV4Tiny(), tmp_path / "junk.pth")
    with pytest.raises(CheckpointError, match="not a state dict"):
        load_checkpoint(YoloV4Tiny(), {"epoch": 3, "note": "no weights"})
    with pytest.raises(FileNotFoundError):
        load_checkpoint(YoloV4Tiny(), tmp_path / "missing.pth")


def test_mismatches_are_reported_by_name():
    voc = YoloV4Tiny(num_classes=20, attention="se").state_dict()
    target = YoloV4Tiny(num_classes=3, attention="none")
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(target, voc)
    msg = str(info.value)
    assert "yolo_headP5.1.weight" in msg and "feat1_att.fc.0.weight" in msg and "reinit_heads" in msg
    res = load_checkpoint(target, voc, strict=False)
    assert set(res.mismatched) == {"yolo_headP5.1.weight", "yolo_headP5.1.bias", "yolo_headP4.1.weight", "yolo_headP4.1.bias"}
    assert res.mismatched["yolo_headP5.1.weight"] == ((75, 512, 1, 1), (24, 512, 1, 1))
    assert sorted(res.unexpected) == sorted(k for k in voc if "_att." in k)
    assert res.missing == [] and not res.ok
    partial = dict(voc)
    del partial["backbone.conv1.bn.running_mean"]
    res = load_checkpoint(YoloV4Tiny(attention="se"), partial, strict=False)
    assert res.missing == ["backbone.conv1.bn.running_mean"]


def test_reinit_heads_keeps_backbone_and_neck():
    torch.manual_seed(0)
    voc = YoloV4Tiny(num_classes=20)
    target = YoloV4Tiny(num_classes=3)
    head_before = target.yolo_headP5[1].weight.clone()
    res = load_checkpoint(target, voc.state_dict(), reinit_heads=True)
    assert res.ok and res.reinitialized == ["yolo_headP5.1", "yolo_headP4.1"]
    for k, v in voc.state_dict().items():
        if not k.startswith(("yolo_headP5.1", "yolo_headP4.1")):
            assert torch.equal(target.state_dict()[k], v), k
    assert target.yolo_headP5[1].weight.shape == (24, 512, 1, 1)
    assert not torch.equal(target.yolo_headP5[1].weight, head_before)  # re-initialised
    model = YoloV4Tiny(num_classes=20).reset_heads(num_classes=5)
    assert model.num_classes == 5 and model.yolo_headP4[1].out_channels == 30


# ----------------------------------------------------------------------------- fusing
@pytest.mark.parametrize("phi", [0, 4])
def test_fused_copy_matches_and_leaves_original_alone(phi):
    torch.manual_seed(phi)
    model = randomize_bn(YoloV4Tiny(num_classes=20, attention=phi)).train()
    keys = list(model.state_dict())
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fused = fuse_for_inference(model)
    fused_cl = fuse_for_inference(model, channels_last=True)
    assert model.training and list(model.state_dict()) == keys
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for n, m in fused.named_modules() if not n.endswith("_att.bn"))
    x = small_input(2, 64)
    model.eval()
    with torch.inference_mode():
        ref = model(x)
        for net, inp in ((fused, x), (fused_cl, x.contiguous(memory_format=torch.channels_last))):
            for a, b in zip(net(inp), ref):
                torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


# ----------------------------------------------------------------------------- summary, bench, capture
def test_summary_marks_attention_slots():
    s = summarize(YoloV4Tiny(attention="cbam"), input_size=64)
    text = str(s)
    names = [r.name for r in s.rows]
    assert names.index("feat1_att") < names.index("conv_for_P5") < names.index("upsample_att")
    assert {r.name for r in s.rows if r.attention} == {"feat1_att", "feat2_att", "upsample_att"}
    assert "feat1_att *" in text and "attention slot" in text
    assert s.total_params == PARAMS[2] and s.attention_params == PARAMS[2] - PARAMS[0]
    row = {r.name: r for r in s.rows}
    assert row["yolo_headP5"].output_shape == [1, 75, 2, 2]
    assert row["resblock_body3"].params == 951_808


def test_bench_quick_writes_json(tmp_path):
    from attnlab.__main__ import main

    out = tmp_path / "yolo.json"
    assert main(["bench", "yolo", "--quick", "--phi", "1", "--device", "cpu", "--out", str(out)]) == 0
    payload = json.loads(out.read_text())
    rows = payload["results"]
    # the unfused phi 0 baseline always runs, interleaved with the candidates
    assert {r["name"] for r in rows} == {"phi0/unfused", "phi1/unfused", "phi1/fused"}
    for r in rows:
        assert r["baseline"] == "phi0/unfused" and r["ratio_to_baseline"] > 0 and r["median_ms"] > 0
        assert r["max_abs_diff_vs_unfused"] < 1e-4
        assert (r["size"], r["batch"], r["device"]) == (64, 1, "cpu")
    assert [r["ratio_to_baseline"] for r in rows if r["name"] == "phi0/unfused"] == [1.0]
    assert payload["environment"]["cpu"]["torch"] == torch.__version__


def test_capture_sees_the_slots():
    from attnlab.attention import capture

    model = YoloV4Tiny(num_classes=2, attention="se").eval()
    with capture(model) as gates, torch.no_grad():
        model(small_input(1, 64))
    assert gates["feat1_att"]["channel"].shape == (1, 256, 1, 1)
    assert gates["feat2_att"]["channel"].shape == (1, 512, 1, 1)
    assert gates["upsample_att"]["channel"].shape == (1, 128, 1, 1)


# ----------------------------------------------------------------------------- ONNX
def test_onnx_export_dynamic_batch(tmp_path):
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed")
    pytest.importorskip("onnx", reason="onnx is not installed")
    from attnlab.detection.export import export_onnx

    torch.manual_seed(0)
    model = randomize_bn(YoloV4Tiny(num_classes=4, attention="cbam")).eval()
    path = export_onnx(model, tmp_path / "y.onnx", input_size=64)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == ["images"]
    for batch in (1, 2):
        x = small_input(batch, 64, seed=batch)
        got = sess.run(None, {"images": x.numpy()})
        with torch.no_grad():
            ref = model(x)
        for a, b in zip(got, ref):
            assert a.shape == tuple(b.shape)
            torch.testing.assert_close(torch.from_numpy(a), b, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="multiples of 32"):
        export_onnx(model, tmp_path / "bad.onnx", input_size=100)
