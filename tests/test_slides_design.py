"""Slides designed from the chapters (.ci/slides.py): short slides, the prose as speaker notes.

The browser test (tests/test_site.py) measures the built decks; these tests check the design
rules on the notebooks themselves and on small cases with known answers."""

from __future__ import annotations

import nbformat
import pytest

from tests.bookfiles import NOTEBOOKS, ci_script

IDS = [nb.name for nb in NOTEBOOKS]


@pytest.fixture(scope="module")
def slides():
    return ci_script("slides")


def test_first_sentence_skips_abbreviations_math_and_code(slides):
    text = "SE (Hu et al. 2018) gates channels, e.g. $x.y$ and `a.b`. Then a second sentence."
    assert slides.first_sentence(text) == "SE (Hu et al. 2018) gates channels, e.g. $x.y$ and `a.b`."
    assert slides.first_sentence("no full stop at all") == "no full stop at all"
    assert slides.first_sentence("Line one\ncontinues here. Next") == "Line one continues here."


def test_condense_keeps_heading_lead_equations_and_five_short_items(slides):
    items = "\n".join(f"- item {i} is here. With a second sentence." for i in range(7))
    section = f"## Title\n\nFirst sentence. Second sentence.\n\n$$ a = b $$\n\n{items}\n\nLast paragraph."
    shown, notes = slides.condense(section)
    assert shown.startswith("## Title\n\nFirst sentence.")
    assert "Second sentence" not in shown and "Last paragraph" not in shown
    assert "$$ a = b $$" in shown
    assert shown.count("- item") == slides.MAX_ITEMS
    assert "With a second sentence" not in shown
    for part in ("First sentence. Second sentence.", "Last paragraph.", "- item 6 is here. With a second sentence."):
        assert part in notes, "the notes keep all of the prose"
    assert "## Title" not in notes


def test_a_long_slide_continues_at_its_list(slides):
    items = "\n".join(f"- {'word ' * 20}{i}" for i in range(6))
    pages = slides._paginate(f"## T\n\n{items}")
    assert len(pages) > 1
    shown = "\n".join(pages)
    assert all(f"{'word ' * 20}{i}" in shown for i in range(6)), "no item is lost"
    assert all(sum(map(slides._weight, slides._blocks(p))) <= slides.MAX_SLIDE_CHARS + 130 for p in pages)
    assert slides._paginate("## T\n\nshort") == ["## T\n\nshort"]


def test_a_cell_with_text_and_a_figure_gets_two_slides_each_with_notes(slides):
    md = nbformat.v4.new_markdown_cell("## Results\n\nWe train. It works.")
    code = nbformat.v4.new_code_cell("run()")
    code.outputs = [nbformat.v4.new_output("stream", text="acc 90%\n"),
                    nbformat.v4.new_output("display_data", data={"image/png": "iVBOR", "text/plain": "<Figure>"})]
    after = nbformat.v4.new_markdown_cell("The curve flattens after ten epochs.")
    for cell in (md, code):
        cell.metadata["tags"] = ["slides"]
    deck = slides.design_slides(slides.select_slides(nbformat.v4.new_notebook(cells=[md, code, after])))
    kinds = [c.metadata["slideshow"]["slide_type"] for c in deck.cells]
    assert kinds.count("slide") == 3, kinds  # the section, its printed text, its figure
    starts = [i for i, k in enumerate(kinds) if k == "slide"] + [len(kinds)]
    for a, b in zip(starts, starts[1:]):
        assert "notes" in kinds[a:b], f"slide at {a} has no notes: {kinds}"
    notes = [c.source for c in deck.cells if c.metadata["slideshow"]["slide_type"] == "notes"]
    assert "We train. It works." in notes[0]
    assert notes[1] == notes[2] == "The curve flattens after ten epochs."
    assert len({c.get("id") for c in deck.cells}) == len(deck.cells), "cell ids stay unique"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_every_designed_slide_of_a_chapter_has_a_title_and_notes(path, slides):
    deck = slides.design_slides(slides.select_slides(nbformat.read(path, as_version=4)))
    kinds = [c.metadata["slideshow"]["slide_type"] for c in deck.cells]
    starts = [i for i, k in enumerate(kinds) if k == "slide"]
    assert starts and starts[0] == 0, f"{path.name}: the deck must start with a slide"
    for a, b in zip(starts, starts[1:] + [len(kinds)]):
        first = deck.cells[a]
        assert first.cell_type == "markdown" and first.source.lstrip().startswith("#"), (
            f"{path.name}: slide at cell {a} has no title: {first.source[:60]!r}")
        notes = [deck.cells[i].source for i in range(a, b) if kinds[i] == "notes"]
        assert notes and len(" ".join(notes)) >= 20, f"{path.name}: slide {first.source[:40]!r} has no speaker notes"
        shown = [deck.cells[i] for i in range(a, b) if kinds[i] != "notes"]
        bullets = sum(c.source.count("\n- ") + c.source.startswith("- ") for c in shown if c.cell_type == "markdown")
        assert bullets <= slides.MAX_ITEMS, f"{path.name}: slide {first.source[:40]!r} has {bullets} bullets"
