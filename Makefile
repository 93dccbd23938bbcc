# nurture — developer entry points. `make demo` runs the local stack, `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test lint unit infra browser bench fuzz clean

$(BIN)/.installed: requirements.txt requirements-dev.txt infra/requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q "pip>=23,<26.3"
	$(BIN)/pip install -q -r requirements-dev.txt -r infra/requirements.txt
	$(BIN)/pip install -q --no-deps -e .
	touch $@

demo: $(BIN)/.installed
	$(BIN)/python -m local.stack

browser:
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q chromium; }

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy chalicelib

unit: $(BIN)/.installed
	$(BIN)/python -m pytest --ignore=tests/e2e

infra: $(BIN)/.installed
	PYTHON=$(CURDIR)/$(BIN)/python bash infra/check.sh
	$(BIN)/python -m pytest infra/tests

test: lint browser infra
	$(BIN)/python -m pytest

# The long run of the fuzz suite (make test runs a bounded one); NURTURE_FUZZ_EXAMPLES=N for more.
fuzz: $(BIN)/.installed
	NURTURE_FUZZ_PROFILE=fuzz-long $(BIN)/python -m pytest -p no:logging tests/test_fuzz.py

bench: $(BIN)/.installed
	for script in benchmarks/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) .local .pytest_cache .mypy_cache .ruff_cache .hypothesis
