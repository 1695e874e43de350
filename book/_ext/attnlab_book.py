"""Small additions the book needs on top of Jupyter Book 1 (loaded via sphinx.local_extensions).

Editions, chosen by the environment variable ``ATTNLAB_EDITION`` at build time:

- ``web`` (default): solutions are collapsed, one click opens them.
- ``student``: solutions are left out of the pages altogether (``make book-student``).
- ``instructor``: solutions are printed open under every exercise (``make book-instructor``).

Exercises are numbered per chapter, "Exercise 4.2" (chapter 4, second exercise): Sphinx's numfig
counts them across the whole book otherwise (chapter 4 started at Exercise 17). The chapter is the
number a notebook's file name starts with; other pages number theirs 1, 2, ...

Fix: sphinx-thebe registers its inline configuration script once per read phase, so pages can
end up with ``const THEBE_JS_URL`` declared twice, a JavaScript error on every page. Identical
scripts are kept once.
"""

from __future__ import annotations

import os
import re

from docutils import nodes

EDITIONS = ("web", "student", "instructor")


def _edition() -> str:
    edition = os.environ.get("ATTNLAB_EDITION", "web").strip().lower() or "web"
    if edition not in EDITIONS:
        raise ValueError(f"ATTNLAB_EDITION must be one of {list(EDITIONS)}, got {edition!r}")
    return edition


def _configure_edition(app, config):
    edition = _edition()
    config.html_context = {**(config.html_context or {}), "attnlab_edition": edition}
    if edition == "student":
        config.hide_solutions = True  # sphinx-exercise then drops every {solution}


def _open_solutions(app, doctree):
    """Instructor edition: show each solution open instead of as a collapsed dropdown."""
    if _edition() != "instructor":
        return
    for node in doctree.traverse(nodes.Element):
        classes = node.get("classes", [])
        if "solution" in classes and "dropdown" in classes:
            classes.remove("dropdown")


def chapter_of(docname: str) -> int | None:
    """The chapter number a document's file name starts with (``notebooks/04_eca`` -> 4)."""
    match = re.match(r"(\d+)_", docname.rsplit("/", 1)[-1])
    return int(match.group(1)) if match else None


def renumber_per_chapter(fignumbers: dict, figtype: str = "exercise") -> None:
    """Renumber ``figtype`` in Sphinx's ``env.toc_fignumbers`` (docname -> figtype -> id ->
    number tuple) per document, in the book's order: ``(chapter, 1), (chapter, 2), ...``."""
    for docname, by_type in fignumbers.items():
        numbers = by_type.get(figtype)
        if not numbers:
            continue
        chapter = chapter_of(docname)
        ordered = sorted(numbers, key=lambda node_id: numbers[node_id])
        for i, node_id in enumerate(ordered, start=1):
            numbers[node_id] = (chapter, i) if chapter is not None else (i,)


def _number_exercises_per_chapter(app, env):
    renumber_per_chapter(env.toc_fignumbers)
    return []


def _dedupe_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        # One copy has filename None, the other "": compare what the page would contain.
        attributes = getattr(script, "attributes", {})
        key = (str(getattr(script, "filename", script) or ""), repr(sorted(attributes.items())))
        if key in seen:
            continue
        seen.add(key)
        unique.append(script)
    scripts[:] = unique


def setup(app):
    app.connect("config-inited", _configure_edition)
    app.connect("doctree-read", _open_solutions)
    # After Sphinx's own numbering (TocTreeCollector, priority 500) has run.
    app.connect("env-get-updated", _number_exercises_per_chapter, priority=900)
    # Runs early: html-page-context stops at the first handler that returns a template name.
    app.connect("html-page-context", _dedupe_scripts, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
