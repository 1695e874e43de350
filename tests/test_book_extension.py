"""The book's Sphinx extension (book/_ext/attnlab_book.py): exercise numbers per chapter."""

from __future__ import annotations

import importlib.util

import pytest

from tests.bookfiles import ROOT


@pytest.fixture(scope="module")
def ext():
    spec = importlib.util.spec_from_file_location("attnlab_book", ROOT / "book" / "_ext" / "attnlab_book.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_chapter_is_the_number_the_file_name_starts_with(ext):
    assert ext.chapter_of("notebooks/04_eca") == 4
    assert ext.chapter_of("notebooks/00_setup_check") == 0
    assert ext.chapter_of("book/teaching") is None
    assert ext.chapter_of("notebooks/eca_04") is None


def test_exercises_are_renumbered_per_chapter_in_page_order(ext):
    # As Sphinx numbers them across the book: chapter 4 starts at 17; ids not in page order.
    numbers = {
        "notebooks/03_cbam": {"exercise": {"b": (12,), "a": (11,)}, "figure": {"f": (30,)}},
        "notebooks/04_eca": {"exercise": {"x": (18,), "y": (17,), "z": (19,)}},
        "book/faq": {"exercise": {"q": (40,)}},
        "notebooks/05_beyond": {"figure": {"g": (3,)}},
    }
    ext.renumber_per_chapter(numbers)
    assert numbers["notebooks/03_cbam"]["exercise"] == {"a": (3, 1), "b": (3, 2)}
    assert numbers["notebooks/04_eca"]["exercise"] == {"y": (4, 1), "x": (4, 2), "z": (4, 3)}
    assert numbers["book/faq"]["exercise"] == {"q": (1,)}
    assert numbers["notebooks/03_cbam"]["figure"] == {"f": (30,)}, "other kinds keep their numbers"
    assert numbers["notebooks/05_beyond"] == {"figure": {"g": (3,)}}
