# One venv, made on demand; every target works on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
TORCH  ?= torch==2.13.0

.PHONY: demo test lint format bench clean docs

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.demo: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e ".[demo]"
	touch $@

$(VENV)/.test: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e ".[test]"
	# PyTorch is the parity reference; 2.13.0 is the CPU build on local disk.
	$(BIN)/pip install -q "$(TORCH)" || echo "torch not installed: parity tests will be skipped"
	touch $@

$(VENV)/.bench: $(VENV)/.test
	$(BIN)/pip install -q -e ".[bench]"
	touch $@

demo: $(VENV)/.demo
	$(BIN)/densekit demo

test: lint
	$(BIN)/python -m pytest -q

lint: $(VENV)/.test
	$(BIN)/ruff format --check src tests benchmarks examples
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/lint-imports
	$(BIN)/pydoclint --config pyproject.toml -q src/densekit

format: $(VENV)/.test
	$(BIN)/ruff format src tests benchmarks examples
	$(BIN)/ruff check --fix src tests benchmarks examples

bench: $(VENV)/.bench
	$(BIN)/python benchmarks/run.py

$(VENV)/.docs: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e ".[docs]"
	touch $@

# The site, into docs/_build/html: the gallery runs examples/, warnings are errors.
docs: $(VENV)/.docs
	rm -rf docs/_build docs/auto_examples
	$(BIN)/python -m sphinx -W --keep-going -q -b html docs docs/_build/html
	@echo "docs: open docs/_build/html/index.html"

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache docs/_build docs/auto_examples
