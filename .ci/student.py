#!/usr/bin/env python3
"""The student edition without solutions in any form: notebooks, the built site, the bundle.

    python .ci/student.py notebooks SRC OUT     write SRC/*.ipynb to OUT/ without solutions
    python .ci/student.py site HTML             strip a built student site in place (see below)
    python .ci/student.py check PATH...         fail if a notebook, site or zip holds a solution

A solution is a ``{solution}`` block of a markdown cell (MyST: a fence of four or more backticks
opening with ``{solution} label`` and closed by the same fence on a line of its own). The page
itself already leaves them out (``make book-student`` sets ``hide_solutions``); what also reaches
a student is

- the notebook behind the page's download button (``_sources/**/*.ipynb`` of the built site),
- the notebook a Colab link opens (``make book-student`` points those links at the ``student``
  branch, which the publishing workflow fills with ``OUT`` of the first command),
- the notebooks of the offline bundle (``make bundle-student``).

``site`` rewrites the first two in a built site; ``check`` looks for what would betray a solution:
a ``{solution`` directive in a notebook or source file, or an element of class ``solution`` in a
page.
"""

from __future__ import annotations

import json
import re
import sys
import zipfile
from pathlib import Path

OPEN = re.compile(r"^(?P<fence>`{3,}|:{3,})\{solution\}")
#: what the built pages contain for a solution (sphinx-exercise's container)
HTML_SOLUTION = re.compile(r"""class="[^"]*\bsolution\b""")
COLAB = re.compile(r"(https://colab\.research\.google\.com/github/[^/\s\"']+/[^/\s\"']+/blob/)main/")
STUDENT_BRANCH = "student"


def strip_solutions(text: str) -> tuple[str, int]:
    """``text`` without its ``{solution}`` blocks, and how many were removed.

    Raises:
        ValueError: a block is opened and never closed (the notebook is malformed; nothing is
            guessed).
    """
    lines = text.split("\n")
    out, removed, i = [], 0, 0
    while i < len(lines):
        m = OPEN.match(lines[i])
        if not m:
            out.append(lines[i])
            i += 1
            continue
        fence = m.group("fence")
        end = next((j for j in range(i + 1, len(lines)) if lines[j].strip() == fence), None)
        if end is None:
            raise ValueError(f"strip_solutions: the {{solution}} block opened on line {i + 1} "
                             f"({lines[i]!r}) is never closed by {fence!r}")
        removed += 1
        i = end + 1
        while out and i < len(lines) and not out[-1].strip() and not lines[i].strip():
            i += 1                       # no double blank line where the block was
    return "\n".join(out), removed


def student_notebook(nb: dict) -> tuple[dict, int]:
    """A copy of the notebook ``nb`` (nbformat 4 JSON) without solutions; cells left empty go."""
    cells, removed = [], 0
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            text, n = strip_solutions("".join(cell["source"]))
            removed += n
            if n:
                if not text.strip():
                    continue
                lines = text.split("\n")
                cell = {**cell, "source": [line + "\n" for line in lines[:-1]] + [lines[-1]]}
        cells.append(cell)
    return {**nb, "cells": cells}, removed


def write_student_notebooks(src: Path, out: Path) -> dict[str, int]:
    """Every ``src/*.ipynb`` to ``out/`` without solutions; returns name -> solutions removed."""
    notebooks = sorted(src.glob("*.ipynb"))
    if not notebooks:
        raise ValueError(f"write_student_notebooks: src must hold .ipynb notebooks, got none in {src}")
    out.mkdir(parents=True, exist_ok=True)
    counts = {}
    for path in notebooks:
        nb, counts[path.name] = student_notebook(json.loads(path.read_text()))
        (out / path.name).write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    return counts


def strip_site(html: Path) -> dict[str, int]:
    """In a built student site: strip the downloadable notebooks and point Colab links at the
    ``student`` branch. Returns counts of what was changed."""
    if not (html / "index.html").is_file():
        raise ValueError(f"strip_site: html must be a built site with index.html, got {html}")
    counts = {"notebooks": 0, "solutions": 0, "colab_links": 0}
    for path in sorted((html / "_sources").rglob("*.ipynb")) if (html / "_sources").is_dir() else []:
        nb, n = student_notebook(json.loads(path.read_text()))
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
        counts["notebooks"] += 1
        counts["solutions"] += n
    for page in sorted(html.rglob("*.html")):
        text = page.read_text(encoding="utf-8")
        new, n = COLAB.subn(rf"\g<1>{STUDENT_BRANCH}/", text)
        if n:
            page.write_text(new, encoding="utf-8")
            counts["colab_links"] += n
    return counts


def leaks(path: Path) -> list[str]:
    """Where ``path`` (a notebook, a folder, a built site or a zip) would show a solution."""
    found = []

    def look(name: str, data: str) -> None:
        if name.endswith((".ipynb", ".md", ".txt")) and "{solution}" in data:
            found.append(f"{name}: a {{solution}} block")
        elif name.endswith(".html") and HTML_SOLUTION.search(data):
            found.append(f"{name}: an element of class 'solution'")
        if name.endswith(".html") and re.search(r"colab\.research\.google\.com/github/[^\"']+/blob/main/", data):
            found.append(f"{name}: a Colab link to the main branch (its notebooks hold the solutions)")

    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                if name.endswith((".ipynb", ".md", ".txt", ".html")):
                    look(name, archive.read(name).decode("utf-8", "replace"))
    elif path.is_dir():
        for file in sorted(path.rglob("*")):
            if file.is_file() and file.suffix in (".ipynb", ".md", ".txt", ".html"):
                look(str(file), file.read_text(encoding="utf-8", errors="replace"))
    else:
        look(str(path), path.read_text(encoding="utf-8", errors="replace"))
    return found


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("notebooks", "site", "check"):
        print(__doc__)
        return 2
    if argv[0] == "notebooks" and len(argv) == 3:
        counts = write_student_notebooks(Path(argv[1]), Path(argv[2]))
        print(f"==> {len(counts)} student notebooks in {argv[2]}, {sum(counts.values())} solutions left out")
        return 0
    if argv[0] == "site" and len(argv) == 2:
        counts = strip_site(Path(argv[1]))
        print(f"==> student site: {counts['notebooks']} downloadable notebooks stripped "
              f"({counts['solutions']} solutions), {counts['colab_links']} Colab links to the student branch")
        return 0
    if argv[0] == "check" and len(argv) >= 2:
        found = [leak for p in argv[1:] for leak in leaks(Path(p))]
        for leak in found[:20]:
            print(f"    {leak}")
        print(f"==> {'no solution' if not found else f'{len(found)} solution leak(s)'} in {' '.join(argv[1:])}")
        return 1 if found else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
