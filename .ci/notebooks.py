#!/usr/bin/env python3
"""Maintenance for the chapter notebooks (run through `make`; see the Makefile).

    python .ci/notebooks.py normalize      tidy metadata of every notebook, keep outputs
    python .ci/notebooks.py execute [NB..] execute notebooks in place (refresh stored outputs)
    python .ci/notebooks.py repo-url URL   point every Colab install cell and _config.yml at URL

normalize: the Colab install cell is tagged ``colab-install`` and ``remove-cell`` (it is noise on
the web page; the "How to use" page explains it), nbclient's timing metadata is dropped, the
python3 kernelspec is set, and cell ids are made stable so diffs stay small.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}
URL_IN_CELL = re.compile(r"(attnlab(?:\[[\w,-]+\])? @ git\+)(\S+?)@main")


def normalize(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nb.metadata["kernelspec"] = KERNELSPEC
    nb.metadata.setdefault("language_info", {"name": "python"})
    count = 0
    for index, cell in enumerate(nb.cells):
        cell.metadata.pop("execution", None)
        cell["id"] = f"c{index:03d}"
        if cell.cell_type == "code" and index > 0:
            # nbval refuses stored outputs of a cell that never ran (execution_count None)
            count += 1
            cell.execution_count = count
            for out in cell.outputs:
                if out.get("output_type") == "execute_result":
                    out["execution_count"] = count
        if index == 0 and cell.cell_type == "code":
            tags = cell.metadata.setdefault("tags", [])
            for tag in ("colab-install", "remove-cell"):
                if tag not in tags:
                    tags.append(tag)
            cell.outputs = []
            cell.execution_count = None
    nbformat.write(nb, path)


def execute(paths: list[Path]) -> None:
    import os
    import tempfile

    # saved experiment runs (attnlab.experiments.runs) go to a fresh folder unless one is named:
    # stored outputs come from runs trained now, not from an earlier session's
    if not os.environ.get("ATTNLAB_RUNS_DIR"):
        os.environ["ATTNLAB_RUNS_DIR"] = tempfile.mkdtemp(prefix="attnlab-runs-")
    for path in paths:
        print(f"executing {path.name} ...", flush=True)
        subprocess.run(
            [sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute", "--inplace",
             "--ExecutePreprocessor.timeout=900", path.name],
            cwd=path.parent, check=True,
        )
        normalize(path)


def repo_url(url: str) -> None:
    url = url.rstrip("/")
    if not re.fullmatch(r"https://[\w.-]+/[\w.-]+/[\w.-]+", url):
        raise SystemExit(f"repo-url: expected https://host/owner/name, got {url!r}")
    config = ROOT / "_config.yml"
    text = config.read_text()
    text = re.sub(r"(repository:\n  url: )\S+", lambda m: m.group(1) + url, text)
    config.write_text(text)
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        cell = nb.cells[0]
        cell.source = URL_IN_CELL.sub(lambda m: f"{m.group(1)}{url}@main", cell.source)
        nbformat.write(nb, path)
    readme = ROOT / "README.md"
    readme.write_text(URL_IN_CELL.sub(lambda m: f"{m.group(1)}{url}@main", readme.read_text()))
    print(f"repository URL set to {url} in _config.yml, README.md and {len(NOTEBOOKS)} notebooks")


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("normalize", "execute", "repo-url"):
        print(__doc__)
        return 2
    if argv[0] == "normalize":
        for path in NOTEBOOKS:
            normalize(path)
    elif argv[0] == "execute":
        execute([Path(p).resolve() for p in argv[1:]] or NOTEBOOKS)
    else:
        if len(argv) != 2:
            raise SystemExit("usage: notebooks.py repo-url https://github.com/OWNER/NAME")
        repo_url(argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
