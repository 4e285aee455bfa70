# csxa-lightning: `make test` and `make demo` create .venv on first use and reuse it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The stamp is newer than pyproject.toml once the environment matches it.
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help venv test test-all test-slow test-gpu lint format demo demo-null report bench bench-data bench-device wheels clean

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

test-all: $(STAMP)  ## every test but the CUDA ones (make test-gpu), slow ones included
	$(BIN)/python -m pytest -m "not gpu"

test-slow: $(STAMP)  ## only the slow tests (soak, launcher sweeps, wheel, demo effects, bench); CI runs them after make test
	$(BIN)/python -m pytest -m "slow and not gpu"

test-gpu: $(STAMP)  ## the CUDA tests (pytest -m gpu; skipped where there is no GPU)
	$(BIN)/python -m pytest -m gpu

lint: $(STAMP)  ## ruff: lint and format check
	$(BIN)/ruff check csxa_lightning tests
	$(BIN)/ruff format --check csxa_lightning tests

format: $(STAMP)  ## ruff: apply fixes and formatting
	$(BIN)/ruff check --fix csxa_lightning tests
	$(BIN)/ruff format csxa_lightning tests

demo: $(STAMP)  ## the Table 1 grid at demo scale on the planted-effect phantom, then its report
	$(BIN)/python -m csxa_lightning.train experiment=demo

demo-null: $(STAMP)  ## the same grid on the null phantom (labels independent of the films)
	$(BIN)/python -m csxa_lightning.train experiment=demo_null

SWEEP ?=
report: $(STAMP)  ## rebuild the report of the latest sweep (or SWEEP=outputs/sweeps/NAME)
	$(BIN)/python -m csxa_lightning.report $(SWEEP)

bench: $(STAMP)  ## training throughput here (model only, end to end, naive, loaders) -> outputs/bench/bench.json
	$(BIN)/python -m csxa_lightning.bench $(BENCH_ARGS)

bench-data: $(STAMP)  ## data pipeline speed and SMOTE memory on a CSXA-sized phantom (~10 min)
	$(BIN)/python -m csxa_lightning.bench data

# What the lent GPU machine lacks (it has torch, lightning, torchmetrics, OpenCV, pandas,
# scikit-learn, scipy, statsmodels, matplotlib, markdown, PyYAML, tqdm), pinned to the
# versions tested here. antlr4 and grad-cam exist only as source archives: built into wheels
# (pure Python).
DEVICE_WHEELS := hydra-core==1.3.8 omegaconf==2.3.1 albumentations==2.0.8 albucore==0.0.24 \
	pydantic==2.14.4 pydantic-core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5 \
	typing-extensions==4.16.0 stringzilla==5.3.2 simsimd==6.5.16 imbalanced-learn==0.14.2 \
	sklearn-compat==0.1.6 openpyxl==3.1.5 et-xmlfile==2.0.0 filelock==4.3.1 ttach==0.0.3
DEVICE_PLATFORMS := $(foreach n,17 27 28 31 34,--platform manylinux_2_$(n)_x86_64) \
	--platform manylinux2014_x86_64
wheels: $(STAMP)  ## download the wheels the GPU machine lacks into .whl/ (Python 3.12, x86-64)
	mkdir -p $(WHEELS_DIR)
	$(BIN)/python -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
		--implementation cp $(DEVICE_PLATFORMS) -d $(WHEELS_DIR) $(DEVICE_WHEELS)
	$(BIN)/python -m pip wheel --quiet --no-deps -w $(WHEELS_DIR) antlr4-python3-runtime==4.9.3 \
		grad-cam==1.5.7

# On the GPU machine (no .venv, no network): the carried wheels into /tmp/site, then the
# benchmark and the 30-epoch CSXA-scale run, results under $$OUT. DEVICE_ARGS=--quick for a
# short check (it is run that way on the CPU in a slow test).
OUT ?= outputs/device
DEVICE_PYTHON ?= python3
WHEELS_DIR ?= .whl
bench-device:  ## on a lent GPU machine: GPU tests, bench, 30-epoch CSXA-scale run; results under OUT
	test ! -d $(WHEELS_DIR) || $(DEVICE_PYTHON) -m pip install -q --no-index --no-deps \
		--no-compile --no-cache-dir --upgrade --target /tmp/site $(WHEELS_DIR)/*.whl
	NO_ALBUMENTATIONS_UPDATE=1 PYTHONPATH=/tmp/site:$(CURDIR) \
		$(DEVICE_PYTHON) -m csxa_lightning.bench device \
		--out $(OUT) $(DEVICE_ARGS)

clean:  ## remove build artefacts and run outputs (keeps .venv and the cache dir)
	rm -rf outputs .pytest_cache .ruff_cache build *.egg-info
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +
