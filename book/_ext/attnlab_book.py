"""Small fixes the book needs on top of Jupyter Book 1 (loaded via sphinx.local_extensions).

- sphinx-thebe registers its inline configuration script once per read phase, so pages can end
  up with ``const THEBE_JS_URL`` declared twice, a JavaScript error on every page. Identical
  scripts are kept once.
"""

from __future__ import annotations


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
    # Runs early: html-page-context stops at the first handler that returns a template name.
    app.connect("html-page-context", _dedupe_scripts, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
