# One entry point for people and CI. `make test` works on a fresh Debian machine: it creates .venv, installs what
# the machine lacks, prepares the cached real components, lints, and runs every test tier.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# Which tiers to run, as a pytest marker expression: `make test TIERS=db`, `make test TIERS="unit or vector"`.
TIERS  ?=
PYTEST_ARGS ?=

STAMP := $(VENV)/.installed

.PHONY: help venv system-packages tools lint format generate test unit wheel demo clean

help:
	@echo "make demo      run the demo: embedded PostgreSQL, sample logs, usage report"
	@echo "make test      lint, then every test tier (TIERS=db to run one tier)"
	@echo "make lint      ruff, mypy, import-linter"
	@echo "make wheel     build the wheel into dist/"
	@echo "make generate  regenerate the CRD, its reference page and the chart's values schema"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

# Debian packages the tests need (PostgreSQL server binaries, ...); installed only when missing.
system-packages:
	tools/ensure-system-packages

# Real components built or installed once and cached outside the repository (~/.cache/georchestra-analytics).
tools: venv
	@for module in $(TOOL_MODULES); do \
	  if [ -f "$$(echo $$module | tr . /).py" ]; then $(BIN)/python -m $$module ensure || exit 1; fi; \
	done
TOOL_MODULES := tests.support.timescaledb tests.support.k8s_assets tests.support.superset tests.support.actionlint tests.support.promtool tests.support.prometheus_operator_crd

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# Files generated from the spec model: the CRD, its reference page, the chart's values schema and README table.
# Tests fail when they are stale; this target brings them up to date.
generate: venv
	$(BIN)/georchestra-analytics crd > helm/georchestra-analytics/crds/analyticsstacks.yaml
	$(BIN)/georchestra-analytics crd --reference > docs/analyticsstack.md
	$(BIN)/python -m tests.support.helm_docs

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: venv system-packages tools lint
	$(BIN)/pytest $(if $(TIERS),-m "$(TIERS)") $(PYTEST_ARGS)

unit: venv
	$(BIN)/pytest -m unit $(PYTEST_ARGS)

# DIST: where the wheel goes (the ansible tier builds one into a temporary directory with this target).
DIST ?= dist
wheel: venv
	$(BIN)/python -m build --wheel --no-isolation --outdir $(DIST) .

demo: $(STAMP)
	$(BIN)/georchestra-analytics demo

clean:
	rm -rf $(VENV) dist build .pytest_cache .mypy_cache .ruff_cache .hypothesis
