# The two commands: `make run` and `make test`. Both install what they need on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RUN_STAMP := $(VENV)/.installed-run

.PHONY: run run-install test lint format install engine clean postgres-server chromium fuzz

# `make run` installs only what the server needs, without compiling every module ahead (Python
# compiles what it imports): on a fresh clone this halves pip's time (docs/forecasting.md)
$(RUN_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --no-compile -e .
	touch $(RUN_STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

engine/node_modules/.package-lock.json: engine/package-lock.json
	@command -v npm >/dev/null || { echo "npm (Node.js 20+) is needed for the embedded engine, or set DATABASE_URL"; exit 1; }
	cd engine && npm ci --no-audit --no-fund --loglevel=error

# tests/test_cli_database_errors.py runs a throw-away plain PostgreSQL cluster; as root, install
# the server programs when the machine has none (otherwise that test says what is missing)
postgres-server:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] || \
		{ apt-get update -qq && apt-get install -y -qq --no-install-recommends postgresql; }

# the web UI's and the API docs' front-end packages; --ignore-scripts: no install-time telemetry
web/node_modules/.package-lock.json: web/package-lock.json
	@command -v npm >/dev/null || { echo "npm (Node.js 20+) is needed for the web UI's packages"; exit 1; }
	cd web && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error

install: $(STAMP) engine/node_modules/.package-lock.json web/node_modules/.package-lock.json

# the browser tests drive Debian's chromium package; nothing downloads a browser
CHROMIUM := /usr/bin/chromium
chromium:
	@test -x $(CHROMIUM) || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else \
	    echo "The browser tests need Debian's chromium at $(CHROMIUM): run 'sudo apt-get install chromium'"; \
	    exit 1; \
	  fi; }

# what `make run` installs, side by side: the two npm installs end while pip still runs
run-install: $(RUN_STAMP) engine/node_modules/.package-lock.json web/node_modules/.package-lock.json
	@:

run:
	@$(MAKE) --no-print-directory -j3 run-install
	$(BIN)/ess run

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/sqlfluff lint sql api

test: install chromium lint postgres-server
	$(BIN)/pytest

# a longer, random schemathesis run over the OpenAPI document (make test runs a bounded one)
FUZZ_EXAMPLES ?= 200
fuzz: install
	ESS_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest tests/test_schemathesis.py -p no:logging

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
	$(BIN)/sqlfluff fix sql api

clean:
	rm -rf $(VENV) engine/node_modules web/node_modules .pytest_cache .ruff_cache tests/artifacts
