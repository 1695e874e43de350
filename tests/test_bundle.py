"""`make bundle` (.ci/bundle.py): the offline zip of the built book and the notebooks, on a tiny fake book."""

from __future__ import annotations

import zipfile

import pytest

from tests.bookfiles import ci_script

TOP = "attnlab-book"


@pytest.fixture(scope="module")
def bundle():
    return ci_script("bundle")


@pytest.fixture
def inputs(tmp_path):
    """A built 'book' (index.html, a _static asset, a slide deck index) and a notebook folder
    with two notebooks, a Jupyter checkpoint and a stray non-notebook file."""
    html = tmp_path / "html"
    (html / "_static").mkdir(parents=True)
    (html / "slides").mkdir()
    (html / "index.html").write_text("<!DOCTYPE html><html><body>attnlab ü</body></html>\n", encoding="utf-8")
    (html / "_static" / "logo.png").write_bytes(bytes(range(256)) * 4)   # binary, every byte value
    (html / "slides" / "index.html").write_text("<html>decks</html>\n")
    nbs = tmp_path / "notebooks"
    (nbs / ".ipynb_checkpoints").mkdir(parents=True)
    (nbs / "00_setup_check.ipynb").write_text('{"cells": [], "nbformat": 4}\n')
    (nbs / "01_intro.ipynb").write_text('{"cells": [{"source": "# Intro"}], "nbformat": 4}\n')
    (nbs / ".ipynb_checkpoints" / "01_intro-checkpoint.ipynb").write_text("{}\n")
    (nbs / "scratch.py").write_text("print('not a notebook')\n")
    readme = tmp_path / "README.md"
    readme.write_text("# attnlab\n")
    return {"html": html, "notebooks": nbs, "readme": readme, "out": tmp_path / "out" / "attnlab-book.zip"}


def build(bundle, inputs):
    return bundle.make_bundle(inputs["html"], inputs["notebooks"], inputs["readme"], inputs["out"])


def test_archive_layout_and_bytes_round_trip(bundle, inputs):
    out = build(bundle, inputs)
    assert out == inputs["out"] and out.is_file()
    sources = {
        f"{TOP}/README.md": inputs["readme"],
        f"{TOP}/book/index.html": inputs["html"] / "index.html",
        f"{TOP}/book/_static/logo.png": inputs["html"] / "_static" / "logo.png",
        f"{TOP}/book/slides/index.html": inputs["html"] / "slides" / "index.html",
        f"{TOP}/notebooks/00_setup_check.ipynb": inputs["notebooks"] / "00_setup_check.ipynb",
        f"{TOP}/notebooks/01_intro.ipynb": inputs["notebooks"] / "01_intro.ipynb",
    }
    with zipfile.ZipFile(out) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
        assert len(names) == len(set(names)), "duplicate members"
        assert sorted(names) == sorted([*sources, f"{TOP}/OPEN_ME.txt"])   # no checkpoint, no scratch.py
        for name, source in sources.items():
            assert archive.read(name) == source.read_bytes(), f"{name} differs from {source}"
        open_me = archive.read(f"{TOP}/OPEN_ME.txt").decode("utf-8")
    assert "book/index.html" in open_me and "book/slides/index.html" in open_me
    assert "jupyter lab" in open_me and "colab.research.google.com" in open_me and "Upload notebook" in open_me


def test_rebuild_replaces_the_archive_and_leaves_no_partial_file(bundle, inputs):
    inputs["out"].parent.mkdir(parents=True)
    inputs["out"].write_bytes(b"an old, broken archive")
    (inputs["notebooks"] / "01_intro.ipynb").unlink()
    out = build(bundle, inputs)
    with zipfile.ZipFile(out) as archive:
        notebooks = [n for n in archive.namelist() if n.startswith(f"{TOP}/notebooks/")]
    assert notebooks == [f"{TOP}/notebooks/00_setup_check.ipynb"]
    assert [p.name for p in out.parent.iterdir()] == [out.name]


def test_open_me_mentions_slides_only_when_the_site_has_them(bundle, inputs):
    (inputs["html"] / "slides" / "index.html").unlink()
    with zipfile.ZipFile(build(bundle, inputs)) as archive:
        open_me = archive.read(f"{TOP}/OPEN_ME.txt").decode("utf-8")
    assert "book/slides" not in open_me and "book/index.html" in open_me


def test_html_dir_without_index_is_refused(bundle, inputs):
    (inputs["html"] / "index.html").unlink()
    with pytest.raises(bundle.BundleError) as err:
        build(bundle, inputs)
    message = str(err.value)
    assert "html_dir" in message and "index.html" in message and str(inputs["html"]) in message
    assert "without index.html" in message   # what came: a folder, but not a built book
    assert not inputs["out"].exists()
    with pytest.raises(bundle.BundleError, match="html_dir.*no such folder"):
        bundle.make_bundle(inputs["html"] / "missing", inputs["notebooks"], inputs["readme"], inputs["out"])


def test_notebooks_dir_without_notebooks_is_refused(bundle, inputs):
    for nb in inputs["notebooks"].glob("*.ipynb"):
        nb.unlink()   # only the checkpoint and scratch.py are left: they do not count
    with pytest.raises(bundle.BundleError) as err:
        build(bundle, inputs)
    message = str(err.value)
    assert "notebooks_dir" in message and ".ipynb" in message and str(inputs["notebooks"]) in message
    assert "no .ipynb file" in message
    assert not inputs["out"].exists()
    assert issubclass(bundle.BundleError, ValueError)


def test_command_line(bundle, inputs, capsys):
    args = ["--html", str(inputs["html"]), "--notebooks", str(inputs["notebooks"]),
            "--readme", str(inputs["readme"]), "--out", str(inputs["out"])]
    assert bundle.main(args) == 0
    assert "7 files" in capsys.readouterr().out and zipfile.is_zipfile(inputs["out"])
    assert bundle.main(["--html", str(inputs["html"] / "nowhere"), *args[2:]]) == 2
    assert "html_dir" in capsys.readouterr().err
