"""Conventions every chapter notebook follows (new notebooks are picked up automatically)."""

from __future__ import annotations

import json
import re

import nbformat
import pytest

from tests.bookfiles import NOTEBOOKS, ROOT, ci_script, config, toc_files

REPO_URL = config()["repository"]["url"]
MAX_NOTEBOOK_BYTES = 2_000_000
MAX_OUTPUT_BYTES = 400_000
SLIDES_TAG = "slides"  # cells a teacher shows in the chapter's deck (.ci/slides.py, `make slides`)
MIN_SLIDE_CELLS = 5
SLIDE_TYPES = {"slide", "subslide", "fragment", "-", "notes"}  # what a tagged cell may set itself
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
    url = re.escape(f" @ git+{REPO_URL}@main")
    assert re.search(rf"attnlab(\[[\w,-]+\])?{url}", src), "the install URL must equal repository.url in _config.yml"
    assert "colab-install" in first.get("metadata", {}).get("tags", [])
    assert not first.get("outputs"), "outside Colab the install cell prints nothing"


COLAB_PREINSTALLED = {"torch", "numpy", "matplotlib", "matplotlib_inline", "PIL", "ipywidgets", "IPython",
                      "skimage", "tqdm", "pandas"}
STDLIB = {"json", "math", "os", "pathlib", "platform", "re", "statistics", "sys", "tempfile", "textwrap",
          "time", "warnings", "types", "shutil", "subprocess", "urllib", "io", "contextlib", "itertools",
          "functools", "collections", "dataclasses", "typing", "random", "hashlib", "http", "threading"}
# what attnlab brings (its dependencies) and what an extra named in the install cell brings
ATTNLAB_BRINGS = {"attnlab", "torchinfo", "scipy"}
EXTRAS = {"export": {"onnx", "onnxruntime"}}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_every_import_is_preinstalled_in_colab_or_installed_by_the_first_cell(path):
    """A Colab runtime has its preinstalled stack plus what cell 1 installs, and nothing else
    (no myst_nb: the book's glue comes from attnlab.book)."""
    cells = code_cells(load(path))
    extras = set(re.findall(r"attnlab\[([\w,-]+)\]", source(cells[0])))
    allowed = COLAB_PREINSTALLED | STDLIB | ATTNLAB_BRINGS
    for group in extras:
        for extra in group.split(","):
            allowed |= EXTRAS[extra]
    for i, cell in enumerate(cells[1:], start=2):
        for line in source(cell).splitlines():
            m = re.match(r"\s*(?:from\s+([\w.]+)\s+import|import\s+([\w.]+))", line)
            if m:
                top = (m.group(1) or m.group(2)).split(".")[0]
                assert top in allowed, f"code cell {i} imports {top!r}, which a Colab runtime lacks: {line.strip()}"


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


def tagged_for_slides(nb) -> list[int]:
    return [i for i, c in enumerate(nb["cells"]) if SLIDES_TAG in c.get("metadata", {}).get("tags", [])]


def is_heading(cell) -> bool:
    return cell["cell_type"] == "markdown" and source(cell).lstrip().startswith("#")


@pytest.fixture(scope="module")
def slides_script():
    return ci_script("slides")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_chapter_has_cells_tagged_for_its_slide_deck(path):
    nb = load(path)
    tagged = tagged_for_slides(nb)
    assert len(tagged) >= MIN_SLIDE_CELLS, (
        f"{path.name}: {len(tagged)} cells tagged {SLIDES_TAG!r}, expected at least {MIN_SLIDE_CELLS} "
        "(title, key idea, equations, figures, summary)"
    )
    cells = nb["cells"]
    assert any(is_heading(cells[i]) for i in tagged), f"{path.name}: no markdown heading among the slide cells"
    title = next(i for i, c in enumerate(cells) if c["cell_type"] == "markdown")
    assert tagged[0] == title, f"{path.name}: the deck must open with the chapter title (cell {title}), not cell {tagged[0]}"
    for i in tagged:
        cell = cells[i]
        assert "colab-install" not in cell["metadata"].get("tags", []), f"{path.name}: install cell {i} on a slide"
        widgets = [o for o in cell.get("outputs", []) if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
        assert not widgets, f"{path.name}: cell {i} shows a widget, which needs a kernel: not on a slide"
        own = cell["metadata"].get("slideshow", {}).get("slide_type")
        assert own is None or own in SLIDE_TYPES, (
            f"{path.name}: cell {i} has slideshow.slide_type {own!r}, expected one of {sorted(SLIDE_TYPES)}"
        )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_slide_deck_shows_exactly_the_tagged_cells(path, slides_script):
    nb = nbformat.read(path, as_version=4)
    deck = slides_script.select_slides(nb)
    assert [c.get("id") for c in deck.cells] == [c.get("id") for c in nb.cells], "select_slides must keep every cell"
    tagged = set(tagged_for_slides(nb))
    for i, (cell, shown) in enumerate(zip(nb.cells, deck.cells)):
        slide_type = shown.metadata["slideshow"]["slide_type"]
        if i not in tagged:
            assert slide_type == "skip", f"{path.name}: untagged cell {i} is shown as {slide_type!r}"
            continue
        own = cell.metadata.get("slideshow", {}).get("slide_type")
        expected = own or ("slide" if is_heading(cell) else "-")
        assert slide_type == expected, f"{path.name}: tagged cell {i} is shown as {slide_type!r}, expected {expected!r}"
    assert "slideshow" not in nb.cells[0].metadata, "select_slides must work on a copy, not change the notebook"


def test_slides_number_equations_as_the_page_does(slides_script):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# T\n$$\na = b\n$$ (eq-first)\n\nand $$ c $$ inline, then\n$$\nx = y\n$$ (eq-second)"),
        nbformat.v4.new_markdown_cell("By {eq}`eq-second` and {eq}`eq-first`; {eq}`eq-elsewhere`."),
    ])
    eqs = slides_script.equation_numbers(nb)
    assert eqs == {"eq-first": 1, "eq-second": 2}
    first = slides_script.myst_to_markdown(nb.cells[0].source, {}, {}, eqs)
    assert "a = b \\tag{1}$$" in first and "x = y \\tag{2}$$" in first and "$$ c $$" in first
    assert "(eq-" not in first
    second = slides_script.myst_to_markdown(nb.cells[1].source, {}, {}, eqs)
    assert second == "By (2) and (1); the equation."
