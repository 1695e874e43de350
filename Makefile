# attnlab: `make book` builds the book, `make test` runs every test. Both set themselves up
# in .venv from a fresh clone. `make help` lists the rest.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CACHE  := _build/.jupyter_cache
# Byte-compiled at install (pip's default): with PYTHONDONTWRITEBYTECODE set, as on the CI machines,
# --no-compile would make every import of torch compile it again (2 s -> 6 s per process).
PIP    := $(BIN)/python -m pip install --quiet --disable-pip-version-check
PYTEST := $(BIN)/python -m pytest -p tests.plugins.nbval_cache
JB     := $(BIN)/jupyter-book build . --quiet
NBVAL  := --nbval --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout 900 --nbcache $(CACHE)

.PHONY: help setup vendor chromium test test-unit test-notebooks test-colab test-book test-student test-browser book book-student book-instructor student-notebooks slides bundle bundle-student bundle-instructor clean constraints notebooks repo-url

help:
	@echo "make book   build the HTML book into _build/html (sets up .venv first)"
	@echo "make test   unit tests, notebooks (nbval), Colab simulation, book build (-W), browser test"
	@echo "make test-colab [NB='00_setup_check 03_cbam']  run chapters as a fresh Colab runtime would (.ci/colab_sim.py)"
	@echo "make book-student     student edition (no solutions) into _build/student/html"
	@echo "make book-instructor  instructor edition (solutions open) into _build/instructor/html"
	@echo "make slides           one reveal.js deck per chapter (part of every book build)"
	@echo "make bundle           _build/attnlab-book.zip: the built book and all notebooks, for offline classrooms"
	@echo "make bundle-student   the same without any solution (pages, notebooks, downloads, Colab links); bundle-instructor with them"
	@echo "make notebooks [NB=notebooks/02_x.ipynb]  re-execute notebooks in place (refresh stored outputs)"
	@echo "make repo-url URL=https://github.com/OWNER/NAME  point Colab buttons and install cells at a fork"
	@echo "make clean  remove _build (keeps .venv)"

# --- set-up --------------------------------------------------------------------------------
# torch is installed first, pinned, so that no other package can pull a CUDA build of it.
$(STAMP): requirements.txt constraints.txt pyproject.toml
	@echo "==> setting up $(VENV) (first run only; about 2 minutes)"
	@test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	@$(PIP) "torch==$$(sed -n 's/^torch==//p' constraints.txt)" -c constraints.txt
	@$(PIP) -r requirements.txt -c constraints.txt
	@$(PIP) --no-deps -e .
	@touch $@

setup: $(STAMP) vendor

vendor:
	@bash .ci/vendor_assets.sh

chromium:
	@bash .ci/ensure_chromium.sh

# --- the book ------------------------------------------------------------------------------
book: setup slides
	@start=$$(date +%s); \
	$(JB) -W --keep-going; \
	echo "==> book built in $$(( $$(date +%s) - start ))s: open file://$(CURDIR)/_build/html/index.html"

# Editions share the execution cache with the web build, so notebooks run at most once.
# The student edition leaves solutions out of the pages, of the notebooks behind the download
# buttons and of the Colab links (which open the `student` branch: .ci/student.py), and checks it.
book-student: setup slides
	@ATTNLAB_EDITION=student $(JB) -W --keep-going --path-output _build/student
	@$(BIN)/python .ci/student.py site _build/student/_build/html
	@$(BIN)/python .ci/student.py check _build/student/_build/html
	@echo "==> student edition: open file://$(CURDIR)/_build/student/_build/html/index.html"

# The chapters without solutions (what the `student` branch and the student bundle hold).
student-notebooks: setup
	@$(BIN)/python .ci/student.py notebooks notebooks _build/student-notebooks

book-instructor: setup slides
	@ATTNLAB_EDITION=instructor $(JB) -W --keep-going --path-output _build/instructor
	@echo "==> instructor edition: open file://$(CURDIR)/_build/instructor/_build/html/index.html"

slides: setup
	@$(BIN)/python .ci/slides.py

# attnlab-book/{book/,notebooks/,README.md,OPEN_ME.txt} in one zip; .ci/bundle.py documents the layout.
bundle: book
	@$(BIN)/python .ci/bundle.py

# The classroom bundles: students get neither solutions nor solution-bearing notebooks.
bundle-student: book-student student-notebooks
	@$(BIN)/python .ci/bundle.py --html _build/student/_build/html --notebooks _build/student-notebooks \
	  --out _build/attnlab-book-student.zip
	@$(BIN)/python .ci/student.py check _build/attnlab-book-student.zip

bundle-instructor: book-instructor
	@$(BIN)/python .ci/bundle.py --html _build/instructor/_build/html --out _build/attnlab-book-instructor.zip

# --- tests ---------------------------------------------------------------------------------
# Each notebook is executed once: nbval runs and checks it and stores the run in the book's
# execution cache (tests/plugins/nbval_cache.py); the book build renders those outputs.
# One saved-runs folder for the whole run: the detector Chapter 6 trains is reused by Chapters 7
# and 8, under nbval and in the Colab simulation alike (as a learner's saved runs would be).
test: setup chromium
	@start=$$(date +%s); export ATTNLAB_RUNS_DIR=$$(mktemp -d); \
	for step in test-unit test-notebooks test-colab test-book test-student test-browser; do \
	  t=$$(date +%s); $(MAKE) --no-print-directory $$step; \
	  echo "==> $$step took $$(( $$(date +%s) - t ))s"; \
	done; \
	echo "==> make test passed in $$(( $$(date +%s) - start ))s (after set-up)"

test-unit: setup
	@echo "==> unit tests"
	@$(PYTEST) tests -m "not browser" -q

# Saved experiment runs go to a fresh folder per `make test` (or per call), never to an old one.
test-notebooks: setup
	@echo "==> notebooks (nbval)"
	@ATTNLAB_RUNS_DIR=$${ATTNLAB_RUNS_DIR:-$$(mktemp -d)} $(PYTEST) notebooks $(NBVAL) -q

# A virtual environment with only Colab's preinstalled stack (.ci/colab/stack.txt); each chapter's
# own first cell installs attnlab from this checkout; the chapter must run with no error.
test-colab: setup
	@echo "==> chapters in a simulated fresh Colab runtime"
	@ATTNLAB_RUNS_DIR=$${ATTNLAB_RUNS_DIR:-$$(mktemp -d)} $(BIN)/python .ci/colab_sim.py $(NB)

test-book: setup slides
	@echo "==> book build, warnings are errors"
	@$(JB) -W --keep-going

# The student edition as a student gets it (site, notebooks, offline bundle), checked for any
# trace of a solution; it reuses the execution cache, so nothing runs again.
test-student: bundle-student

test-browser: setup chromium
	@echo "==> built site in headless Chromium"
	@$(PYTEST) tests/test_site.py -m browser -q

clean:
	rm -rf _build

# Authors: after editing a chapter, refresh its stored outputs (nbval compares against them).
notebooks: setup
	@$(BIN)/python .ci/notebooks.py execute $(NB)

repo-url:
	@test -n "$(URL)" || { echo "usage: make repo-url URL=https://github.com/OWNER/NAME"; exit 2; }
	@$(BIN)/python .ci/notebooks.py repo-url "$(URL)"

constraints: $(STAMP)
	@{ sed -n '1,3p' constraints.txt; $(BIN)/python -m pip freeze --exclude-editable | sed 's/^torch==\(.*\)+cpu$$/torch==\1/'; } > constraints.tmp
	@mv constraints.tmp constraints.txt && echo "constraints.txt updated"
