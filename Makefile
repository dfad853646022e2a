# The commands a newcomer needs: `make up` deploys, `make test` checks everything offline.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
STACK ?= dev
OUT ?= build/synth/$(STACK)
BIN := $(VENV)/bin
SCAN_VENV ?= .venv-checkov
MUTATE_JOBS ?= 2

.PHONY: help venv scan-venv test lint lint-workflows typecheck unit synth synth-samples mutate \
  readme run-app up preview destroy outputs verify clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

# One .venv, filled in three levels, each a requirements file that includes the one before:
# requirements.txt (the program; `make up`), requirements-synth.txt (+ `make synth`) and
# requirements-dev.txt (+ linters, type checker, tests; `make test`). A stamp per level records
# what is installed; a changed requirements file tops up its level and the ones above it.
RUNTIME := $(BIN)/.installed-runtime
SYNTH := $(BIN)/.installed-synth
DEV := $(BIN)/.installed-dev

# The Python the project needs (pyproject.toml's requires-python), checked before anything is
# installed: an older one would fail only after a minute of installs, on an import.
PYTHON_MIN := $(shell sed -n 's/^requires-python = ">=\([0-9.]*\)"/\1/p' pyproject.toml)
CHECK_PYTHON = @$(PYTHON) -c 'import sys; want = tuple(int(p) for p in "$(PYTHON_MIN)".split(".")); \
  sys.exit(0 if sys.version_info[:2] >= want else "$(PYTHON) is Python %d.%d; this project needs \
  Python $(PYTHON_MIN) or newer: run make with PYTHON=python$(PYTHON_MIN) (or newer)" % sys.version_info[:2])'

$(BIN)/python:
	$(CHECK_PYTHON)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUNTIME): requirements.txt verify/requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

$(SYNTH): requirements-synth.txt $(RUNTIME)
	$(BIN)/python -m pip install --quiet -r requirements-synth.txt
	touch $@

$(DEV): requirements-dev.txt policy/requirements.txt app/requirements.txt \
		app/requirements-dev.txt $(SYNTH)
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(DEV) ## Create .venv with the program's and the tests' dependencies

# Checkov has its own virtualenv: it pins many packages that the program's tools also use.
$(SCAN_VENV)/bin/.installed: requirements-scan.txt
	$(CHECK_PYTHON)
	$(PYTHON) -m venv $(SCAN_VENV)
	$(SCAN_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SCAN_VENV)/bin/python -m pip install --quiet -r requirements-scan.txt
	touch $@

scan-venv: $(SCAN_VENV)/bin/.installed ## Create .venv-checkov for the manifest security scan

