"""pytest plugin: keep what nbval executes, so the book build does not execute it again.

nbval runs every notebook once in a real kernel and compares each cell's outputs with the ones
stored in the notebook. This plugin collects the outputs it produced (plus the ipywidgets state,
read from the same kernel before nbval shuts it down) and stores the executed notebook in the
book's jupyter-cache (``--nbcache DIR``). ``jupyter-book build`` runs with
``execute_notebooks: cache``, finds the notebook there by the hash of its code cells, and renders
these outputs instead of executing the notebook a second time.

A notebook with any failed or skipped cell is not stored: the book build then executes it
itself and fails loudly if it raises.
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from queue import Empty

import nbformat
import pytest

_WIDGET_STATE_CODE = """
import json as _attnlab_json
try:
    import ipywidgets as _attnlab_w
    print(_attnlab_json.dumps(_attnlab_w.Widget.get_manager_state(drop_defaults=True)))
except Exception:
    print("{}")
"""


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--nbcache",
        default=None,
        metavar="DIR",
        help="store the notebooks nbval executes in this jupyter-cache folder",
    )


class _Run:
    """What one notebook's nbval run produced so far."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.ok = True


_runs: dict[int, _Run] = {}


def _is_nbval_cell(item: pytest.Item) -> bool:
    return type(item).__name__ == "IPyNbCell"


def pytest_runtest_setup(item: pytest.Item) -> None:
    if _is_nbval_cell(item):
        _runs.setdefault(id(item.parent), _Run())


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    if _is_nbval_cell(item) and (report.failed or report.skipped):
        _runs.setdefault(id(item.parent), _Run()).ok = False


def _to_nbformat(outputs: list) -> list:
    """nbval's raw iopub outputs -> nbformat outputs, merging consecutive stream chunks."""
    merged: list = []
    for out in outputs or []:
        kind = out.get("output_type")
        if kind == "stream":
            if merged and merged[-1]["output_type"] == "stream" and merged[-1]["name"] == out["name"]:
                merged[-1]["text"] += out["text"]
            else:
                merged.append(nbformat.v4.new_output("stream", name=out["name"], text=out["text"]))
        elif kind == "display_data":
            merged.append(nbformat.v4.new_output("display_data", data=out["data"], metadata=out.get("metadata", {})))
        elif kind == "execute_result":
            merged.append(
                nbformat.v4.new_output(
                    "execute_result",
                    data=out["data"],
                    metadata=out.get("metadata", {}),
                    execution_count=out.get("execution_count"),
                )
            )
        elif kind == "error":
            merged.append(
                nbformat.v4.new_output("error", ename=out["ename"], evalue=out["evalue"], traceback=out["traceback"])
            )
    return merged


def _widget_state(nb_file) -> dict:
    """Ask the still-running kernel for the ipywidgets manager state (empty if none)."""
    kernel = getattr(nb_file, "kernel", None)
    if kernel is None or not kernel.is_alive():
        return {}
    msg_id = kernel.execute_cell_input(_WIDGET_STATE_CODE, allow_stdin=False)
    try:
        kernel.await_reply(msg_id, timeout=60)
    except Empty:
        return {}
    text = ""
    while True:
        try:
            msg = nb_file.get_kernel_message(timeout=10)
        except Empty:
            break
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "stream":
            text += msg["content"]["text"]
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            break
    try:
        state = json.loads(text.strip() or "{}")
    except json.JSONDecodeError:
        return {}
    return state if state.get("state") else {}


def _store(nb_file, cache_dir: str, seconds: float) -> None:
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    nb = copy.deepcopy(nb_file.nb)  # the notebook nbval read when collecting; no second read
    executed = {item.cell_num: item for item in nb_file.session.items if getattr(item, "parent", None) is nb_file}
    count = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        item = executed.get(count)
        count += 1
        if item is None or item.test_outputs is None:
            return  # not every cell ran: leave execution to the book build
        cell.outputs = _to_nbformat(item.test_outputs)
        cell.execution_count = count
    state = _widget_state(nb_file)
    if state:
        nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": state}
    cache = get_cache(cache_dir)
    uri = str(Path(nb_file.fspath).resolve())
    cache.cache_notebook_bundle(
        CacheBundleIn(nb, uri, data={"execution_seconds": seconds}), check_validity=False, overwrite=True
    )


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """After a notebook's last cell, while its kernel still runs, store the executed notebook."""
    if not _is_nbval_cell(item):
        return
    if nextitem is not None and getattr(nextitem, "parent", None) is item.parent:
        return
    cache_dir = item.config.getoption("--nbcache")
    run = _runs.pop(id(item.parent), None)
    if not cache_dir or run is None or not run.ok:
        return
    _store(item.parent, cache_dir, time.perf_counter() - run.start)
