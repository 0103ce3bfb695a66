# Two entry points for a newcomer: `make demo` and `make test`. Both build the virtual
# environment first. torch is pinned here (not in pyproject.toml, which keeps a range for
# users) because this machine kind carries a local CPU wheel of 2.13.0; an unpinned torch
# would pull gigabytes of CUDA packages.
PYTHON ?= python3
VENV   ?= .venv
TORCH  ?= torch==2.13.0
BIN    := $(VENV)/bin
OUT    ?= aekit-demo
PYTEST_ARGS ?=

.PHONY: demo test test-fast venv clean bench-quality bench-speed bench-memory bench-pretraining

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "$(TORCH)"
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(BIN)/pip install -q -e ".[test]"
	touch $@

venv: $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/aekit demo --out $(OUT)

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -n 2 --durations=15 $(PYTEST_ARGS)

test-fast: $(VENV)/.installed-test
	$(BIN)/python -m pytest -n 2 -m "not slow" $(PYTEST_ARGS)

bench-quality: $(VENV)/.installed
	$(BIN)/python benchmarks/quality.py

bench-speed: $(VENV)/.installed
	$(BIN)/python benchmarks/speed.py

bench-pretraining: $(VENV)/.installed
	$(BIN)/python benchmarks/pretraining.py

bench-memory: $(VENV)/.installed
	$(BIN)/python benchmarks/memory.py

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache
