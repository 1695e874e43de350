#!/usr/bin/env python3
"""Pack the built book and the chapter notebooks into one zip for offline classrooms (``make bundle``).

    python .ci/bundle.py [--html _build/html] [--notebooks notebooks] [--readme README.md]
                         [--out _build/attnlab-book.zip]

The archive unpacks into one folder::

    attnlab-book/
        OPEN_ME.txt      what to open, in plain words
        README.md
        book/            the built HTML site (book/index.html; slide decks in book/slides/)
        notebooks/       the chapters, *.ipynb only (no checkpoints, no other files)

Nothing in it needs a network: the site serves MathJax, reveal.js and the widget manager itself.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOP = "attnlab-book"

OPEN_ME = """\
attnlab: attention in CNNs, from Squeeze-and-Excitation to YOLOv4-tiny
=======================================================================

The book works without a network connection.

THE BOOK
  Open book/index.html in a web browser (double-click it, or drag it onto a
  browser window). Every page, figure and equation is inside this folder.
{slides}
THE NOTEBOOKS
  notebooks/ holds the chapters as Jupyter notebooks (.ipynb), with their
  outputs stored, so they can be read without running them.

  - With Jupyter on your computer: start `jupyter lab` (or `jupyter notebook`)
    in this folder and open notebooks/00_setup_check.ipynb first. To run the
    chapters you need the attnlab package; README.md says how to install it.
  - In Google Colab: open https://colab.research.google.com, choose
    File > Upload notebook and pick a file from notebooks/. Its first cell
    installs attnlab (Colab needs internet). For the chapters that train, choose
    Runtime > Change runtime type > GPU first.

README.md describes the project and how to build the book yourself.
"""

SLIDES_LINE = """\
  Slides, one deck per chapter: open book/slides/index.html (arrow keys move,
  S opens the speaker view, Esc shows an overview).
"""


class BundleError(ValueError):
    """An input of :func:`make_bundle` is missing or is not what the bundle needs."""


def _zip_time(path: Path) -> tuple[int, int, int, int, int, int]:
    # zip stores local time from 1980 on; clamp older files (e.g. SOURCE_DATE_EPOCH=0 builds)
    return time.localtime(max(path.stat().st_mtime, 315532800 + 86400))[:6]


def _add(archive: zipfile.ZipFile, name: str, data: bytes | str, stamp_from: Path) -> None:
    """Store ``data`` as ``name`` (deflated, mode 644), dated like the file ``stamp_from``."""
    info = zipfile.ZipInfo(name, date_time=_zip_time(stamp_from))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    archive.writestr(info, data)


def _add_file(archive: zipfile.ZipFile, source: Path, name: str) -> None:
    _add(archive, name, source.read_bytes(), source)


def make_bundle(html_dir: str | os.PathLike, notebooks_dir: str | os.PathLike, readme: str | os.PathLike,
                out_zip: str | os.PathLike) -> Path:
    """Write ``out_zip``: the book, the notebooks and README.md under one ``attnlab-book/`` folder.

    Args:
        html_dir: the built site (``_build/html``); must contain ``index.html``. Every file under
            it goes to ``attnlab-book/book/``.
        notebooks_dir: the folder of chapter notebooks; its ``*.ipynb`` files (not subfolders such
            as ``.ipynb_checkpoints``) go to ``attnlab-book/notebooks/``. There must be at least one.
        readme: the README file, stored as ``attnlab-book/README.md``.
        out_zip: the archive to write; its folder is created, an existing file is replaced. The
            zip is written next to it first and renamed, so a failed run leaves no half archive.

    Returns:
        The path of the archive written.

    Raises:
        BundleError: an input is missing or empty (the message names the argument, what was
            expected and what was found).
    """
    html_dir, notebooks_dir, readme, out_zip = (Path(p) for p in (html_dir, notebooks_dir, readme, out_zip))
    if not (html_dir / "index.html").is_file():
        found = "no such folder" if not html_dir.is_dir() else (
            f"a folder without index.html ({len(list(html_dir.iterdir()))} entries)")
        raise BundleError(
            f"make_bundle: html_dir must be a built book folder containing index.html (run `make book`); "
            f"got {html_dir}: {found}")
    notebooks = sorted(p for p in notebooks_dir.glob("*.ipynb") if p.is_file()) if notebooks_dir.is_dir() else []
    if not notebooks:
        found = "no such folder" if not notebooks_dir.is_dir() else "a folder with no .ipynb file in it"
        raise BundleError(
            f"make_bundle: notebooks_dir must be a folder with at least one .ipynb notebook; "
            f"got {notebooks_dir}: {found}")
    if not readme.is_file():
        raise BundleError(f"make_bundle: readme must be an existing file (README.md); got {readme}: no such file")

    site = sorted(p for p in html_dir.rglob("*") if p.is_file())
    slides = SLIDES_LINE if (html_dir / "slides" / "index.html").is_file() else ""
    out_zip.parent.mkdir(parents=True, exist_ok=True)
    partial = out_zip.with_name(out_zip.name + ".partial")
    try:
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            _add(archive, f"{TOP}/OPEN_ME.txt", OPEN_ME.format(slides=slides), readme)
            _add_file(archive, readme, f"{TOP}/README.md")
            for path in site:
                _add_file(archive, path, f"{TOP}/book/{path.relative_to(html_dir).as_posix()}")
            for path in notebooks:
                _add_file(archive, path, f"{TOP}/notebooks/{path.name}")
        partial.replace(out_zip)
    finally:
        partial.unlink(missing_ok=True)
    return out_zip


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bundle.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--html", default=ROOT / "_build" / "html", type=Path, help="built site (default: %(default)s)")
    parser.add_argument("--notebooks", default=ROOT / "notebooks", type=Path, help="notebook folder (default: %(default)s)")
    parser.add_argument("--readme", default=ROOT / "README.md", type=Path, help="README (default: %(default)s)")
    parser.add_argument("--out", default=ROOT / "_build" / "attnlab-book.zip", type=Path,
                        help="archive to write (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        out = make_bundle(args.html, args.notebooks, args.readme, args.out)
    except BundleError as err:
        print(f"bundle: {err}", file=sys.stderr)
        return 2
    with zipfile.ZipFile(out) as archive:
        count = len(archive.namelist())
    shown = out.relative_to(ROOT) if out.is_relative_to(ROOT) else out
    print(f"==> {shown}: {count} files, {out.stat().st_size / 1e6:.1f} MB. Unzip it and open "
          f"{TOP}/book/index.html (or read {TOP}/OPEN_ME.txt); no network needed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
