# `make demo` and `make test` need only Python 3.11, make, git and the package index.
# Both set up .venv on first use and reuse it afterwards (reinstalling when pyproject.toml changes).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
AIRFLOW_VERSION ?= 3.3.2
# Empty means the newest release pyproject.toml allows; CI's Airflow 2.11 leg pins the floor.
COMMON_COMPAT_VERSION ?=
# More requirements for the install, e.g. pins an older Airflow needs (CI's Airflow 2.11 leg).
EXTRA_PINS ?=
PYTEST_ARGS ?=

BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-airflow-$(AIRFLOW_VERSION)-compat-$(or $(COMMON_COMPAT_VERSION),latest)$(if $(EXTRA_PINS),-pinned)
COMPAT_PIN := $(if $(COMMON_COMPAT_VERSION),apache-airflow-providers-common-compat==$(COMMON_COMPAT_VERSION))

export AIRFLOW__CORE__LOAD_EXAMPLES ?= False

.PHONY: venv demo test lint typecheck pytest clean

venv: $(STAMP)

$(BIN)/uv:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv

$(STAMP): pyproject.toml | $(BIN)/uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python \
		"apache-airflow==$(AIRFLOW_VERSION)" $(COMPAT_PIN) $(foreach pin,$(EXTRA_PINS),"$(pin)") --editable ".[parquet,redis]" --group dev
	rm -f $(VENV)/.installed-*
	touch $@

demo: venv
	$(BIN)/python scripts/demo.py

test: lint typecheck pytest

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy

# One worker per core; a worker runs a whole file (the deployment tests, in order, are one file).
pytest: venv
	$(BIN)/pytest -n auto --dist loadfile $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .venv-* .demo .pytest_cache .mypy_cache .ruff_cache
