"""Small helpers the chapters use for book-keeping, so that they run anywhere.

    from attnlab.book import glue
    glue("ch2_best_acc", 0.913, display=False)   # the page cites it as {glue:text}`ch2_best_acc`

The published book is built with MyST-NB, whose ``glue`` stores a value in the notebook's output so
that the prose can quote it. A learner's runtime (Google Colab, a plain Jupyter) has no MyST-NB,
and needs none: there :func:`glue` shows the value when asked to (``display=True``, as MyST-NB
does) and otherwise does nothing.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

__all__ = ["glue", "optional_import", "MissingDependency"]


class MissingDependency(ImportError):
    """An optional package is not installed; the message names the command that installs it."""


def optional_import(module: str, *, extra: str, purpose: str) -> Any:
    """Import ``module`` or raise :class:`MissingDependency` naming the install command.

    Args:
        module: the module to import, e.g. ``"onnx"``.
        extra: the attnlab extra that brings it, e.g. ``"export"``.
        purpose: what needs it, for the message, e.g. ``"export_onnx"``.
    """
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise MissingDependency(
            f"{purpose} needs the optional package {module!r}, which is not installed; "
            f'install it with: pip install "attnlab[{extra}]"'
        ) from e


def _myst_glue() -> Callable[..., Any] | None:
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        return None
    return myst_glue


def glue(name: str, value: Any, display: bool = True) -> None:
    """Make ``value`` citable in the book's prose as ``name`` (MyST-NB's ``glue``).

    Args:
        name: the key the prose uses (``{glue:text}`name```).
        value: any object with a text, HTML or image representation (a number, a figure, ...).
        display: also show the value in the notebook, where the code ran.

    Without MyST-NB installed nothing is stored (there is no book to cite it), and the value is
    shown only when ``display`` is true.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"glue: name must be a non-empty string, got {name!r}")
    myst_glue = _myst_glue()
    if myst_glue is not None:
        myst_glue(name, value, display=display)
    elif display:
        from IPython.display import display as show

        show(value)
