"""The student edition in every form (.ci/student.py): notebooks, the built site's downloads and
Colab links, and the offline bundle hold no solution."""

from __future__ import annotations

import json
import re

import pytest

from tests.bookfiles import NOTEBOOKS, ci_script

EXERCISE = """Some text.

```{exercise} Counting
:label: ex-1
How many?
```

````{solution} ex-1
:class: dropdown
Four.
```python
print(4)
```
````

More text."""


@pytest.fixture(scope="module")
def student():
    return ci_script("student")


@pytest.fixture(scope="module")
def bundle():
    return ci_script("bundle")


def notebook(*markdown):
    return {"cells": [{"cell_type": "markdown", "metadata": {}, "source": [m]} for m in markdown]
            + [{"cell_type": "code", "metadata": {}, "source": ["x = 1"], "outputs": [], "execution_count": 1}],
            "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def test_a_solution_block_goes_with_its_code_and_nothing_else(student):
    text, n = student.strip_solutions(EXERCISE)
    assert n == 1
    assert "Four." not in text and "print(4)" not in text and "{solution}" not in text
    assert "{exercise} Counting" in text and "How many?" in text and text.endswith("More text.")
    assert "\n\n\n" not in text                          # no gap left where the block was


def test_an_unclosed_solution_is_an_error_not_a_guess(student):
    with pytest.raises(ValueError, match="opened on line 1 .* never closed by '````'"):
        student.strip_solutions("````{solution} ex-1\nFour.\n")


def test_every_chapter_loses_every_solution_and_keeps_the_rest(student):
    total = 0
    for path in NOTEBOOKS:
        original = json.loads(path.read_text())
        stripped, n = student.student_notebook(original)
        source = json.dumps(stripped)
        opened = sum(len(re.findall(r"^````\{solution\}", "".join(c["source"]), re.M))
                     for c in original["cells"] if c["cell_type"] == "markdown")
        assert n == opened and "{solution}" not in source, path.name
        code = [c for c in original["cells"] if c["cell_type"] == "code"]
        assert [c for c in stripped["cells"] if c["cell_type"] == "code"] == code, path.name
        assert source.count("{exercise}") == json.dumps(original).count("{exercise}"), path.name
        total += n
    assert total >= 40                                  # the book's exercises have solutions


def test_a_solution_only_cell_is_dropped(student):
    nb, n = student.student_notebook(notebook("````{solution} ex-1\nFour.\n````", "# Title"))
    assert n == 1 and [c["source"] for c in nb["cells"] if c["cell_type"] == "markdown"] == [["# Title"]]


@pytest.fixture
def site(tmp_path):
    """A built student site: a page with a Colab link to main, a downloadable notebook."""
    html = tmp_path / "html"
    (html / "_sources" / "notebooks").mkdir(parents=True)
    link = "https://colab.research.google.com/github/me/attnlab/blob/main/notebooks/02_se.ipynb"
    (html / "index.html").write_text(f'<html><a href="{link}">Colab</a></html>\n')
    (html / "_sources" / "notebooks" / "02_se.ipynb").write_text(json.dumps(notebook(EXERCISE)))
    return html


def test_the_site_serves_stripped_notebooks_and_colab_links_to_the_student_branch(student, site):
    before = student.leaks(site)
    assert any("a {solution} block" in leak for leak in before)
    assert any("Colab link to the main branch" in leak for leak in before)
    counts = student.strip_site(site)
    assert counts == {"notebooks": 1, "solutions": 1, "colab_links": 1}
    assert student.leaks(site) == []
    assert "/blob/student/notebooks/02_se.ipynb" in (site / "index.html").read_text()
    assert student.main(["check", str(site)]) == 0


def test_a_solution_shown_on_a_page_is_found(student, tmp_path):
    page = tmp_path / "page.html"
    page.write_text('<div class="solution dropdown admonition" id="sol-1">Four.</div>')
    assert student.leaks(page) == [f"{page}: an element of class 'solution'"]


def test_the_student_bundle_holds_no_solution(student, bundle, site, tmp_path):
    nbs = tmp_path / "student-notebooks"
    counts = student.write_student_notebooks(NOTEBOOKS[0].parent, nbs)
    assert sorted(counts) == [p.name for p in NOTEBOOKS]
    student.strip_site(site)
    readme = tmp_path / "README.md"
    readme.write_text("# attnlab\n")
    zipped = bundle.make_bundle(site, nbs, readme, tmp_path / "student.zip")
    assert student.leaks(zipped) == []
    full = bundle.make_bundle(site, NOTEBOOKS[0].parent, readme, tmp_path / "instructor.zip")
    assert student.leaks(full)                          # the instructor bundle keeps them


def _git(*args, cwd):
    import subprocess

    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def test_publishing_pushes_only_the_student_notebooks_as_one_parentless_commit(tmp_path):
    """.ci/publish_student.sh, as the book workflow runs it, against a local bare remote."""
    import os
    import shutil
    import subprocess

    from tests.bookfiles import ROOT

    remote, work = tmp_path / "remote.git", tmp_path / "work"
    _git("init", "--quiet", "--bare", str(remote), cwd=tmp_path)
    _git("init", "--quiet", "-b", "main", str(work), cwd=tmp_path)
    for key, value in (("user.name", "test"), ("user.email", "test@example.org")):
        _git("config", key, value, cwd=work)
    (work / "README.md").write_text("the book\n")
    shutil.copytree(ROOT / ".ci", work / ".ci")
    _git("add", "README.md", ".ci/publish_student.sh", cwd=work)
    _git("commit", "--quiet", "-m", "main", cwd=work)
    _git("remote", "add", "origin", str(remote), cwd=work)
    _git("push", "--quiet", "origin", "main", cwd=work)
    out = work / "_build" / "student-notebooks"
    out.mkdir(parents=True)

    def publish(names, sha):
        for old in out.glob("*.ipynb"):
            old.unlink()
        for name in names:
            (out / name).write_text(json.dumps(notebook(f"# {name}")))
        env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "GITHUB_SHA": sha}
        return subprocess.run(["bash", ".ci/publish_student.sh"], cwd=work, env=env, capture_output=True, text=True)

    for names, sha in ((["01_a.ipynb", "02_b.ipynb"], "sha-one"), (["01_a.ipynb"], "sha-two")):
        done = publish(names, sha)
        assert done.returncode == 0, done.stderr
        assert f"{len(names)} student notebooks pushed to origin/student" in done.stdout
        files = _git("ls-tree", "-r", "--name-only", "student", cwd=remote).splitlines()
        assert files == [f"notebooks/{n}" for n in names]      # nothing of main, nothing stale
        assert _git("rev-list", "--count", "student", cwd=remote) == "1"  # no parent, no history
        assert _git("log", "-1", "--format=%s", "student", cwd=remote) == f"Student notebooks (no solutions) of {sha}"
    # the checkout is as it was: on main, no new branch, no worktree left behind
    assert _git("branch", "--show-current", cwd=work) == "main"
    assert _git("branch", "--format=%(refname:short)", cwd=work).splitlines() == ["main"]
    assert len(_git("worktree", "list", cwd=work).splitlines()) == 1
    assert _git("rev-parse", "main", cwd=remote) == _git("rev-parse", "main", cwd=work)

    empty = publish([], "sha-three")
    assert empty.returncode == 1 and "no .ipynb in" in empty.stderr
    assert _git("log", "-1", "--format=%s", "student", cwd=remote).endswith("sha-two")  # left alone
