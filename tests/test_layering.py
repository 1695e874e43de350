"""The layering of DESIGN.md, checked on the source: lower layers never import higher ones.

Every ``import`` of an ``attnlab`` module is read from the syntax tree of every file of the
package, at module level and inside functions alike (a lazy import is still a dependency).
Docstrings and comments do not count.

The layers, lowest first (a module may import its own layer and the layers below it):

====  =========================================================================================
0     base utilities: ``attnlab`` (the package), ``attnlab._lazy``, ``attnlab.bench`` (timing,
      environment, JSON), ``attnlab.book``, ``attnlab.profiles``
1     ``attnlab.attention`` and ``attnlab.data``, independent of each other
2     detection geometry: ``attnlab.detection`` (the package), ``.anchors``, ``.boxes``,
      ``.decode``, ``.loss``: tensors in, tensors out, no model
3     ``attnlab.models``: may use attention (its blocks) and the detection geometry (anchors)
4     detection tools that wrap a model: ``attnlab.detection.predictor``, ``.export``
====  =========================================================================================

The detection package is two layers because ``models.yolo`` takes its anchors from
``detection.anchors`` while ``detection.predictor`` runs a model: neither direction is a cycle,
and no detection module below the model imports one above it.

Above these (metrics, viz, train, experiments, exercises, the command line) only the absence of
cycles is checked.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "attnlab"

BASE = {"attnlab", "attnlab._lazy", "attnlab.bench", "attnlab.book", "attnlab.profiles"}
GEOMETRY = {"attnlab.detection", "attnlab.detection.anchors", "attnlab.detection.boxes",
            "attnlab.detection.decode", "attnlab.detection.loss"}
TOOLS = {"attnlab.detection.predictor", "attnlab.detection.export"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


MODULES = _modules()


def _imports(path: Path) -> set[str]:
    """The attnlab modules ``path`` imports (``from pkg import sub`` counts as ``pkg.sub``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in MODULES else node.module
                     for a in node.names]
        else:
            continue
        for name in names:
            if name == "attnlab" or name.startswith("attnlab."):
                while name not in MODULES:  # an attribute path: the module that holds it
                    name = name.rsplit(".", 1)[0]
                found.add(name)
    return found


GRAPH = {name: _imports(path) - {name} for name, path in MODULES.items()}


def layer(module: str) -> str:
    if module in BASE:
        return "base"
    if module in GEOMETRY:
        return "detection geometry"
    if module in TOOLS:
        return "detection tools"
    return module.split(".")[1]


# layer -> the layers its modules may import (besides their own)
ALLOWED: dict[str, set[str]] = {
    "base": set(),
    "attention": {"base"},
    "data": {"base"},
    "detection geometry": {"base"},
    "models": {"base", "attention", "detection geometry"},
    "detection tools": {"base", "detection geometry", "models", "data"},
}


@pytest.mark.parametrize("checked", sorted(ALLOWED))
def test_lower_layers_never_import_higher_ones(checked):
    bad = []
    for module, imported in GRAPH.items():
        if layer(module) != checked:
            continue
        for other in sorted(imported):
            if layer(other) != checked and layer(other) not in ALLOWED[checked]:
                bad.append(f"{module} imports {other} ({layer(other)})")
    assert not bad, "\n".join(bad)


def test_every_checked_layer_has_modules():
    """The table above names real modules (a rename must not empty a layer silently)."""
    present = {layer(m) for m in GRAPH}
    assert set(ALLOWED) <= present
    assert BASE | GEOMETRY | TOOLS <= set(GRAPH)


def test_no_import_cycles_anywhere_in_the_package():
    """No module reaches itself through imports (e.g. data.shapes <-> data.voc once did).

    A package's ``__init__`` importing its own sub-modules is not a cycle by itself; a
    sub-module importing a sibling through the package (``from attnlab.attention import
    _common``) resolves to that sibling, not to the ``__init__``.
    """
    cycles = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for n in sorted(GRAPH.get(m, ())):
            if n.startswith(m + "."):
                continue  # a package importing its own sub-modules
            if state.get(n) == 1:
                cycles.append(" -> ".join(stack[stack.index(n):] + [n]))
            elif n not in state:
                visit(n)
        stack.pop()
        state[m] = 2

    for m in sorted(GRAPH):
        if m not in state:
            visit(m)
    assert not cycles, "\n".join(cycles)


def test_the_checker_sees_lazy_and_from_imports(tmp_path):
    """The parser counts an import inside a function and resolves ``from pkg import sub``."""
    src = tmp_path / "m.py"
    src.write_text("def f():\n    from attnlab.data import voc\n    from attnlab.models.yolo import YoloV4Tiny\n"
                   "'''from attnlab.train import trainer'''\n")
    assert _imports(src) == {"attnlab.data.voc", "attnlab.models.yolo"}


def test_no_module_imports_the_notebooks_or_tests():
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                assert not any(n.split(".")[0] in ("notebooks", "tests") for n in names), module
