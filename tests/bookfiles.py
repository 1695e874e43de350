"""Where the book's pages and notebooks are, read from _toc.yml and notebooks/ (no hand lists)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import yaml

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
BUILD_HTML = ROOT / "_build" / "html"


def toc_files() -> list[str]:
    """Every document of _toc.yml, in reading order, without suffix (e.g. 'book/preface')."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    return files


def config() -> dict:
    return yaml.safe_load((ROOT / "_config.yml").read_text())


def ci_script(name: str) -> ModuleType:
    """``.ci/<name>.py`` imported as a module (the scripts live in a dot-folder, not a package)."""
    spec = importlib.util.spec_from_file_location(f"ci_{name}", ROOT / ".ci" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
