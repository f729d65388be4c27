# changetrail developer entry points: `make` lists them. `make run` and `make test` install what
# they need. Every target has a `## description`, which `make help` prints.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
UV_VERSION := 0.13.8

.PHONY: help install run test lint unit chart-lint image-check e2e bench image crds \
	chart-readme openapi kind-e2e clean

help: ## list the targets and what each does
	@echo "Usage: make <target>"
	@awk 'BEGIN {FS = ":[^#]*## "} /^[a-z][a-z0-9-]*:.*## / {printf "  %-13s %s\n", $$1, $$2}' \
		$(firstword $(MAKEFILE_LIST))

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

test: $(STAMP) lint unit chart-lint image-check ## everything CI checks, but the e2e suite

lint: $(STAMP) ## ruff, ruff format, mypy (strict) and import contracts over every Python file
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

unit: $(STAMP) ## unit, API (SQLite and PostgreSQL), web pages (headless Chromium) and operator tests
	@scripts/ensure-postgres.sh
	@scripts/ensure-chromium.sh
	$(PY) -m pytest tests --ignore=tests/e2e --ignore=tests/chart --ignore=tests/image

chart-lint: $(STAMP) ## helm lint, template, schema, CRD copy and chart README checks
	$(PY) -m pytest tests/chart

image-check: $(STAMP) ## the Dockerfile's promises, and its build stage replayed without Docker
	$(PY) -m pytest tests/image

e2e: $(STAMP) ## the chart's pods on a real node and control plane (built once, cached)
	@e2e/run.sh

bench: $(STAMP) ## benchmarks, printed as ratios against a baseline from the same run
	@scripts/ensure-postgres.sh
	@scripts/ensure-wrk.sh
	$(PY) -m bench

# IMAGE_TAG (default: the release version) and IMAGE_PREFIX (a registry, e.g.
# registry.example.com/platform/) name the images: make image IMAGE_TAG=dev. Without a
# Docker engine, buildah builds them on a local Debian base and exports OCI archives to
# build/images (IMAGE_OUTPUT); PYTHON_IMAGE names another base.
image: ## build the changetrail-api and changetrail-operator images (Docker, or buildah)
	@scripts/build-images.sh

crds: ## copy the CRDs from crds/ into the chart (after editing crds/*.yaml)
	@scripts/sync-crds.sh

chart-readme: $(STAMP) ## regenerate charts/changetrail/README.md from values.yaml's comments
	$(PY) scripts/chart_readme.py --write

openapi: $(STAMP) ## regenerate api/openapi.json, the HTTP contract the operator is tested against
	$(VENV)/bin/changetrail openapi > api/openapi.json

kind-e2e: ## the e2e suite against a kind cluster (needs Docker and kind)
	@e2e/kind.sh

clean: ## remove .venv and the tools' caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
