# The two commands of the README: `make synth` and `make test`. Both set up
# what they need first (idempotent: a stamp per lock file) and say what they do.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
CHECKOV_VENV := .venv-checkov
PY := $(VENV)/bin/python
STAMPS := .make
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

.PHONY: synth test setup lint typecheck pytest bench cost snapshot-update lock clean setup-terrain test-terrain lock-terrain

synth: $(SYNTH_SETUP) $(STAMPS)/node
	@echo "==> synthesizing $${Project:-project-sample} $${Env:-dev} into $${CDKTF_OUTDIR:-cdktf.out}/ with $(CDK) (no AWS credentials needed)"
	@$(SYNTH_ENV) $(SYNTH_PY) main.py
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

# Not part of `make test`: it installs a second framework. Synthesizes every sample config with both
# frameworks and fails on any difference but the framework's and the provider's version strings.
test-terrain: setup $(STAMPS)/terrain
	@echo "==> CDK Terrain: every sample config with CDKTF and with CDK Terrain, identical but for versions"
	@$(PY) -m pytest -m terrain
ifeq ($(strip $(TERRAIN_REHEARSAL)),)
	@echo "==> rehearsal of the Terrain output: not run (TERRAIN_REHEARSAL is empty: no hashicorp/aws 6.69.1 schema yet)"
else
	@echo "==> rehearsal of the Terrain output ($(TERRAIN_OUT)/)"
	@rm -rf $(TERRAIN_OUT) && ALGOINFRA_CDK=terrain CDKTF_OUTDIR=$(TERRAIN_OUT) $(TERRAIN_PY) main.py --all-configs
	@$(TERRAIN_REHEARSAL)
endif

setup-terrain: $(STAMPS)/terrain $(STAMPS)/node

bench: $(STAMPS)/python $(STAMPS)/terrain
	@echo "==> benchmark: synth speed and memory (takes a few minutes)"
	@$(PY) scripts/bench.py

cost: $(STAMPS)/python
	@$(PY) main.py --cost

snapshot-update: setup
	@echo "==> rewriting snapshots: review the diff, every changed logical id is real infrastructure"
	@$(PY) -m pytest tests/test_snapshots.py --snapshot-update

lock: $(STAMPS)/python $(STAMPS)/checkov lock-terrain
	@(echo "# Every Python package of .venv, pinned (regenerate with: make lock)."; $(VENV)/bin/pip freeze) > requirements.lock
	@(echo "# Every package of .venv-checkov, pinned (regenerate with: make lock)."; $(CHECKOV_VENV)/bin/pip freeze) > requirements-checkov.lock

# A fresh .venv-terrain from pyproject.toml's dependencies (CDKTF packages replaced), then pinned.
lock-terrain: $(STAMPS)/python
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
	@echo "==> cdktf and cdktn CLIs from npm (pinned in package-lock.json)"
	@npm ci --no-audit --no-fund --loglevel=error
	@mkdir -p $(STAMPS) && touch $@

clean:
	rm -rf $(STAMPS) $(VENV) $(CHECKOV_VENV) $(TERRAIN_VENV) node_modules cdktf.out $(TERRAIN_OUT) .pytest_cache .mypy_cache .ruff_cache
