# Entry points. `make test` is the test command (CI runs exactly it); `make help` lists all.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt training_image/requirements.txt | cksum | cut -d' ' -f1)

.DEFAULT_GOAL := help
.PHONY: help install test lint format bench bench-topk bench-training bench-serving clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(STAMP): requirements.txt requirements-dev.txt training_image/requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11+ is needed: run make PYTHON=python3.11 ...")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --progress-bar off -r requirements-dev.txt
	rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP) ## create .venv with every pinned dependency

test: $(STAMP) ## lint, then run the whole test suite (unit + integration on local stand-ins)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

lint: $(STAMP) ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP) ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: bench-topk bench-training bench-serving ## every benchmark (prints figures and ratios)

bench-topk: $(STAMP) ## bulk top-10: ours vs the seed's method; and at MovieLens-25M shape
	$(BIN)/python bench/bulk_topk.py

bench-training: $(STAMP) ## whole training job against fakesnow vs the seed's method; RMSE vs SVD()
	$(BIN)/python bench/training_job.py

bench-serving: $(STAMP) ## serving rows/s vs the seed's loop; latency at 8 concurrent clients
	$(BIN)/python bench/serving.py

clean: ## remove the venv and caches
	rm -rf $(VENV) .pytest_cache .ruff_cache cdk.out
