# cookiecutter-gitops-ml: `make demo` bakes and runs the default project, `make test` tests the template.
# Only python3, git and make are needed: uv is bootstrapped into .tools/ when it is not on PATH.

.DEFAULT_GOAL := help
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
MAKEFLAGS += --no-print-directory

# One source for the uv version: the template's own pin for generated projects.
UV_VERSION := $(shell python3 -c 'import json; print(json.load(open("cookiecutter.json"))["_uv_version"])')
UV := $(or $(shell command -v uv 2>/dev/null),$(CURDIR)/.tools/bin/uv)
# The demo project runs with the caller's PATH: it finds or bootstraps a uv of its own, as on a
# user's machine, instead of borrowing the template's.
USER_PATH := $(PATH)
export PATH := $(dir $(UV)):$(PATH)
RUN := $(UV) run --locked
# Baked projects run many short Python processes: let them cache bytecode even where the
# environment says not to (PYTHONDONTWRITEBYTECODE would make each one recompile pandas/sklearn).
unexport PYTHONDONTWRITEBYTECODE
DEMO_DIR := build/demo
DEMO_PROJECT = $(DEMO_DIR)/my-ml-project
# The demo's property tests draw the same examples on every run (hypothesis' derandomized "ci"
# profile, which CI gets anyway); a developer's own `make test` stays random. The demo's HTTP fuzz
# sends 1000 requests (issue 15's bar; the project's default is 400): 6 s instead of 3.6 s.
DEMO_ENV := HYPOTHESIS_PROFILE=ci HTTP_FUZZ_EXAMPLES=1000
# Each test module (or class) runs whole on one worker, so a module's baked project is built once
# (pytest 9 broke xdist's loadgroup: its group suffix no longer reaches the node id).
PYTEST_WORKERS ?= 2

.PHONY: help
help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(CURDIR)/.tools/bin/uv:
	python3 -m venv .tools/venv
	.tools/venv/bin/python -m pip install --quiet "uv==$(UV_VERSION)"
	mkdir -p .tools/bin && ln -sf ../venv/bin/uv .tools/bin/uv

.PHONY: install
install: $(UV) ## Install the template's development tools (uv.lock)
	$(UV) sync --locked

.PHONY: demo
demo: install ## Bake the default project into build/demo and run its whole local pipeline
	rm -rf $(DEMO_DIR)
	$(RUN) cookiecutter --no-input --output-dir $(DEMO_DIR) .
	PATH="$(USER_PATH)" $(MAKE) -C $(DEMO_PROJECT) $(DEMO_ENV) install lint test check report bento batches
	PATH="$(USER_PATH)" $(MAKE) -C $(DEMO_PROJECT) $(DEMO_ENV) monitor CURRENT=data/batches/stable.csv
	@echo
	@echo "Demo project:  $(DEMO_PROJECT)"
	@echo "PR report:     $(DEMO_PROJECT)/artifacts/report/report.md"
	@echo "Gates:         $(DEMO_PROJECT)/artifacts/checks.html"
	@echo "Serve it:      make -C $(DEMO_PROJECT) serve   # then open http://127.0.0.1:3000"

.PHONY: test
test: install ## Run the template's test suite (bakes projects and runs them for real)
	$(RUN) pytest -n $(PYTEST_WORKERS) --dist loadscope

.PHONY: project-lock
project-lock: install ## Re-lock the generated project's uv.lock (UPGRADE=1: newest versions the pins allow)
	$(RUN) python tests/project_lock.py $(if $(filter 1,$(UPGRADE)),--upgrade,)

.PHONY: bake-matrix
bake-matrix: install ## Bake every option combination of the tests into build/matrix
	$(RUN) python tests/bake_matrix.py build/matrix

.PHONY: lint
lint: install ## Lint the template's own code and files (pre-commit, every hook)
	$(RUN) pre-commit run --all-files

.PHONY: docs
docs: install ## Build the documentation site (strict: warnings fail)
	$(RUN) mkdocs build --strict --site-dir build/site

.PHONY: clean
clean: ## Remove build output and caches
	rm -rf build .pytest_cache .ruff_cache .hypothesis
