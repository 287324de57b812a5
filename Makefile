# PushPilot — the two commands: `make run` and `make test`. Everything else is a helper of theirs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
NPM ?= npm

# `make test` keeps off `make run`'s data: its own database, Redis database number and queue names.
TEST_ENV := DJANGO_SETTINGS_MODULE=pushpilot.test_settings

.PHONY: run test install install-test frontend lint check-migrations test-backend test-frontend test-e2e \
	chromium perf clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(PY)
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install -q -e ".[test]"
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

frontend/node_modules/.package-lock.json: frontend/package.json frontend/package-lock.json
	cd frontend && $(NPM) ci --no-audit --no-fund --loglevel=error

frontend/openapi.json: $(VENV)/.installed $(shell find tenants integrations campaigns analytics pushpilot -name '*.py' 2>/dev/null)
	$(PY) manage.py spectacular --format openapi-json --file frontend/openapi.json --validate --fail-on-warn

frontend: frontend/node_modules/.package-lock.json frontend/openapi.json
	cd frontend && $(NPM) run build --silent

run: install frontend
	$(PY) -m pushpilot.launcher

# Debian's Chromium drives the browser tests; Playwright's own browser download is not possible here.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "installing Debian's chromium for the browser tests"; \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; fi; }

lint: install-test frontend/node_modules/.package-lock.json frontend/openapi.json
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	cd frontend && $(NPM) run lint --silent

check-migrations: install-test
	$(TEST_ENV) $(PY) manage.py makemigrations --check --dry-run

test-backend: install-test
	$(TEST_ENV) $(BIN)/pytest -q -m "not e2e"

test-frontend: frontend
	cd frontend && $(NPM) test --silent

test-e2e: install-test frontend chromium
	$(TEST_ENV) $(BIN)/pytest -q -m e2e tests/e2e tests/sdk

test: lint check-migrations test-backend test-frontend test-e2e

perf: install-test
	$(PY) -m tests.perf.bench_tenancy

clean:
	rm -rf $(VENV) frontend/node_modules frontend/dist frontend/openapi.json .pushpilot
