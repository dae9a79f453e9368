# cxlab — `make reports` and `make test` are all a fresh machine needs.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
export PYDEVD_DISABLE_FILE_VALIDATION := 1
PORT ?= 8866
CHANNEL ?= latest

.DEFAULT_GOAL := help
.PHONY: help install data reports test lint lab serve browser notebook-outputs bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

install: $(VENV)/.installed ## create .venv and install cxlib with its test tools

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	@# rfc3987-syntax costs ~2 s in every notebook process (jsonschema#1428); nothing needs it
	$(BIN)/python -m pip uninstall -y -q rfc3987-syntax || true
	touch $@

data: data/demo/truth.json data/demo-ci/truth.json ## write the demo data sets (20,000 and 2,000 customers)

data/demo/truth.json: $(VENV)/.installed cxlib/synth.py
	$(BIN)/cx demo --customers 20000 --seed 42 --out data/demo

data/demo-ci/truth.json: $(VENV)/.installed cxlib/synth.py
	$(BIN)/cx demo --customers 2000 --seed 7 --out data/demo-ci

reports: data/demo/truth.json ## run every report notebook on the demo data and publish to reports/
	$(BIN)/cx run params/default.yaml

browser: ## install Debian's chromium for the browser tests when it is missing (needs root)
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } \
	  || echo "chromium missing: browser tests will be skipped (install Debian's chromium)"; }

test: $(VENV)/.installed data/demo-ci/truth.json browser ## every test: unit, property, truth, nbval, end-to-end, Spark, browser, lint
	$(BIN)/python -m pytest --nbval-lax --nbval-current-env -p no:cacheprovider tests notebooks/[0-9]*.ipynb

lint: $(VENV)/.installed ## ruff over the package, tests, benchmarks and notebooks
	$(BIN)/ruff check cxlib tests benchmarks notebooks

lab: $(VENV)/.installed data ## open JupyterLab on the project
	$(BIN)/jupyter lab --allow-root --no-browser --ServerApp.ip=127.0.0.1 --ServerApp.root_dir=$(CURDIR)

serve: $(VENV)/.installed ## serve the manager dashboards (overview, segments, journeys) on 127.0.0.1:8866 (PORT=…, CHANNEL=latest|ci|…, PUBLIC_URL=https://… behind a proxy)
	$(BIN)/cx serve --channel $(CHANNEL) --port $(PORT) $(if $(PUBLIC_URL),--public-url $(PUBLIC_URL))

notebook-outputs: $(VENV)/.installed data/demo-ci/truth.json ## re-run notebooks, store only NBVAL_CHECK_OUTPUT outputs
	$(BIN)/python -m cxlib.notebooks

bench: $(VENV)/.installed ## the benchmarks (engine and whole commands vs DuckDB, pandas, PM4Py; runs; segments at 1 M customers; dashboards in Chromium): ~30 min
	$(BIN)/python benchmarks/journeys.py
	$(BIN)/python benchmarks/commands.py
	$(BIN)/python benchmarks/runs.py
	$(BIN)/python benchmarks/segments.py
	test -d reports/latest/tables || $(MAKE) reports
	$(BIN)/python benchmarks/dashboard.py

clean: ## remove generated data and reports (keeps .venv)
	rm -rf data/demo data/demo-ci reports/runs reports/latest reports/index.html
