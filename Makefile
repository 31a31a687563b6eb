# The two commands: `make run` and `make test`. Both install what they need on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format install engine clean postgres-server

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

install: $(STAMP) engine/node_modules/.package-lock.json

run: install
	$(BIN)/ess run

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/sqlfluff lint sql api

test: install lint postgres-server
	$(BIN)/pytest

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
	$(BIN)/sqlfluff fix sql api

clean:
	rm -rf $(VENV) engine/node_modules .pytest_cache .ruff_cache
