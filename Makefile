# Legacy Auth Monitor: the two commands a new user needs are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP_FLAGS := --quiet --disable-pip-version-check

.PHONY: install browser demo test quick lint typecheck unit infra lock clean

INFRA_VENV := .venv-infra

install: $(VENV)/.installed node_modules/.installed $(INFRA_VENV)/.installed browser

# Installs only what the lock files name, each file checked against its hash (--no-deps: the lock
# is the whole tree). Edit the .in files, then `make lock`.
HASHED := --require-hashes --no-deps

$(VENV)/.installed: requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install $(PIP_FLAGS) $(HASHED) -r requirements-dev.txt
	$(PY) -m pip check
	touch $@

$(INFRA_VENV)/.installed: requirements-infra.txt
	$(PYTHON) -m venv $(INFRA_VENV)
	$(INFRA_VENV)/bin/python -m pip install $(PIP_FLAGS) $(HASHED) -r requirements-infra.txt
	touch $@

# The lock files: every transitive dependency pinned with its hashes, for Python 3.11 on any OS.
LOCK := $(VENV)/bin/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes \
	--custom-compile-command "make lock"

lock: $(VENV)/.installed
	$(LOCK) requirements.in -o requirements.txt
	$(LOCK) requirements-dev.in -o requirements-dev.txt
	$(LOCK) requirements-infra.in --override requirements-infra-overrides.in -o requirements-infra.txt

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
