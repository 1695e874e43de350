"""The built book in a real browser: every page of _toc.yml and every slide deck, in headless Chromium.

Run after `jupyter-book build .` (``make test`` does). For each page it fails on console errors,
uncaught exceptions, failed or 4xx/5xx requests (so any asset fetched from the network would
fail here: there is none), math left unrendered, images that did not load, and anything that
overflows the page column at a 1280 px window (a code line too long for its block, a table or
figure wider than the text); it saves a full-page screenshot of each page under _build/screenshots/.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import threading
from pathlib import Path

import pytest

from tests.bookfiles import BUILD_HTML, ROOT, toc_files

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("ATTNLAB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = ROOT / "_build" / "screenshots"
# Every page of the table of contents, then every slide deck and the deck index.
PAGES = toc_files() + sorted(f"slides/{p.stem}" for p in (BUILD_HTML / "slides").glob("*.html"))

# Text that MathJax should have turned into math; looked for outside code blocks.
RAW_MATH = re.compile(r"\\\(|\\\)|\\\[|\\\]|\$\$|(?<![\w$])\$[^$\s][^$\n]*[^$\s\\]\$(?![\w$])")

VISIBLE_TEXT_JS = """() => {
  const root = document.querySelector('main') || document.body;
  const copy = root.cloneNode(true);
  copy.querySelectorAll('pre, code, script, style, mjx-container, .highlight, .MathJax, mjx-assistive-mml')
      .forEach(e => e.remove());
  return copy.textContent;
}"""

UNRENDERED_MATH_JS = """() => Array.from(document.querySelectorAll('.math'))
  .filter(e => !e.querySelector('mjx-container')).map(e => e.textContent.slice(0, 80))"""

BROKEN_IMAGES_JS = """async () => {
  const imgs = Array.from(document.images);
  imgs.forEach(i => { i.loading = 'eager'; });
  await Promise.all(imgs.map(i => i.decode().catch(() => null)));
  return imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src.slice(0, 120));
}"""


# What runs off the page column: the document itself, a code block that needs a horizontal
# scrollbar (its longest line is reported), a table, image or display equation wider than the
# article. Slide decks have their own check below.
OVERFLOW_JS = """() => {
  const out = [];
  const doc = document.documentElement;
  if (doc.scrollWidth > doc.clientWidth + 1) out.push(`page ${doc.scrollWidth}px wide in a ${doc.clientWidth}px window`);
  const article = document.querySelector('main article') || document.querySelector('main');
  if (!article) return out;
  const right = article.getBoundingClientRect().right;
  article.querySelectorAll('pre').forEach(p => {
    if (p.scrollWidth > p.clientWidth + 1) {
      const longest = p.textContent.split('\\n').reduce((a, l) => l.length > a.length ? l : a, '');
      out.push(`code block ${p.scrollWidth - p.clientWidth}px too wide: ${longest.length} chars: ${longest.trim().slice(0, 90)}`);
    }
  });
  article.querySelectorAll('table, img, mjx-container[display="true"]').forEach(e => {
    const box = e.getBoundingClientRect();
    const scroller = e.closest('.table-wrapper, .pst-scrollable-table-container, .math-wrapper');
    if (box.width > 0 && box.right > right + 2 && !scroller)
      out.push(`${e.tagName.toLowerCase()} ${Math.round(box.right - right)}px past the column: ${(e.textContent || e.src || '').trim().slice(0, 60)}`);
  });
  return out;
}"""


# One slide of a deck, typeset and with its images decoded: its content size against the deck's
# slide size (reveal.js scales that size to the screen), its title and its notes' length.
SLIDE_FIT_JS = """async () => {
  const slide = Reveal.getCurrentSlide();
  if (window.MathJax && MathJax.typesetPromise) await MathJax.typesetPromise([slide]);
  await Promise.all(Array.from(slide.querySelectorAll('img')).map(i => i.decode().catch(() => null)));
  const config = Reveal.getConfig();
  const div = document.createElement('div');  // the notes as the speaker view shows them
  div.innerHTML = Reveal.getSlideNotes(slide) || '';
  const heading = slide.querySelector('h1, h2, h3');
  const title = heading ? heading.cloneNode(true) : document.createElement('span');
  title.querySelectorAll('a.anchor-link').forEach(a => a.remove());  // the copy, not the slide
  return {height: slide.scrollHeight, width: slide.scrollWidth, max_height: config.height,
          max_width: config.width, notes: div.textContent.trim().length,
          title: title.textContent.trim().slice(0, 50)};
}"""


@pytest.fixture(scope="module")
def site_url():
    if not (BUILD_HTML / "index.html").exists():
        pytest.fail("no built book at _build/html: run `make book` (make test builds it first)")
    handler = functools.partial(_QuietHandler, directory=str(BUILD_HTML))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output readable
        pass


@pytest.fixture(scope="module")
def browser():
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: `make test` installs Debian's chromium package")
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="module", autouse=True)
def _fresh_screenshot_folder():
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True)


@pytest.mark.parametrize("page_path", PAGES)
def test_page_renders_offline(browser, site_url, page_path):
    problems: list[str] = []
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url} ({r.failure})"))
    page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)

    page.goto(f"{site_url}/{page_path}.html", wait_until="load")
    page.wait_for_load_state("networkidle")
    # Wait until MathJax (served from _static) has typeset the page, if the page has math.
    page.wait_for_function(
        "() => !window.MathJax || (MathJax.startup && MathJax.startup.promise)", timeout=20_000
    )
    page.evaluate("() => window.MathJax && MathJax.startup ? MathJax.startup.promise : null")

    unrendered = page.evaluate(UNRENDERED_MATH_JS)
    assert not unrendered, f"{page_path}: math not typeset: {unrendered[:3]}"
    raw = RAW_MATH.findall(page.evaluate(VISIBLE_TEXT_JS))
    assert not raw, f"{page_path}: raw math delimiters in the text: {raw[:5]}"
    broken = page.evaluate(BROKEN_IMAGES_JS)
    assert not broken, f"{page_path}: images that did not load: {broken}"
    page.wait_for_load_state("networkidle")

    if not page_path.startswith("slides/"):
        overflowing = page.evaluate(OVERFLOW_JS)
        assert not overflowing, f"{page_path}: overflows the page column:\n" + "\n".join(overflowing[:8])

    out = SCREENSHOTS / (page_path.replace("/", "__") + ".png")
    page.screenshot(path=str(out), full_page=True)
    if page_path.startswith("slides/") and page_path != "slides/index":
        # Walk the whole deck on a 1280 x 720 screen: every slide change runs the deck's typeset
        # and scrollbar script; each slide, typeset, must fit the deck's slide size and have
        # speaker notes.
        page.set_viewport_size({"width": 1280, "height": 720})
        page.wait_for_function("() => window.Reveal && Reveal.isReady && Reveal.isReady()", timeout=20_000)
        page.evaluate("() => Reveal.configure({transition: 'none', backgroundTransition: 'none'})")
        n = page.evaluate("() => document.querySelectorAll('.reveal .slides > section').length")
        assert n > 1, f"{page_path}: the deck has {n} slide(s)"
        bad_slides = []
        for i in range(n):
            if i:
                page.keyboard.press("ArrowRight")
                page.wait_for_timeout(20)
            fit = page.evaluate(SLIDE_FIT_JS)
            if fit["height"] > fit["max_height"] or fit["width"] > fit["max_width"]:
                bad_slides.append(f"slide {i} ({fit['title']!r}) is {fit['width']}x{fit['height']}, "
                                  f"the slide is {fit['max_width']}x{fit['max_height']}")
            if fit["notes"] < 20:
                bad_slides.append(f"slide {i} ({fit['title']!r}) has no speaker notes")
        assert page.evaluate("() => location.hash") == f"#/{n - 1}", f"{page_path}: did not reach the last slide"
        assert not bad_slides, f"{page_path}:\n" + "\n".join(bad_slides)
    context.close()
    assert not problems, f"{page_path}:\n" + "\n".join(problems)
