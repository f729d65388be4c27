# changetrail developer entry points. `make run` and `make test` install what they need.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
UV_VERSION := 0.13.8

.PHONY: install run test unit lint chart-lint e2e bench image kind-e2e clean

# uv installs both components editable with the development tools, at the versions uv.lock pins;
# --locked fails when the lock file no longer matches the pyproject files.
$(STAMP): pyproject.toml api/pyproject.toml operator/pyproject.toml uv.lock
	@test -x $(PY) || python3 -m venv $(VENV)
	@test -x $(VENV)/bin/uv || $(VENV)/bin/pip install -q uv==$(UV_VERSION)
	@UV_PYTHON_DOWNLOADS=never $(VENV)/bin/uv sync -q --locked --python $(PY)
	@touch $@

install: $(STAMP) ## create .venv with changetrail and its development tools

run: $(STAMP) ## serve the API on SQLite (and the operator when a cluster is reachable)
	@scripts/run.sh

test: $(STAMP) lint unit chart-lint ## everything CI checks, but the e2e suite

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

unit: $(STAMP) ## unit, API (SQLite and PostgreSQL) and operator tests
	@scripts/ensure-postgres.sh
	$(PY) -m pytest tests --ignore=tests/e2e --ignore=tests/chart

chart-lint: $(STAMP) ## helm lint, template and schema checks of the chart
	$(PY) -m pytest tests/chart

e2e: $(STAMP) ## the operator and chart against a real control plane (built once, cached)
	@e2e/run.sh

bench: $(STAMP) ## benchmarks, printed as ratios against a baseline from the same run
	@scripts/ensure-postgres.sh
	@scripts/ensure-wrk.sh
	$(PY) -m bench

image: ## build the container image (needs Docker)
	docker build -t changetrail:dev .

kind-e2e: ## the e2e suite against a kind cluster (needs Docker and kind)
	@e2e/kind.sh

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
