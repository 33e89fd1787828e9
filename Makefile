# `make` alone lists the targets (make help); the README's two commands are
# `make synth` and `make test`. Every target sets up what it needs first
# (idempotent: a stamp per lock file) and says what it does. A target's `## `
# comment is its line in `make help`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
CHECKOV_VENV := .venv-checkov
PY := $(VENV)/bin/python
STAMPS := .make
# Where synth writes and plan/rehearse read: the cdktf CLI's variable, as main.py reads it.
OUTDIR = $${CDKTF_OUTDIR:-cdktf.out}
# make plan: `project` (the project's stacks), `all` (terraform-state and account-baseline too) or ids, comma-separated.
STACKS ?= project

# The project's own toolchain first: Node 22 from node_modules (jsii, the cdktf CLI),
# and no CDKTF telemetry (it prints getaddrinfo ENOTFOUND where it cannot get out).
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)
export CHECKPOINT_DISABLE ?= 1

.DEFAULT_GOAL := help
.PHONY: help synth test setup lint typecheck pytest plan rehearse provider-schema schemas cost bench bench-refusals snapshot-update lock clean

help: ## list the targets (also what `make` alone does)
	@echo "usage: make <target> [Project=<project> Env=<env> ...]   (variables: .venv/bin/python main.py --help)"
	@awk -F ':.*## ' '/^[a-zA-Z0-9_-]+:.*## / {printf "  %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

synth: $(STAMPS)/python $(STAMPS)/node ## set up, then synthesize the selected config (Project, Env) into $CDKTF_OUTDIR (default cdktf.out/); no AWS credentials
	@echo "==> synthesizing $${Project:-project-sample} $${Env:-dev} into $(OUTDIR)/ (no AWS credentials needed)"
	@$(PY) main.py
	@echo "==> done: $$(ls $(OUTDIR)/stacks | tr '\n' ' ')"

test: setup lint typecheck pytest ## set up, then ruff, mypy and pytest (every gate; what CI runs)

setup: $(STAMPS)/python $(STAMPS)/node $(STAMPS)/checkov ## install .venv, node_modules (cdktf CLI, Node 22) and .venv-checkov from the lock files

lint: $(STAMPS)/python ## ruff lint and format check
	@echo "==> ruff (lint and format check)"
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .

typecheck: $(STAMPS)/python ## mypy --strict
	@echo "==> mypy"
	@$(VENV)/bin/mypy

pytest: setup ## the test suite only
	@echo "==> pytest (synth of every sample config, Terraform's parser, checkov, snapshots)"
	@$(PY) -m pytest

plan: $(STAMPS)/python $(STAMPS)/node ## preflight, synth, then terraform init + plan per stack in deploy order (STACKS=project|all|<id>,...); needs AWS credentials
	@$(PY) -m algoinfra.plan --outdir "$(OUTDIR)" --stacks "$(STACKS)"

rehearse: synth ## Terraform init/validate/plan/apply/destroy of the selected config offline (stand-in provider, no credentials)
	@echo "==> rehearsing $(OUTDIR)/ (Terraform with the stand-in AWS provider; no credentials, no network)"
	@$(PY) -m algoinfra.rehearse "$(OUTDIR)"

provider-schema: $(STAMPS)/python ## where the real provider can be installed: regenerate the schema the stand-in serves
	@$(PY) scripts/provider_schema.py

schemas: $(STAMPS)/python ## regenerate schemas/ and the README's config reference from the config models
	@echo "==> JSON Schemas (schemas/) and the README's config reference, from the config models"
	@$(PY) -m algoinfra.config.schema

cost: $(STAMPS)/python ## idle cost per month of the selected config, or of every config without Project/Env; writes nothing
	@$(PY) main.py --cost

bench: $(STAMPS)/python ## synth speed and memory, printed (takes a few minutes)
	@echo "==> benchmark: synth speed and memory (takes a few minutes)"
	@$(PY) scripts/bench.py

bench-refusals: $(STAMPS)/python ## how long each kind of bad input takes to be refused, printed
	@echo "==> benchmark: how long each kind of bad input takes to be refused (goal: well under a second)"
	@$(PY) scripts/bench_refusals.py

snapshot-update: setup ## rewrite tests/__snapshots__ after an intended change to the synthesized stacks; review the diff
	@echo "==> rewriting snapshots: review the diff, every changed logical id is real infrastructure"
	@$(PY) -m pytest tests/test_snapshots.py --snapshot-update

lock: $(STAMPS)/python $(STAMPS)/checkov ## re-pin requirements*.lock from the installed venvs
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
	@echo "==> cdktf CLI and Node.js 22 from npm (pinned in package-lock.json)"
	@npm ci --no-audit --no-fund --loglevel=error
	@mkdir -p $(STAMPS) && touch $@

clean: ## remove every installed and generated file (venvs, node_modules, cdktf.out, caches)
	rm -rf $(STAMPS) $(VENV) $(CHECKOV_VENV) node_modules cdktf.out .pytest_cache .mypy_cache .ruff_cache
