#!/usr/bin/env python3
"""Build one reveal.js slide deck per chapter from the executed notebooks (``make slides``).

Which cells become slides: cells tagged ``slides`` (a markdown cell that starts with a heading
opens a new slide, other tagged cells join the current one; a cell may also set its own
``slideshow.slide_type``). A notebook with no tagged cell falls back to its headings and the
figures under them. Code is hidden; outputs are the ones stored in the notebook.

Decks are written to ``_build/slides_extra/slides/NN_name.slides.html``; the book copies that
folder into the site (``html_extra_path``), so the decks are served from ``_build/html/slides/``
and load reveal.js, MathJax and require.js from the book's own ``_static`` folder.
"""

from __future__ import annotations

import copy
import re
import sys
from pathlib import Path

import nbformat
from nbconvert import SlidesExporter

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "_build" / "slides_extra" / "slides"
TEMPLATES = ROOT / "book" / "_slides"
STATIC = "../_static"


def _bibliography() -> dict[str, str]:
    """citation key -> "Author et al. year", read from references.bib (enough for slides)."""
    text = (ROOT / "references.bib").read_text()
    labels = {}
    for key, body in re.findall(r"@\w+\{([^,]+),(.*?)\n\}", text, flags=re.S):
        author = re.search(r"author\s*=\s*\{(.+?)\},?\n", body, flags=re.S)
        year = re.search(r"year\s*=\s*\{(\d+)\}", body)
        names = [a.split(",")[0].strip("{} ") for a in (author.group(1) if author else key).split(" and ")]
        who = names[0] + (" et al." if len(names) > 2 else f" and {names[1]}" if len(names) == 2 else "")
        labels[key.strip()] = f"{who} {year.group(1) if year else ''}".strip()
    return labels


def _glued(nb) -> dict[str, str]:
    """glue name -> its text, from the notebook's stored outputs."""
    values = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            name = out.get("metadata", {}).get("scrapbook", {}).get("name")
            if name:
                data = out.get("data", {})
                text = next((v for k, v in data.items() if k.endswith("text/plain")), "")
                values[name] = str(text).strip("'\"")
    return values


ADMONITIONS = ("note", "tip", "warning", "important", "caution", "attention", "hint", "seealso")


EQ_LABEL = re.compile(r"\$\$\s*\(([\w:-]+)\)")


def equation_numbers(nb) -> dict[str, int]:
    """label -> number of each labelled display equation, numbered per page in order, as the book
    numbers them (``math_numfig: false``: (1), (2), ... on each page)."""
    labels = [m.group(1) for c in nb.cells if c.cell_type == "markdown" for m in EQ_LABEL.finditer(c.source)]
    return {label: i for i, label in enumerate(dict.fromkeys(labels), start=1)}


def myst_to_markdown(source: str, bib: dict[str, str], glue: dict[str, str], eqs: dict[str, int] | None = None) -> str:
    """Rewrite MyST roles and directives that plain Markdown (the slides) cannot show.

    Equation references become the equation's number, ``(3)``, and a labelled display equation
    carries the same number as a ``\\tag``, so slides and book agree.
    """
    eqs = eqs or {}

    def cite(m):
        return "(" + "; ".join(bib.get(k.strip(), k.strip()) for k in m.group(1).split(",")) + ")"

    def glue_value(m):
        name = m.group(1).split(":")[0]
        return glue.get(name, name)

    def target_text(m):
        text = m.group(1)
        inner = re.match(r"(.+?)\s*<.+>$", text)
        return inner.group(1) if inner else text

    source = re.sub(r"\{cite(?::\w+)?\}`([^`]+)`", cite, source)
    source = re.sub(r"\{glue(?::\w+)?\}`([^`]+)`", glue_value, source)
    source = re.sub(r"\{eq\}`([^`]+)`", lambda m: f"({eqs[m.group(1)]})" if m.group(1) in eqs else "the equation", source)
    source = re.sub(
        r"\$\$((?:(?!\$\$).)*?)\$\$\s*\(([\w:-]+)\)",
        lambda m: f"$${m.group(1).rstrip()} \\tag{{{eqs[m.group(2)]}}}$$" if m.group(2) in eqs else f"$${m.group(1)}$$",
        source,
        flags=re.S,
    )
    source = re.sub(r"\{\w+(?::\w+)?\}`([^`]+)`", target_text, source)

    def directive(m):
        name, body = m.group(2), m.group(4)
        body = "\n".join(l for l in body.splitlines() if not l.startswith(":"))
        if name in ADMONITIONS:
            return "\n".join("> " + l for l in [f"**{name.capitalize()}.**", *body.strip().splitlines()])
        return ""  # exercises, solutions, figures by directive: not on slides

    return re.sub(r"(`{3,}|:{3,})\{([\w-]+)\}([^\n]*)\n(.*?)\n\1", directive, source, flags=re.S)


def _is_heading(cell) -> bool:
    return cell.cell_type == "markdown" and cell.source.lstrip().startswith("#")


def _has_figure(cell) -> bool:
    return cell.cell_type == "code" and any("image/png" in o.get("data", {}) for o in cell.get("outputs", []))


def select_slides(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` whose cells carry reveal.js slide types; unselected cells are skipped."""
    deck = copy.deepcopy(nb)
    bib, glue, eqs = _bibliography(), _glued(nb), equation_numbers(nb)
    for cell in deck.cells:
        if cell.cell_type == "markdown":
            cell.source = myst_to_markdown(cell.source, bib, glue, eqs)
    tagged = any("slides" in c.metadata.get("tags", []) for c in deck.cells)
    figure_taken = False
    for cell in deck.cells:
        show = "slides" in cell.metadata.get("tags", []) if tagged else (
            _is_heading(cell) or (_has_figure(cell) and not figure_taken)
        )
        if not tagged:
            figure_taken = False if _is_heading(cell) else (figure_taken or (show and _has_figure(cell)))
        own = cell.metadata.get("slideshow", {}).get("slide_type")
        if not show:
            slide_type = "skip"
        elif own:
            slide_type = own
        else:
            slide_type = "slide" if _is_heading(cell) else "-"
        cell.metadata["slideshow"] = {"slide_type": slide_type}
        if cell.cell_type == "code":
            cell.metadata.setdefault("tags", [])
    return deck


def build(paths: list[Path]) -> list[Path]:
    exporter = SlidesExporter(
        template_name="attnlab_reveal",
        extra_template_basedirs=[str(TEMPLATES)],
        reveal_url_prefix=f"{STATIC}/reveal.js",
        reveal_theme="white",
        reveal_scroll=True,
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    exporter.require_js_url = f"{STATIC}/widgets/require.min.js"
    exporter.mathjax_url = f"{STATIC}/mathjax/tex-chtml.js"
    OUT.mkdir(parents=True, exist_ok=True)
    written = []
    for path in paths:
        deck = select_slides(nbformat.read(path, as_version=4))
        deck.metadata.pop("widgets", None)  # widgets need a kernel; slides show figures
        body, _ = exporter.from_notebook_node(deck, resources={"metadata": {"name": path.stem}})
        target = OUT / f"{path.stem}.slides.html"
        target.write_text(body)
        written.append(target)
    return written


def write_index(decks: list[Path]) -> Path:
    """A plain page listing every deck (the book's Slides page links to it)."""
    items = "\n".join(
        f'    <li><a href="{d.name}">{d.name.removesuffix(".slides.html").replace("_", " ")}</a></li>' for d in decks
    )
    page = OUT / "index.html"
    page.write_text(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>attnlab slides</title>"
        "<link rel=\"icon\" href=\"data:,\">"
        "<style>body{font-family:sans-serif;max-width:40em;margin:3em auto;line-height:1.6}</style></head>\n"
        f"<body>\n  <h1>Slides, one deck per chapter</h1>\n  <ul>\n{items}\n  </ul>\n"
        "  <p>Arrow keys move between slides; <kbd>S</kbd> opens the speaker view; <kbd>Esc</kbd> shows an overview."
        " <a href=\"../book/teaching.html\">Back to the book</a>.</p>\n</body></html>\n"
    )
    return page


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    decks = build(paths)
    for target in decks:
        print(f"slides: {target.relative_to(ROOT)}")
    write_index(sorted(OUT.glob("*.slides.html")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
