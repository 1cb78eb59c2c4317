# Two commands for a fresh machine with Python >= 3.11: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint stress bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.run-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev,live]'
	touch $@ $(VENV)/.run-installed

run: $(VENV)/.run-installed
	$(BIN)/margin-dojo

test: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest

stress: $(VENV)/.dev-installed
	$(BIN)/python -m bench.stress --commands 2000 --kills 20
	FUZZ_EXAMPLES=5000 $(BIN)/pytest -q tests/test_reliability.py -k fuzzed

bench: $(VENV)/.dev-installed
	$(BIN)/python -m bench.commands
	$(BIN)/python -m bench.sweep --positions 100000 --accounts 20000
	$(BIN)/python -m bench.alerts

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
