"""What `pip install attnlab` carries: every sub-package, the reference runs, the extras."""

from __future__ import annotations

import sys
import tomllib
import zipfile

import pytest

from tests.bookfiles import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_subpackage_is_listed():
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    found = {"attnlab"} | {f"attnlab.{p.parent.name}" for p in (ROOT / "attnlab").glob("*/__init__.py")}
    assert found <= listed, f"sub-packages missing from pyproject.toml: {sorted(found - listed)}"
    assert PYPROJECT["tool"]["setuptools"]["package-dir"]["attnlab.results"] == "results"


@pytest.mark.slow
def test_the_wheel_carries_the_reference_runs(tmp_path):
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path), str(ROOT)], check=True, cwd=tmp_path)
    (wheel,) = tmp_path.glob("attnlab-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for ref in (ROOT / "results").glob("*.json"):
        assert f"attnlab/results/{ref.name}" in names
    assert "attnlab/experiments/runs.py" in names


def test_optional_features_are_declared_as_extras():
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert {"onnx", "onnxruntime"} <= {r.split(">")[0].split("=")[0] for r in extras["export"]}
    deps = PYPROJECT["project"]["dependencies"]
    assert not any(d.startswith(("onnx", "myst")) for d in deps)
    assert any(d.startswith("ipywidgets>=7") for d in deps), "Colab ships ipywidgets 7"


def test_export_without_onnx_says_how_to_install_it(monkeypatch, tmp_path):
    from attnlab.book import MissingDependency
    from attnlab.detection.export import export_onnx
    from attnlab.models import YoloV4Tiny

    monkeypatch.setitem(sys.modules, "onnx", None)   # as if not installed
    with pytest.raises(MissingDependency, match=r'pip install "attnlab\[export\]"'):
        export_onnx(YoloV4Tiny(6, input_size=64), tmp_path / "m.onnx", 64)
    assert not (tmp_path / "m.onnx").exists()


def test_glue_without_myst_nb_shows_only_what_is_displayed(monkeypatch, capsys):
    from attnlab import book

    monkeypatch.setitem(sys.modules, "myst_nb", None)
    book.glue("hidden", 12.5, display=False)
    book.glue("shown", 0.25)
    assert capsys.readouterr().out.strip() == "0.25"
    with pytest.raises(ValueError, match="name"):
        book.glue("", 1)
