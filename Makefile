# The commands a newcomer needs: `make up` deploys, `make test` checks everything offline.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
STACK ?= dev
OUT ?= build/synth
BIN := $(VENV)/bin
SCAN_VENV ?= .venv-checkov

.PHONY: help venv scan-venv test lint typecheck unit synth run-app up preview destroy outputs verify clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# The virtual environment is rebuilt whenever a requirements file changes.
$(BIN)/.installed: requirements.txt requirements-dev.txt verify/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(BIN)/.installed ## Create .venv with the program's and the tests' dependencies

# Checkov has its own virtualenv: it pins many packages that the program's tools also use.
$(SCAN_VENV)/bin/.installed: requirements-scan.txt
	$(PYTHON) -m venv $(SCAN_VENV)
	$(SCAN_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SCAN_VENV)/bin/python -m pip install --quiet -r requirements-scan.txt
	touch $@

scan-venv: $(SCAN_VENV)/bin/.installed ## Create .venv-checkov for the manifest security scan

lint: venv ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv ## basedpyright (standard mode) over the program and the tests
	$(BIN)/basedpyright

unit: venv scan-venv ## pytest: the program under Pulumi's mock engine, offline; Checkov
	CHECKOV=$(SCAN_VENV)/bin/checkov $(BIN)/python -m pytest

synth: venv ## Render and check the stack offline into $(OUT) (STACK=dev, OUT=build/synth)
	$(BIN)/python -m synth --stack $(STACK) --out $(OUT)

test: lint typecheck unit synth ## Everything CI runs: lint, types, tests, synth of the stack

run-app: venv ## Run our app locally: DB=mongodb://localhost:27017/todo make run-app
	@test -n "$$DB" || { echo "set DB, e.g. DB=mongodb://localhost:27017/todo make run-app"; exit 2; }
	cd app && PORT=$${PORT:-8080} ../$(BIN)/python -m todo

# Deploying needs the Pulumi CLI, gcloud with gke-gcloud-auth-plugin, and az, all logged in.
# State goes to the local file backend in .pulumi-state/ unless PULUMI_BACKEND_URL says otherwise.
up: ## Install, select or create the stack, and deploy it (refreshing, so due rotations happen)
	mkdir -p .pulumi-state
	pulumi install
	pulumi stack select --create $(STACK)
	pulumi up --refresh --stack $(STACK)

preview: ## Show what `pulumi up` would change
	mkdir -p .pulumi-state
	pulumi install
	pulumi preview --stack $(STACK)

outputs: ## Print the stack's outputs (webIp, webUrl, ...)
	pulumi stack output --stack $(STACK)

# Needs what `make up` needs (the .venv it built, pulumi, gke-gcloud-auth-plugin, az login).
verify: ## Check the deployed stack end to end: node, connector, app, ACI, database (docs/verify.md)
	$(BIN)/python -m verify --stack $(STACK)

destroy: ## Tear the stack down (see README "Teardown" for protected resources)
	pulumi destroy --stack $(STACK)

clean: ## Remove the virtual environment, caches and synth output
	rm -rf $(VENV) $(SCAN_VENV) .pytest_cache .ruff_cache build
