"""attnlab.attention under torch.compile and ONNX export (onnx.checker + onnxruntime)."""

from __future__ import annotations

import warnings

import pytest
import torch

from attnlab import attention as A

NAMES = ("se", "cbam", "eca", "ca", "simam")


def _model(name, c=32, seed=0):
    torch.manual_seed(seed)
    m = A.build(name, c)
    with torch.no_grad():
        for p in m.parameters():
            p.normal_(0, 0.3)
    return m.eval()


# the TorchScript-based exporter for every block (fast); the dynamo-based one (torch's default)
# for one block, as it takes seconds per export
EXPORTS = [(n, False) for n in NAMES] + [("cbam", True)]


@pytest.mark.parametrize("name,dynamo", EXPORTS, ids=[f"{n}-{'dynamo' if d else 'torchscript'}" for n, d in EXPORTS])
def test_onnx_export_checker_and_onnxruntime_equal(name, dynamo, tmp_path):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    if dynamo:
        pytest.importorskip("onnxscript")
    m = _model(name)
    x = torch.randn(2, 32, 10, 8)
    path = tmp_path / f"{name}.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # exporter deprecation notices
        torch.onnx.export(m, (x,), str(path), input_names=["x"], output_names=["y"], dynamo=dynamo, verbose=False)
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"x": x.numpy()})
    with torch.no_grad():
        want = m(x).numpy()
    assert got.shape == want.shape
    assert abs(got - want).max() < 1e-5


@pytest.mark.parametrize("name", NAMES)
def test_torch_compile_traces_without_graph_breaks(name):
    """Dynamo traces the whole block (fullgraph) forward and backward; aot_eager skips codegen."""
    m = _model(name)
    x = torch.randn(2, 32, 6, 6, requires_grad=True)
    compiled = torch.compile(m, backend="aot_eager", fullgraph=True)
    out = compiled(x)
    torch.testing.assert_close(out, m(x), rtol=1e-5, atol=1e-6)
    out.sum().backward()
    assert x.grad is not None and all(p.grad is not None for p in m.parameters())
    torch._dynamo.reset()


@pytest.mark.slow
def test_torch_compile_inductor_cpu():
    """Real code generation on CPU (about 20-40 s here, hence slow)."""
    m = _model("se")
    x = torch.randn(2, 32, 6, 6)
    compiled = torch.compile(m, fullgraph=True)
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), m(x), rtol=1e-5, atol=1e-6)
    torch._dynamo.reset()
