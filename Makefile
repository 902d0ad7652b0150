VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup repro test test-fast

# Idempotent: reinstalls only when a requirements file changed since the last install.
setup: $(STAMP)

$(STAMP): requirements.txt requirements-nodeps.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt
	$(PY) -m pip install --disable-pip-version-check -q --no-deps -r requirements-nodeps.txt
	$(PY) -m pip install --disable-pip-version-check -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

# dvc runs each stage's `python ...` through the shell: the venv must come first on PATH.
# The whole params file is checked first (unknown keys included), so a typo stops nothing half-run.
repro: setup
	$(PY) -m ferpipe params check
	PATH="$(abspath $(VENV))/bin:$$PATH" dvc repro

# Three pytest workers (pytest-xdist) on two cores, one test file at a time each, the longest files first
# (the Ray sweep module on one worker, the end-to-end test_pipeline.py on another, the rest around them)
# and the files of the shared LeNet fixtures on one worker: tests/support/xdist_order.py (measured: docs/development.md).
# `pytest tests/test_x.py` alone still runs in one process.
XDIST := -n 3 --dist loadfile

test: setup
	$(PY) -m pytest $(XDIST)

# The loop for every edit: all but the tests marked slow (training, MTCNN, end-to-end dvc runs).
test-fast: setup
	$(PY) -m pytest $(XDIST) -m "not slow"
