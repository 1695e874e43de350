#!/usr/bin/env python3
"""Build one reveal.js slide deck per chapter from the executed notebooks (``make slides``).

Which cells become slides: cells tagged ``slides`` (a markdown cell that starts with a heading
opens a new slide, other tagged cells join the current one; a cell may also set its own
``slideshow.slide_type``). A notebook with no tagged cell falls back to its headings and the
figures under them. Code is hidden; outputs are the ones stored in the notebook.

Slides are designed from those cells (:func:`design_slides`), not copied: each heading opens a
slide that shows the title, the first sentence of its text, its equations, tables and images, and
its lists cut to five items of one sentence each; the whole prose goes into the slide's speaker
notes (the S key opens reveal.js's speaker view). A tagged code cell's output (a figure, a
printed table) gets a slide of its own under the section's title, with the page's next paragraph,
which usually reads the figure, as its notes. ``tests/test_site.py`` checks in a browser that no
slide overflows a 1280 x 720 screen and that every slide has notes.

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


MAX_ITEMS = 5  # list items shown on a slide; the rest are in the notes
MAX_LEAD = 220  # characters of a section's first sentence shown on its slide

_MASK = re.compile(r"\$\$.*?\$\$|\$[^$\n]+\$|`[^`]+`|\b(?:e\.g|i\.e|et al|vs|cf|Fig|Eq)\.", re.S)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(*\"'])")
_ITEM = re.compile(r"^(?:[-*+]|\d+[.)])\s+")


def first_sentence(text: str) -> str:
    """The first sentence of a paragraph: up to the first '.', '!' or '?' followed by a capital,
    ignoring those inside math, inline code and common abbreviations."""
    text = " ".join(text.split())
    masked = _MASK.sub(lambda m: "x" * len(m.group(0)), text)
    m = _SENTENCE_END.search(masked)
    return text[: m.start()].strip() if m else text.strip()


def _blocks(text: str) -> list[str]:
    """Blank-line separated blocks; a display equation ($$ ... $$) is never split."""
    blocks, current = [], []
    for line in text.split("\n"):
        if not line.strip() and current and "\n".join(current).count("$$") % 2 == 0:
            blocks.append("\n".join(current))
            current = []
        elif line.strip() or current:
            current.append(line)
    if current:
        blocks.append("\n".join(current))
    return blocks


def _kind(block: str) -> str:
    first = block.lstrip()
    if first.startswith("#"):
        return "heading"
    if first.startswith("$$") or first.startswith("\\begin"):
        return "math"
    if first.startswith("|"):
        return "table"
    if first.startswith(">"):
        return "quote"
    if first.startswith(("![", "<img", "<figure")):
        return "image"
    if _ITEM.match(first):
        return "list"
    return "paragraph"


def _short_list(block: str) -> str:
    items: list[list[str]] = []
    for line in block.split("\n"):
        if _ITEM.match(line.lstrip()) and (not items or len(line) - len(line.lstrip()) <= 1):
            items.append([line.strip()])
        elif items:
            items[-1].append(line.strip())
    shown = []
    for item in items[:MAX_ITEMS]:
        marker = _ITEM.match(item[0]).group(0)
        shown.append(marker + first_sentence(" ".join(item)[len(marker):]))
    return "\n".join(shown)


def condense(section: str) -> tuple[str, str]:
    """(slide, notes) for one section of a slide cell: the slide keeps the heading, the first
    sentence, display equations, tables, images, admonitions' first sentences and lists cut to
    :data:`MAX_ITEMS` one-sentence items; the notes keep all of the prose."""
    slide, notes, lead_taken = [], [], False
    blocks = _blocks(section)
    for i, block in enumerate(blocks):
        kind = _kind(block)
        if kind == "heading":
            slide.append(block.strip())
            continue
        notes.append(block)
        if kind == "paragraph":
            sentence = first_sentence(block)
            introduces_list = i + 1 < len(blocks) and _kind(blocks[i + 1]) == "list"
            if introduces_list and len(" ".join(block.split())) <= MAX_LEAD // 2:
                slide.append(" ".join(block.split()))  # "After this chapter you can"
            elif not lead_taken and len(sentence) <= MAX_LEAD:
                slide.append(sentence)
            lead_taken = True
        elif kind == "list":
            slide.append(_short_list(block))
        elif kind == "quote":
            body = " ".join(line.lstrip("> ").strip() for line in block.split("\n"))
            slide.append("> " + first_sentence(body))
        else:
            slide.append(block)
    return "\n\n".join(slide), "\n\n".join(notes)


MAX_SLIDE_CHARS = 420  # text per slide (a heading counts twice); a longer list continues


def _weight(block: str) -> int:
    return 2 * len(block) if _kind(block) == "heading" else len(block)


def _paginate(shown: str) -> list[str]:
    """Cut a slide whose text is longer than MAX_SLIDE_CHARS at its list: the items that fit stay,
    the others continue on further slides (each item whole)."""
    blocks = _blocks(shown)
    if sum(_weight(b) for b in blocks) <= MAX_SLIDE_CHARS or not any(_kind(b) == "list" for b in blocks):
        return [shown]
    pages, page, used = [], [], 0
    for block in blocks:
        is_list = _kind(block) == "list"
        units = block.split("\n") if is_list else [block]
        joined = []  # list items go back together as one block per page
        for unit in units:
            if page and used + _weight(unit) > MAX_SLIDE_CHARS and (joined or not is_list):
                if joined:
                    page.append("\n".join(joined))
                pages.append(page)
                page, used, joined = [], 0, []
            (joined if is_list else page).append(unit)
            used += _weight(unit)
        if joined:
            page.append("\n".join(joined))
    if page:
        pages.append(page)
    return ["\n\n".join(p) for p in pages]


def _sections(text: str) -> list[str]:
    """A cell's text cut before each heading (the part before the first heading comes first)."""
    parts = re.split(r"(?m)^(?=#{1,6} )", text)
    return [p for p in parts if p.strip()]


