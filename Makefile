# Legacy Auth Monitor: the two commands a new user needs are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP_FLAGS := --quiet --disable-pip-version-check

.PHONY: install browser demo test quick lint typecheck unit infra clean

INFRA_VENV := .venv-infra

install: $(VENV)/.installed node_modules/.installed $(INFRA_VENV)/.installed browser

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install $(PIP_FLAGS) --upgrade pip
	$(PY) -m pip install $(PIP_FLAGS) -r requirements-dev.txt
	touch $@

$(INFRA_VENV)/.installed: requirements-infra.txt
	$(PYTHON) -m venv $(INFRA_VENV)
	$(INFRA_VENV)/bin/python -m pip install $(PIP_FLAGS) -r requirements-infra.txt
	$(INFRA_VENV)/bin/python -m pip install $(PIP_FLAGS) --no-deps pycep-parser==0.7.1
	touch $@

# Debian's Chromium for the dashboard's browser test (root on CI and these machines; else use sudo).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

demo: $(VENV)/.installed node_modules/.installed
	$(PY) -m cli demo

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports --no-cache

typecheck: install
	$(PY) -m mypy

unit: install
	$(PY) -m pytest -q

quick: $(VENV)/.installed
	$(PY) -m pytest -q -m "not integration"

infra: install
	$(INFRA_VENV)/bin/checkov -d infra --framework bicep --compact --quiet --skip-download

test: lint typecheck unit

clean:
	rm -rf $(VENV) $(INFRA_VENV) node_modules .demo .mypy_cache .ruff_cache .pytest_cache
