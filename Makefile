# `make run`: set up what is missing, then run the DVC pipeline on params.yaml's city.
# `make test`: set up what is missing, then run the whole test suite (slow tests included).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export PATH := $(BIN):$(PATH)

.PHONY: setup llvm chromium run test test-fast clean-data

setup: llvm $(STAMP)

llvm:
	@bash scripts/ensure-llvm.sh

# only the tests need a browser (tests/test_webmap.py: the `stin view` page, headless)
chromium:
	@bash scripts/ensure-chromium.sh

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@# DeepMIMO (the export's test loads it): --no-deps, as its numpy<2.3 cap would downgrade the whole stack
	$(BIN)/python -m pip install --quiet --no-deps "deepmimo==4.0.5"
	@touch $(STAMP)

run: setup
	$(BIN)/dvc repro

# Tests run on PYTEST_WORKERS processes (pytest-xdist; the CI machine has 2 cores; 0: in this process), the
# slow ones first and idle workers stealing queued tests (tests/conftest.py orders them).
PYTEST_WORKERS ?= 2
PYTEST := $(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist worksteal

# pytest exits 5 when it collected no test: that must fail, not pass silently.
test: setup chromium
	@$(PYTEST); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "error: pytest collected no tests" >&2; exit 1; fi; exit $$rc

test-fast: setup chromium
	$(PYTEST) -m "not slow"

clean-data:
	rm -rf data results
