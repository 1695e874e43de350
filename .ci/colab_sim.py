#!/usr/bin/env python3
"""Run chapters as a new Google Colab user would (`make test-colab`).

    python .ci/colab_sim.py                       the default chapters (see DEFAULT)
    python .ci/colab_sim.py 03_cbam 08_from_notebook_to_use
    python .ci/colab_sim.py --all

For each notebook, in a fresh "runtime":

1. ``.venv-colab`` holds only what Colab preinstalls, pinned in ``.ci/colab/stack.txt`` (built
   once; rebuilt when that file changes). Anything installed there since (attnlab, torchinfo, ...)
   is uninstalled first, so every notebook starts from the bare stack, as a new runtime does.
2. ``google.colab`` is made importable (an empty module), so the notebook's first cell takes its
   Colab branch; its install command is run as written, with the repository URL pointed at
   attnlab's wheel, built once from this checkout as pip builds it from the repository on Colab
   (``attnlab @ git+https://...@main`` becomes ``attnlab @ file:///.../attnlab-VERSION-py3-none-any.whl``).
3. The notebook runs top to bottom in that environment's kernel, from an empty working folder
   (Colab's ``/content`` holds no checkout), with errors recorded rather than stopping the run.

Any cell that raises fails the run; the summary names the notebook, the cell and the error. The
executed notebooks are kept in ``_build/colab-sim/`` for a look.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv-colab"
STACK = ROOT / ".ci" / "colab" / "stack.txt"
OUT = ROOT / "_build" / "colab-sim"
KERNEL = "attnlab-colab-sim"
#: a setup check, a Part I chapter (1: widgets on Colab's ipywidgets 7, no training, so it is
#: quick) and a Part II chapter (6: it reads the detector nbval trained from the shared runs
#: folder), and Chapter 8, which reaches for optional packages (ONNX) and the network
DEFAULT = ("00_setup_check", "01_attention_intuition", "06_yolov4_tiny", "08_from_notebook_to_use")
URL = re.compile(r"git\+https://\S+?@main")
FAKE_COLAB = "import sys, types\nsys.modules.setdefault('google.colab', types.ModuleType('google.colab'))"


def run(*cmd: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(list(cmd), check=True, **kw)


def python() -> str:
    return str(VENV / "bin" / "python")


def ensure_venv() -> None:
    """Build .venv-colab from the stack file alone (once per stack version)."""
    stamp = VENV / ".stack.txt"
    if stamp.exists() and stamp.read_text() == STACK.read_text():
        return
    print(f"==> building {VENV.name} from {STACK.relative_to(ROOT)} (first run only)", flush=True)
    shutil.rmtree(VENV, ignore_errors=True)
    run(_base_python(), "-m", "venv", str(VENV))
    pip = [python(), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    torch = next(line for line in STACK.read_text().splitlines() if line.startswith("torch=="))
    run(*pip, torch)  # first and alone, so nothing pulls another build of it
    run(*pip, "-r", str(STACK))
    run(python(), "-m", "ipykernel", "install", "--prefix", str(VENV), "--name", KERNEL,
        stdout=subprocess.DEVNULL)
    frozen = run(python(), "-m", "pip", "freeze", capture_output=True, text=True).stdout
    (VENV / ".baseline.txt").write_text(frozen)
    stamp.write_text(STACK.read_text())


def _base_python() -> str:
    """The interpreter that made the main .venv (a venv is not built from another venv)."""
    cfg = ROOT / ".venv" / "pyvenv.cfg"
    if cfg.exists():
        for line in cfg.read_text().splitlines():
            if line.startswith("executable"):
                return line.split("=", 1)[1].strip()
    return shutil.which("python3") or sys.executable


def _names(freeze: str) -> set[str]:
    names = set()
    for line in freeze.splitlines():
        name = re.split(r"[=@ ]", line.strip(), maxsplit=1)[0].lower().replace("_", "-")
        if name and not name.startswith("#") and not name.startswith("-e"):
            names.add(name)
    return names


def reset_runtime() -> None:
    """Uninstall whatever an earlier notebook installed: back to the preinstalled stack."""
    now = run(python(), "-m", "pip", "freeze", capture_output=True, text=True).stdout
    extra = sorted(_names(now) - _names((VENV / ".baseline.txt").read_text()))
    if extra:
        run(python(), "-m", "pip", "uninstall", "--quiet", "-y", *extra)


def build_wheel() -> Path:
    """attnlab's wheel, built once from this checkout (what ``pip install git+...`` builds on Colab);
    every notebook's install cell installs it, instead of building it again."""
    folder = OUT / "wheel"
    shutil.rmtree(folder, ignore_errors=True)
    run(python(), "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check", "--no-deps",
        "-w", str(folder), str(ROOT), stdout=subprocess.DEVNULL)
    return next(folder.glob("attnlab-*.whl"))


def execute(name: str, source: Path, wheel: Path) -> tuple[int, int, list[str], float]:
    """Run one notebook as Colab would; returns (code cells, failed cells, errors, seconds)."""
    import nbformat
    from nbclient import NotebookClient

    path = source / f"{name}.ipynb"
    nb = nbformat.read(path, as_version=4)
    install = nb.cells[0]
    if "google.colab" not in install.source or not URL.search(install.source):
        return 0, 1, [f"{name}: the first cell is not a Colab install cell"], 0.0
    install.source = URL.sub(f"file://{wheel}", install.source)
    nb.cells.insert(0, nbformat.v4.new_code_cell(FAKE_COLAB))
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "ATTNLAB_PROFILE", "MPLBACKEND")}
    env["JUPYTER_PATH"] = str(VENV / "share" / "jupyter")
    env["PATH"] = f"{VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="content-") as content:
        client = NotebookClient(nb, kernel_name=KERNEL, timeout=900, allow_errors=True,
                                resources={"metadata": {"path": content}})
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(env)  # the kernel inherits this environment
        try:
            client.execute()
        finally:
            os.environ.clear()
            os.environ.update(saved)
    seconds = time.perf_counter() - start
    OUT.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, OUT / f"{name}.ipynb")
    code = [c for c in nb.cells[1:] if c.cell_type == "code"]
    errors = []
    for index, cell in enumerate(nb.cells[1:]):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                errors.append(f"{name} cell {index}: {out['ename']}: {out['evalue']}".strip()[:300])
    return len(code), len(errors), errors, seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", help="notebook names (without .ipynb)")
    parser.add_argument("--all", action="store_true", help="every notebook in notebooks/")
    parser.add_argument("--source", type=Path, default=ROOT / "notebooks",
                        help="folder to read the notebooks from (e.g. an older version's, to compare)")
    args = parser.parse_args(argv)
    names = ([p.stem for p in sorted(args.source.glob("*.ipynb"))] if args.all
             else [n.removesuffix(".ipynb").split("/")[-1] for n in args.notebooks] or list(DEFAULT))
    ensure_venv()
    wheel = build_wheel()
    failed = 0
    summary = {}
    for name in names:
        reset_runtime()
        n_code, n_failed, errors, seconds = execute(name, args.source, wheel)
        summary[name] = {"code_cells": n_code, "failed_cells": n_failed, "seconds": round(seconds, 1),
                         "errors": errors}
        status = "ok" if n_failed == 0 else f"{n_failed} of {n_code} code cells failed"
        print(f"==> colab-sim {name}: {status} in {seconds:.0f}s", flush=True)
        for line in errors[:5]:
            print(f"    {line}", flush=True)
        failed += n_failed
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