lint: $(DEV) lint-workflows ## ruff lint and format check, and the workflow linters
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# actionlint and zizmor over .github/ (workflows and dependabot.yml), offline and with fixed flags
# so that a run depends only on the tree and the pinned linter versions (docs/ci.md,
# docs/decisions/0013-workflow-pins-and-linters.md).
# actionlint: every error fails. Its shellcheck and pyflakes hooks are off, so no tool that happens
# to be on PATH changes the result. It knows actions' inputs and runtimes only by tag, so it reads
# each workflow twice: as written (SHA pins) and with each pin replaced by the major version of its
# `# vX.Y.Z` comment. zizmor: any finding of medium or high severity fails.
WORKFLOWS := $(wildcard .github/workflows/*.yml .github/workflows/*.yaml)
ACTIONLINT := $(BIN)/actionlint -shellcheck= -pyflakes=
lint-workflows: $(DEV) ## actionlint and zizmor over .github/, offline
	$(ACTIONLINT) $(WORKFLOWS)
	for f in $(WORKFLOWS); do \
	  sed -E 's/@[0-9a-f]{40} # (v[0-9]+)[0-9.]*/@\1/' "$$f" \
	    | $(ACTIONLINT) -stdin-filename "$$f (pins read as tags)" - || exit 1; \
	done
	$(BIN)/zizmor --offline --no-progress --min-severity=medium .github

typecheck: $(DEV) ## basedpyright (standard mode) over the program and the tests
	$(BIN)/basedpyright

# The tests run in parallel (pytest-xdist; tests/conftest.py says how many workers `auto` is), a
# test file to a worker so that each file's program runs are shared.
unit: $(DEV) scan-venv ## pytest: the program under Pulumi's mock engine, offline; Checkov
	CHECKOV=$(SCAN_VENV)/bin/checkov $(BIN)/python -m pytest -n auto --dist loadfile

synth: $(SYNTH) ## Render and check the stack offline into $(OUT) (STACK=dev, OUT=build/synth/$(STACK))
	$(BIN)/python -m synth --stack $(STACK) --out $(OUT)

# The sample stacks `make test` renders: the default, and burst mode (Pulumi.burst.yaml).
SAMPLE_STACKS := dev burst
synth-samples: $(SYNTH) ## Render and check every sample stack offline into build/synth/<stack>
	for stack in $(SAMPLE_STACKS); do \
	  $(BIN)/python -m synth --stack $$stack --out build/synth/$$stack || exit 1; \
	done

readme: $(SYNTH) ## Write the README's settings table from Pulumi.yaml
	$(BIN)/python -m synth.settings_table

test: lint typecheck unit synth-samples ## Everything CI runs: lint, types, tests, synth of the samples

# Mutation testing is slow and not part of CI: see docs/mutation.md. mutmut is installed into .venv
# on top of the test requirements.
$(BIN)/.mutate-installed: requirements-mutate.txt $(DEV)
	$(BIN)/python -m pip install --quiet -r requirements-mutate.txt
	touch $@

mutate: $(DEV) $(BIN)/.mutate-installed ## Mutation testing of the program, core/, policy/, app/todo/ (slow)
	rm -rf mutants app/mutants
	nice $(BIN)/mutmut run --max-children $(MUTATE_JOBS)
	cd app && nice $(abspath $(BIN))/mutmut run --max-children $(MUTATE_JOBS)
	@echo "Survivors: $(BIN)/mutmut results (and in app/); one of them: $(BIN)/mutmut show NAME"

run-app: $(DEV) ## Run our app locally: DB=mongodb://localhost:27017/todo make run-app
	@test -n "$$DB" || { echo "set DB, e.g. DB=mongodb://localhost:27017/todo make run-app"; exit 2; }
	cd app && PORT=$${PORT:-8080} ../$(BIN)/python -m todo

# Deploying needs the Pulumi CLI, gcloud with gke-gcloud-auth-plugin, and az, all logged in.
# State goes to the local file backend in .pulumi-state/ unless PULUMI_BACKEND_URL says otherwise.
# Each target first checks what it needs (preflight/) and names everything missing at once.
# `outputs` and `destroy` read no configuration, so their check runs on plain $(PYTHON).
up: $(RUNTIME) ## Check, install, select or create the stack, and deploy it (refreshing)
	$(BIN)/python -m preflight --for up --stack $(STACK)
	mkdir -p .pulumi-state
	pulumi install
	pulumi stack select --create $(STACK)
	pulumi up --refresh --stack $(STACK)

preview: $(RUNTIME) ## Check, select or create the stack, and show what `pulumi up` would change
	$(BIN)/python -m preflight --for preview --stack $(STACK)
	mkdir -p .pulumi-state
	pulumi install
	pulumi stack select --create $(STACK)
	pulumi preview --stack $(STACK)

outputs: ## Print the stack's outputs (webIp, webUrl, ...)
	$(CHECK_PYTHON)
	$(PYTHON) -m preflight --for outputs --stack $(STACK)
	pulumi stack output --stack $(STACK)

# Needs what `make up` needs (the .venv it built, pulumi, gke-gcloud-auth-plugin, az login).
verify: $(RUNTIME) ## Check the deployed stack end to end: node, connector, app, ACI, database (docs/verify.md)
	$(BIN)/python -m preflight --for verify --stack $(STACK)
	$(BIN)/python -m verify --stack $(STACK)

destroy: ## Tear the stack down (see README "Teardown" for protected resources)
	$(CHECK_PYTHON)
	$(PYTHON) -m preflight --for destroy --stack $(STACK)
	pulumi destroy --stack $(STACK)

clean: ## Remove the virtual environment, caches and synth output
	rm -rf $(VENV) $(SCAN_VENV) .pytest_cache .ruff_cache build mutants app/mutants
