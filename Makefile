# csxa-lightning: `make test` and `make demo` create .venv on first use and reuse it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The stamp is newer than pyproject.toml once the environment matches it.
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help venv test test-all lint format demo report bench bench-data clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-9s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)  ## create .venv (python3 -m venv, editable install with dev extras)

test: $(STAMP)  ## fast tests (< 10 min on 2 CPU cores); slow and gpu tests excluded
	$(BIN)/python -m pytest

test-all: $(STAMP)  ## every test, slow ones included (gpu tests need a CUDA device)
	$(BIN)/python -m pytest -m "not gpu"

lint: $(STAMP)  ## ruff: lint and format check
	$(BIN)/ruff check csxa_lightning tests
	$(BIN)/ruff format --check csxa_lightning tests

format: $(STAMP)  ## ruff: apply fixes and formatting
	$(BIN)/ruff check --fix csxa_lightning tests
	$(BIN)/ruff format csxa_lightning tests

demo: $(STAMP)  ## the whole Table 1 grid at demo scale on the phantom set, then its report
	$(BIN)/python -m csxa_lightning.train experiment=demo

SWEEP ?=
report: $(STAMP)  ## rebuild the report of the latest sweep (or SWEEP=outputs/sweeps/NAME)
	$(BIN)/python -m csxa_lightning.report $(SWEEP)

bench-data: $(STAMP)  ## data pipeline speed and SMOTE memory on a CSXA-sized phantom (~10 min)
	$(BIN)/python -m csxa_lightning.bench data

bench: bench-data  ## every benchmark

clean:  ## remove build artefacts and run outputs (keeps .venv and the cache dir)
	rm -rf outputs .pytest_cache .ruff_cache build *.egg-info
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +
