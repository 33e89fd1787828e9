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

# CDK Terrain, the maintained fork of CDKTF, in its own virtualenv (pinned in requirements-terrain.lock).
TERRAIN_VENV := .venv-terrain
TERRAIN_PY := $(TERRAIN_VENV)/bin/python

# The framework `make synth` builds with: CDK=cdktf (the default) or CDK=terrain.
CDK ?= cdktf
ifeq ($(CDK),cdktf)
SYNTH_PY := $(PY)
SYNTH_SETUP := $(STAMPS)/python
SYNTH_ENV :=
else ifeq ($(CDK),terrain)
SYNTH_PY := $(TERRAIN_PY)
SYNTH_SETUP := $(STAMPS)/terrain
SYNTH_ENV := ALGOINFRA_CDK=terrain
else
$(error CDK=$(CDK): use CDK=cdktf (the default) or CDK=terrain)
endif

# Where the rehearsal (issue 13: Terraform core + a stand-in provider) plugs into `make test-terrain`:
# a command run on Terrain's output of every sample config in $(TERRAIN_OUT), for example
#   TERRAIN_REHEARSAL = $(PY) -m algoinfra.rehearse $(TERRAIN_OUT)
# The stand-in provider must then serve hashicorp/aws 6.69.1 (the version cdktn-provider-aws 25.8.1 pins)
# with its schema, generated where the Terraform registry is reachable (scripts/provider_schema.py
# --version 6.69.1 on the rehearse branch); these machines cannot download it. Until then it is empty.
TERRAIN_REHEARSAL ?=
TERRAIN_OUT := cdktf.out.terrain

.DEFAULT_GOAL := help
.PHONY: help synth test setup lint typecheck pytest plan rehearse provider-schema schemas cost bench bench-refusals snapshot-update lock clean setup-terrain test-terrain lock-terrain

help: ## list the targets (also what `make` alone does)
	@echo "usage: make <target> [Project=<project> Env=<env> ...]   (variables: .venv/bin/python main.py --help)"
	@awk -F ':.*## ' '/^[a-zA-Z0-9_-]+:.*## / {printf "  %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

synth: $(SYNTH_SETUP) $(STAMPS)/node ## set up, then synthesize the selected config (Project, Env) into $CDKTF_OUTDIR (default cdktf.out/); CDK=terrain builds with CDK Terrain; no AWS credentials
	@echo "==> synthesizing $${Project:-project-sample} $${Env:-dev} into $(OUTDIR)/ with $(CDK) (no AWS credentials needed)"
	@$(SYNTH_ENV) $(SYNTH_PY) main.py
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

# Not part of `make test`: it installs a second framework. Synthesizes every sample config with both
# frameworks and fails on any difference but the framework's and the provider's version strings.
test-terrain: setup $(STAMPS)/terrain ## every config with CDKTF and with CDK Terrain: identical but for version strings (installs .venv-terrain; not in make test)
	@echo "==> CDK Terrain: every sample config with CDKTF and with CDK Terrain, identical but for versions"
	@$(PY) -m pytest -m terrain
ifeq ($(strip $(TERRAIN_REHEARSAL)),)
	@echo "==> rehearsal of the Terrain output: not run (TERRAIN_REHEARSAL is empty: no hashicorp/aws 6.69.1 schema yet)"
else
	@echo "==> rehearsal of the Terrain output ($(TERRAIN_OUT)/)"
	@rm -rf $(TERRAIN_OUT) && ALGOINFRA_CDK=terrain CDKTF_OUTDIR=$(TERRAIN_OUT) $(TERRAIN_PY) main.py --all-configs
	@$(TERRAIN_REHEARSAL)
endif

setup-terrain: $(STAMPS)/terrain $(STAMPS)/node ## install .venv-terrain (CDK Terrain) from requirements-terrain.lock

bench: $(STAMPS)/python $(STAMPS)/terrain ## synth speed and memory, CDKTF and CDK Terrain, printed (takes a few minutes)
	@echo "==> benchmark: synth speed and memory (takes a few minutes)"
	@$(PY) scripts/bench.py

bench-refusals: $(STAMPS)/python ## how long each kind of bad input takes to be refused, printed
	@echo "==> benchmark: how long each kind of bad input takes to be refused (goal: well under a second)"
	@$(PY) scripts/bench_refusals.py

snapshot-update: setup ## rewrite tests/__snapshots__ after an intended change to the synthesized stacks; review the diff
	@echo "==> rewriting snapshots: review the diff, every changed logical id is real infrastructure"
	@$(PY) -m pytest tests/test_snapshots.py --snapshot-update

lock: $(STAMPS)/python $(STAMPS)/checkov lock-terrain ## re-pin requirements*.lock from the installed venvs
	@(echo "# Every Python package of .venv, pinned (regenerate with: make lock)."; $(VENV)/bin/pip freeze) > requirements.lock
	@(echo "# Every package of .venv-checkov, pinned (regenerate with: make lock)."; $(CHECKOV_VENV)/bin/pip freeze) > requirements-checkov.lock

# A fresh .venv-terrain from pyproject.toml's dependencies (CDKTF packages replaced), then pinned.
lock-terrain: $(STAMPS)/python ## re-create .venv-terrain from pyproject.toml and re-pin requirements-terrain.lock
	@echo "==> CDK Terrain: $(TERRAIN_VENV) from pyproject.toml's dependencies, pinned in requirements-terrain.lock"
	@rm -rf $(TERRAIN_VENV) && $(PYTHON) -m venv $(TERRAIN_VENV)
	@$(TERRAIN_PY) -m pip install --quiet --disable-pip-version-check $$($(PY) scripts/terrain_deps.py)
	@(echo "# Every Python package of .venv-terrain, pinned (regenerate with: make lock-terrain)."; $(TERRAIN_VENV)/bin/pip freeze) > requirements-terrain.lock
	@mkdir -p $(STAMPS) && touch $(STAMPS)/terrain

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

$(STAMPS)/terrain: requirements-terrain.lock
	@echo "==> CDK Terrain into $(TERRAIN_VENV) (pinned in requirements-terrain.lock)"
	@test -x $(TERRAIN_PY) || $(PYTHON) -m venv $(TERRAIN_VENV)
	@$(TERRAIN_PY) -m pip install --quiet --disable-pip-version-check -r requirements-terrain.lock
	@mkdir -p $(STAMPS) && touch $@

$(STAMPS)/node: package-lock.json
	@echo "==> cdktf and cdktn CLIs, Node.js 22 from npm (pinned in package-lock.json)"
	@npm ci --no-audit --no-fund --loglevel=error
	@mkdir -p $(STAMPS) && touch $@

clean: ## remove every installed and generated file (venvs, node_modules, cdktf.out, caches)
	rm -rf $(STAMPS) $(VENV) $(CHECKOV_VENV) $(TERRAIN_VENV) node_modules cdktf.out $(TERRAIN_OUT) .pytest_cache .mypy_cache .ruff_cache
