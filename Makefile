# csxa-lightning: `make test` and `make demo` create .venv on first use and reuse it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The stamp is newer than the lock and pyproject.toml once the environment matches them.
STAMP := $(VENV)/.installed

# The exact environment CI tested: every package and its hashes, for CPython 3.11 on Linux
# x86-64 (pip-compile, from pyproject.toml's ranges and the dev extra). `make lock` rewrites it.
LOCK := requirements.lock
# Pins the lock keeps on purpose (constraints for pip-compile, on top of pyproject's ranges):
# - torch/torchvision: the pair this machine's disk serves (other pairs fail here);
# - OpenCV before 5.1: 5.1 moved warpAffine's pixels with constant and replicate borders, so
#   the GPU augmentation equals the CPU one exactly only up to 5.0 (README, "OpenCV versions").
LOCK_PINS := torch==2.14.1 torchvision==0.29.1 'opencv-python-headless<5.1'
PIP_TOOLS := pip-tools==7.7.0
SCRATCH ?= $(or $(TMPDIR),/tmp)
LOCK_TOOLS := $(SCRATCH)/csxa-lock-tools
LATEST_VENV := $(SCRATCH)/csxa-latest-venv

.DEFAULT_GOAL := help
.PHONY: help venv lock lock-upgrade lock-compile test test-all test-slow test-gpu test-latest lint format demo demo-seeds demo-landmarks demo-null \
	report bench bench-data bench-device wheels clean

# One column for the comments, as wide as the longest target; comments wrapped at 100 columns.
help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' ' \
		{ name[NR] = $$1; text[NR] = $$2; if (length($$1) > wide) wide = length($$1) } \
		END { left = wide + 9; \
			for (i = 1; i <= NR; i++) { \
				line = sprintf("  make %-" wide "s  ", name[i]); sep = ""; \
				n = split(text[i], words, " "); \
				for (w = 1; w <= n; w++) { \
					if (length(line) + length(sep) + length(words[w]) > 100 && sep != "") { \
						print line; line = sprintf("%" left "s", ""); sep = "" } \
					line = line sep words[w]; sep = " " } \
				print line } }'

# Hash-checked and without dependencies of its own: nothing enters that the lock does not name.
# The package itself goes in editable, built with the lock's setuptools (no build isolation, so
# no newer setuptools is fetched for it); pip check then proves the set is consistent.
# An existing .venv is synced: what the lock does not name (left by an older lock or by hand)
# is uninstalled first. pip freeze leaves out pip itself and the editable package.
$(STAMP): $(LOCK) pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip freeze --exclude-editable | sed 's/[=@ ].*//' | tr 'A-Z_.' 'a-z--' \
		| sort > $(VENV)/.names-installed
	grep -E '^[A-Za-z0-9]' $(LOCK) | sed 's/==.*//' | tr 'A-Z_.' 'a-z--' | sort > $(VENV)/.names-locked
	extra=$$(comm -23 $(VENV)/.names-installed $(VENV)/.names-locked); \
		test -z "$$extra" || $(BIN)/python -m pip uninstall --quiet --yes $$extra
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -m pip check
	touch $(STAMP)

venv: $(STAMP)  ## create .venv from requirements.lock (exactly what CI tested), package editable

# make lock adds what pyproject.toml newly names and keeps every other pin; make lock-upgrade
# moves every package to the newest version the ranges and LOCK_PINS allow.
lock:  ## add to requirements.lock what pyproject.toml newly names; every other pin stays
	$(MAKE) --no-print-directory lock-compile LOCK_UPGRADE=

lock-upgrade:  ## rewrite requirements.lock: the newest versions pyproject's ranges and LOCK_PINS allow
	$(MAKE) --no-print-directory lock-compile LOCK_UPGRADE=--upgrade

LOCK_UPGRADE ?=
lock-compile:
	test -x $(LOCK_TOOLS)/bin/pip-compile || ($(PYTHON) -m venv $(LOCK_TOOLS) && \
		$(LOCK_TOOLS)/bin/python -m pip install --quiet $(PIP_TOOLS))
	printf '%s\n' $(LOCK_PINS) > $(LOCK_TOOLS)/pins.txt
	CUSTOM_COMPILE_COMMAND='make lock' $(LOCK_TOOLS)/bin/pip-compile --quiet $(LOCK_UPGRADE) --extra dev \
		--generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links \
		--constraint $(LOCK_TOOLS)/pins.txt --output-file $(LOCK) pyproject.toml

# Not CI: a scratch venv with whatever is newest today, to see a release break us before a
# user does (README, "When make test-latest goes red").
test-latest:  ## fast tests in a scratch venv of the newest versions pyproject's ranges allow
	rm -rf $(LATEST_VENV) && $(PYTHON) -m venv $(LATEST_VENV)
	$(LATEST_VENV)/bin/python -m pip install --quiet --upgrade --upgrade-strategy eager -e '.[dev]'
	$(LATEST_VENV)/bin/python -m pip freeze --exclude-editable > $(LATEST_VENV)/freeze.txt
	@echo "test-latest: the versions tested are in $(LATEST_VENV)/freeze.txt"
	$(LATEST_VENV)/bin/python -m pytest -p no:cacheprovider \
		--deselect tests/unit/test_lock.py::test_installed_matches_the_lock

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

demo-seeds: $(STAMP)  ## the demo's original and wide-crop variants over three seeds: the report's ensembles
	$(BIN)/python -m csxa_lightning.train experiment=demo_seeds

demo-landmarks: $(STAMP)  ## a landmark model, then the original and wide crop on annotated and predicted landmarks, and the report
	$(BIN)/python -m csxa_lightning.train experiment=demo_landmark_model
	$(BIN)/python -m csxa_lightning.train experiment=demo_landmarks

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
# scikit-learn, scipy, statsmodels, matplotlib, markdown, PyYAML, tqdm), at the lock's versions.
# antlr4 and grad-cam exist only as source archives: built into wheels (pure Python).
DEVICE_PACKAGES := hydra-core omegaconf albumentations albucore pydantic pydantic-core \
	annotated-types typing-inspection typing-extensions stringzilla simsimd imbalanced-learn \
	sklearn-compat openpyxl et-xmlfile filelock ttach pydicom pylibjpeg pylibjpeg-libjpeg \
	pylibjpeg-openjpeg
empty :=
space := $(empty) $(empty)
locked = $(shell grep -E '^($(subst $(space),|,$(strip $(1))))==' $(LOCK) | cut -d' ' -f1)
DEVICE_WHEELS = $(call locked,$(DEVICE_PACKAGES))
SOURCE_WHEELS = $(call locked,antlr4-python3-runtime grad-cam)
DEVICE_PLATFORMS := $(foreach n,17 27 28 31 34,--platform manylinux_2_$(n)_x86_64) \
	--platform manylinux2014_x86_64
wheels: $(STAMP)  ## download the wheels the GPU machine lacks into .whl/ (Python 3.12, x86-64)
	mkdir -p $(WHEELS_DIR)
	$(BIN)/python -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
		--implementation cp $(DEVICE_PLATFORMS) -d $(WHEELS_DIR) $(DEVICE_WHEELS)
	$(BIN)/python -m pip wheel --quiet --no-deps -w $(WHEELS_DIR) $(SOURCE_WHEELS)

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