def _title(text: str) -> str | None:
    m = re.match(r"\s*(#{1,6}) (.+)", text)
    return m.group(2).strip() if m else None


def _markdown(source: str, slide_type: str) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_markdown_cell(source)
    cell.metadata["slideshow"] = {"slide_type": slide_type}
    return cell


def design_slides(deck: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Turn :func:`select_slides`' deck into designed slides with speaker notes (module docstring).

    Only the shown cells are kept; every slide gets a notes cell."""
    out = copy.copy(deck)
    cells, title = [], None
    for i, cell in enumerate(deck.cells):
        slide_type = cell.metadata["slideshow"]["slide_type"]
        if slide_type == "skip":
            if cell.cell_type == "markdown":  # a figure further on belongs to this section
                title = next((t for t in map(_title, reversed(_sections(cell.source))) if t), title)
            continue
        if cell.cell_type == "markdown":
            for k, section in enumerate(_sections(cell.source)):
                heading = _title(section)
                title = heading or title
                kind = slide_type if k == 0 else "slide"
                if heading and kind == "-":
                    kind = "slide"
                shown, notes = condense(section)
                if not heading and kind == "-":
                    # prose that continues the current slide: its equations and lists join it
                    shown = "\n\n".join(b for b in _blocks(shown) if _kind(b) != "paragraph")
                if shown.strip() and not heading and kind != "-":
                    shown = f"### {title or ''}\n\n{shown}"  # a new slide always has a title
                pages = _paginate(shown) if shown.strip() else [f"## {title or ''}" if kind != "-" else ""]
                for n, text in enumerate(pages):
                    if n:
                        text = f"### {title or ''} (continued)\n\n{text}"
                    if text.strip():
                        cells.append(_markdown(text, kind if n == 0 else "slide"))
                    if notes.strip():
                        cells.append(_markdown(notes, "notes"))
        else:
            if not cell.get("outputs"):
                continue
            following = next((c for c in deck.cells[i + 1:] if c.cell_type == "markdown"), None)
            reading = (_sections(following.source)[0] if following is not None else "")
            if not reading.strip() or _title(reading):
                reading = f"The figure or table of *{title}*: what does it show?"
            # printed text and figures of one cell get a slide each
            figures = [o for o in cell.outputs if "image/png" in o.get("data", {})]
            text = [o for o in cell.outputs if o not in figures]
            for part, outputs in enumerate((text, figures) if text and figures else (cell.outputs,)):
                cells.append(_markdown(f"### {title or ''}", "slide"))
                shown = copy.deepcopy(cell)
                if part:
                    shown.id = f"{cell.id}-figures"[:64]
                shown.outputs = copy.deepcopy(outputs)
                shown.metadata["slideshow"] = {"slide_type": "-"}
                cells.append(shown)
                cells.append(_markdown(reading, "notes"))
    out.cells = cells
    return out


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
        deck = design_slides(select_slides(nbformat.read(path, as_version=4)))
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
