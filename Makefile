# The course's entry points.  `make demo` and `make test` work on a fresh machine: they create
# .venv and install what is missing (Python packages from pyproject.toml; bubblewrap for the
# grader's sandbox through scripts/install-system-deps.sh).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test test-fast bench lectures lab clean system-deps

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	@touch $(STAMP)

venv: $(STAMP)

system-deps:
	@bash scripts/install-system-deps.sh

demo: $(STAMP)
	$(PY) bench/train_digits.py --out demo-output

test: $(STAMP) system-deps
	$(PY) -m pytest -q tests

bench: $(STAMP)
	$(PY) bench/bench_speed.py
	$(PY) bench/train_digits.py --out bench/output --no-plot

lab: $(STAMP)
	$(VENV)/bin/jupyter lab

clean:
	rm -rf demo-output build .pytest_cache
