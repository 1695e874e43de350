"""Conventions every chapter notebook follows (new notebooks are picked up automatically)."""

from __future__ import annotations

import json
import re

import pytest

from tests.bookfiles import NOTEBOOKS, ROOT, config, toc_files

REPO_URL = config()["repository"]["url"]
MAX_NOTEBOOK_BYTES = 2_000_000
MAX_OUTPUT_BYTES = 400_000
IDS = [nb.name for nb in NOTEBOOKS]


def load(path):
    return json.loads(path.read_text())


def code_cells(nb):
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def source(cell):
    return "".join(cell["source"])


def trains(nb) -> bool:
    text = "\n".join(source(c) for c in code_cells(nb))
    return bool(re.search(r"\b(train_\w+|Trainer|\.fit\(|optimizer\.step|compare\()", text))


def test_there_are_notebooks_and_all_are_in_the_toc():
    assert NOTEBOOKS, "notebooks/ holds no .ipynb"
    listed = set(toc_files())
    missing = [nb.name for nb in NOTEBOOKS if f"notebooks/{nb.stem}" not in listed]
    assert not missing, f"notebooks not listed in _toc.yml: {missing}"
    for entry in listed:
        candidates = [ROOT / f"{entry}{suffix}" for suffix in (".md", ".ipynb")]
        assert any(p.exists() for p in candidates), f"_toc.yml lists {entry!r}, which does not exist"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_first_cell_installs_attnlab_only_in_colab(path):
    nb = load(path)
    first = nb["cells"][0]
    assert first["cell_type"] == "code", "cell 1 must be the Colab install cell"
    src = source(first)
    assert 'if "google.colab" in sys.modules:' in src
    install_lines = [l for l in src.splitlines() if "pip install" in l]
    assert len(install_lines) == 1 and install_lines[0].startswith("    "), "the install must sit inside the Colab check"
    assert f"attnlab @ git+{REPO_URL}" in src, "the install URL must equal repository.url in _config.yml"
    assert "colab-install" in first.get("metadata", {}).get("tags", [])
    assert not first.get("outputs"), "outside Colab the install cell prints nothing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_profile_is_printed_once_near_the_top(path):
    cells = code_cells(load(path))
    printing = [i for i, c in enumerate(cells) if "profile.describe()" in source(c)]
    assert printing and printing[0] <= 2, "print get_profile().describe() in one of the first code cells"
    assert len(printing) == 1


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_kernelspec_and_colab_gpu_metadata(path):
    nb = load(path)
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    if trains(nb):
        assert nb["metadata"].get("accelerator") == "GPU", "a notebook with training cells asks Colab for a GPU"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_no_absolute_paths_and_no_large_outputs(path):
    nb = load(path)
    assert path.stat().st_size < MAX_NOTEBOOK_BYTES, f"{path.name} is {path.stat().st_size} bytes"
    for i, cell in enumerate(nb["cells"]):
        text = source(cell)
        for pattern in (r"(?<![\w:/])/(home|root|work|Users|tmp)/", r"[A-Za-z]:\\\\"):
            assert not re.search(pattern, text), f"absolute path in cell {i} of {path.name}"
        for out in cell.get("outputs", []):
            size = len(json.dumps(out))
            assert size < MAX_OUTPUT_BYTES, f"cell {i} of {path.name} has a {size}-byte output"
            blob = json.dumps(out.get("text", "")) + json.dumps(out.get("data", {}).get("text/plain", ""))
            assert not re.search(r"(?<![\w:/])/(home|root|work|Users)/", blob), f"absolute path in output of cell {i}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_has_outputs_for_nbval_and_no_errors(path):
    cells = code_cells(load(path))[1:]
    assert any(c.get("outputs") for c in cells), "commit notebooks executed: nbval compares stored outputs"
    for i, cell in enumerate(cells):
        if cell.get("outputs"):
            assert cell.get("execution_count") is not None, (
                f"code cell {i + 1} has outputs but no execution count: nbval rejects it (make notebooks)"
            )
        for out in cell.get("outputs", []):
            assert out["output_type"] != "error", f"stored error output in code cell {i + 1}"
            # A figure shown by plt.show() is a display_data with a PNG (fine); a figure *returned*
            # as the cell's value prints "<Figure size ...>" as an execute_result: end with ';'.
            text = "".join(out.get("data", {}).get("text/plain", ""))
            if out["output_type"] == "execute_result":
                assert not re.match(r"<(Figure|matplotlib\.)", text), (
                    f"end plot cell {i + 1} with ';' so no figure repr is printed"
                )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_opens_with_a_title_and_objectives(path):
    nb = load(path)
    markdown = [source(c) for c in nb["cells"] if c["cell_type"] == "markdown"]
    assert markdown and markdown[0].lstrip().startswith("# "), "the first markdown cell is the chapter title"
