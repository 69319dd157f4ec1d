# The course's entry points.  `make demo` and `make test` work on a fresh machine: they create
# .venv and install what is missing (Python packages from pyproject.toml; bubblewrap for the
# grader's sandbox through scripts/install-system-deps.sh).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.DEFAULT_GOAL := help
PORT   ?= 8888
ARGS   ?=

.PHONY: help demo test bench site lectures lab release clean system-deps venv student-kit

help:  ## this list
	@echo "make TARGET   (a fresh machine needs nothing else: .venv and system packages are installed on first use)"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## (.*)/  \1\t\2/' | expand -t 16

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	@touch $(STAMP)

venv: $(STAMP)  ## create .venv and install the course's Python packages

system-deps:  ## install bubblewrap, seccomp, chromium (as root) and the sandbox account
	@bash scripts/install-system-deps.sh

# The demo still runs without bubblewrap (it then grades unsandboxed and skips the attacks).
demo: $(STAMP)  ## the whole pipeline in demo-output/ (its own course; course/ is never touched)
	-@bash scripts/install-system-deps.sh --no-browser
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 $(PY) scripts/demo.py --out demo-output

# Unit, red-team, assignment and browser tests, and the course site built once (tests/test_site.py), which executes
# every lecture notebook: a cell's error fails the build, as nbval's lax mode failed the cell.
# One BLAS thread: the tests' matrices are small, and parallel BLAS on a busy machine only adds contention.
test: $(STAMP) system-deps  ## every test: unit, red team, assignments, browser, the site (lectures executed)
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(PY) -m pytest -q tests

release: $(STAMP)  ## build assignments/ from solutions/ and publish them to the course exchange
	$(PY) -m autograder release

# The course site (Sphinx, MyST-NB, sphinx-book-theme; the project is site/): the lectures executed (each one's run
# time printed), the released assignments, the guides.  Opens offline: build/site/index.html.
site: $(STAMP)  ## the course site in build/site: lectures (executed), assignments, guides, search; works offline
	$(PY) scripts/build_site.py --out build/site

lectures: site  ## the same as `make site` (its former name)

# The archive students get: the course wheel, the released notebooks, the course site, a guide (docs/student-kit.md).
student-kit: $(STAMP)  ## build/nnkit-course-kit.zip for students (wheel, assignments, course site, install guide)
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 $(PY) scripts/build_student_kit.py --out build

bench: $(STAMP)  ## speed against PyTorch, digits accuracy, grader against nbgrader
	$(PY) bench/bench_speed.py
	$(PY) bench/train_digits.py --out bench/output
	$(PY) bench/bench_grader.py

# JupyterLab at the repository root; its formgrader finds the course through ./nbgrader_config.py.
# One BLAS thread in notebooks: their small matrix products get no faster with two, and much slower when
# another program is busy on the second core (bench/README.md). As root (containers) Jupyter needs --allow-root.
# Build folders (*.egg-info, caches) are hidden from the file browser.  e.g. make lab PORT=9000 ARGS=--no-browser
lab: $(STAMP)  ## JupyterLab with the formgrader (PORT=8888, ARGS="--no-browser ..." passed to jupyter lab)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 \
		$(VENV)/bin/jupyter lab --port=$(PORT) $(if $(filter 0,$(shell id -u)),--allow-root) \
		'--ContentsManager.hide_globs=["__pycache__","*.pyc","*.egg-info",".ipynb_checkpoints",".pytest_cache"]' \
		$(ARGS)

clean:  ## remove demo-output/, build/ and caches (never course/ data)
	rm -rf demo-output build .pytest_cache
