# The course's entry points.  `make demo` and `make test` work on a fresh machine: they create
# .venv and install what is missing (Python packages from pyproject.toml; bubblewrap for the
# grader's sandbox through scripts/install-system-deps.sh).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test bench lectures lab release clean system-deps venv

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	@touch $(STAMP)

venv: $(STAMP)

system-deps:
	@bash scripts/install-system-deps.sh

# The demo still runs without bubblewrap (it then grades unsandboxed and skips the attacks).
demo: $(STAMP)
	-@bash scripts/install-system-deps.sh
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 $(PY) scripts/demo.py --out demo-output

# Unit, red-team and assignment tests, then every lecture notebook executed by nbval (lax mode).
# One BLAS thread: the tests' matrices are small, and parallel BLAS on a busy machine only adds contention.
test: $(STAMP) system-deps
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(PY) -m pytest -q --nbval-lax tests lectures

release: $(STAMP)
	$(PY) -m autograder release

# Execute every lecture and render HTML a student can open without Jupyter (offline: MathJax is copied along).
lectures: $(STAMP)
	$(PY) scripts/render_lectures.py --out build/lectures

bench: $(STAMP)
	$(PY) bench/bench_speed.py
	$(PY) bench/train_digits.py --out bench/output
	$(PY) bench/bench_grader.py

# JupyterLab at the repository root; its formgrader finds the course through ./nbgrader_config.py.
# One BLAS thread in notebooks: their small matrix products get no faster with two, and much slower when
# another program is busy on the second core (bench/README.md). As root (containers) Jupyter needs --allow-root.
lab: $(STAMP)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 \
		$(VENV)/bin/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root)

clean:
	rm -rf demo-output build .pytest_cache
