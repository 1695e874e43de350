"""Every solution the book prints passes its checker, and every checker has a solution in the book.

The solutions live in the chapters' ``{solution}`` blocks (Markdown, so nbval never runs them);
this test takes their Python code out of the notebooks, runs it, and hands the learner-facing
function or class to the checker it names (``print(check_x(answer))``)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from attnlab import exercises

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SOLUTION = re.compile(r"````\{solution\} (?P<label>[\w-]+)\n(?P<body>.*?)\n````", re.S)
PYTHON = re.compile(r"```python\n(?P<code>.*?)\n```", re.S)
CHECK_CALL = re.compile(r"print\((?P<checker>check_\w+)\((?P<answer>\w+)\)\)")
#: solutions that do not end with the checker call themselves
IMPLICIT = {"ex-ap-by-hand": ("check_average_precision", "average_precision")}


def solutions() -> list[tuple[str, str, str, str, str]]:
    """``(notebook, label, code, checker, answer)`` for every solution that a checker judges."""
    found = []
    for path in NOTEBOOKS:
        nb = json.loads(path.read_text())
        text = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
        for m in SOLUTION.finditer(text):
            for block in PYTHON.finditer(m["body"]):
                code = block["code"]
                call = CHECK_CALL.search(code)
                if call:
                    found.append((path.name, m["label"], code, call["checker"], call["answer"]))
                elif m["label"] in IMPLICIT:
                    found.append((path.name, m["label"], code, *IMPLICIT[m["label"]]))
    return found


SOLVED = solutions()


def test_every_checker_has_a_solution_in_the_book():
    checkers = {name for name in exercises.__all__ if name.startswith("check_")}
    assert checkers - {s[3] for s in SOLVED} == set()


@pytest.mark.parametrize("notebook,label,code,checker,answer", SOLVED, ids=[s[1] for s in SOLVED])
def test_the_printed_solution_passes_its_checker(notebook, label, code, checker, answer):
    namespace: dict = {name: getattr(exercises, name) for name in exercises.__all__}
    exec(compile(code.replace(f"print({checker}({answer}))", ""), f"{notebook}:{label}", "exec"), namespace)
    result = getattr(exercises, checker)(namespace[answer])
    assert result.passed, f"{notebook} {label}: {result}"
