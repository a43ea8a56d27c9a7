# Entry points. `make test` is the test command (CI runs exactly it); `make help` lists all.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt training_image/requirements.txt lambda_src/snowflake_integration/requirements.txt pyproject.toml | cksum | cut -d' ' -f1)

NODE_STAMP := node_modules/.installed
# checkov's pins conflict with the CDK app's: it gets a venv of its own.
CHECKOV_STAMP := .venv-checkov/.installed-$(shell cat requirements-checkov.txt | cksum | cut -d' ' -f1)
# The operator CLI's SageMaker SDK pins mlflow's gunicorn/pyarrow below the image's: a venv of its own too.
OPERATOR_STAMP := .venv-operator/.installed-$(shell cat requirements-operator.txt pyproject.toml | cksum | cut -d' ' -f1)
# The Lambdas' locked wheels, downloaded once so synth and bundling work offline.
WHEELS := .wheelhouse/.filled-$(shell cat lambda_src/snowflake_integration/requirements.lock pipeline_shared/requirements.lock | cksum | cut -d' ' -f1)
# Offline-friendly CDK: no notices, no telemetry, no Node end-of-life banner from jsii.
export CDK_DISABLE_CLI_TELEMETRY := true
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
CDK := npx --no-install cdk --no-notices

.DEFAULT_GOAL := help
.PHONY: help install snowflake-bootstrap local test test-fast typecheck test-image review lint format bench bench-ranking bench-scale bench-topk bench-training bench-serving bench-write-back synth snapshot diff deploy destroy clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(STAMP): requirements.txt requirements-dev.txt training_image/requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11+ is needed: run make PYTHON=python3.11 ...")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --progress-bar off -r requirements-dev.txt
	@# every first-party package importable from .venv, plus the console scripts (recommender-local, ...)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --editable . > $(VENV)/editable-install.log 2>&1 \
		|| { cat $(VENV)/editable-install.log; exit 1; }
	rm -f $(VENV)/.installed-* && touch $@

$(WHEELS): lambda_src/snowflake_integration/requirements.lock pipeline_shared/requirements.lock | $(STAMP)
	$(BIN)/python -m stacks.wheelhouse fill
	rm -f .wheelhouse/.filled-* && touch $@

$(CHECKOV_STAMP): requirements-checkov.txt
	$(PYTHON) -m venv .venv-checkov
	.venv-checkov/bin/python -m pip install --quiet --disable-pip-version-check --progress-bar off -r requirements-checkov.txt
	rm -f .venv-checkov/.installed-* && touch $@

$(OPERATOR_STAMP): requirements-operator.txt pyproject.toml
	$(PYTHON) -m venv .venv-operator
	.venv-operator/bin/python -m pip install --quiet --disable-pip-version-check --progress-bar off -r requirements-operator.txt
	@# the project's packages too, so `recommender` verbs that need the SDK run in this venv with the same code
	.venv-operator/bin/python -m pip install --quiet --disable-pip-version-check --no-deps --editable . \
		> .venv-operator/editable-install.log 2>&1 || { cat .venv-operator/editable-install.log; exit 1; }
	rm -f .venv-operator/.installed-* && touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(STAMP) $(NODE_STAMP) $(WHEELS) $(CHECKOV_STAMP) $(OPERATOR_STAMP) ## create .venv, node_modules and .wheelhouse with every pinned dependency

snowflake-bootstrap: $(STAMP) ## print the Snowflake set-up to run before the first deploy: make snowflake-bootstrap ENV=dev (APPLY=1 ARGS="--user ME --private-key-file me.p8" runs it)
	@test -n "$(ENV)" || { echo "make snowflake-bootstrap: say which environment of cdk.json, e.g. ENV=dev" >&2; exit 2; }
	@$(BIN)/python -m snowflake_sql.bootstrap --env "$(ENV)" $(if $(APPLY),--apply) $(ARGS)

test-image: $(STAMP) $(OPERATOR_STAMP) ## build the training image with Docker and run it through the SageMaker SDK's local mode
	RECOMMENDER_DOCKER_TESTS=1 $(BIN)/pytest -q tests/integration/test_image_local_mode.py -rs

local: $(STAMP) ## run the whole pipeline end to end on local stand-ins (DATA=path/to/ml-latest-small.zip to choose data)
	$(BIN)/recommender-local $(if $(DATA),--data $(DATA))

test: $(STAMP) $(NODE_STAMP) $(WHEELS) $(CHECKOV_STAMP) $(OPERATOR_STAMP) ## lint and type-check, then run the whole test suite (unit + integration on local stand-ins)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest

typecheck: $(STAMP) ## mypy over the product code (pyproject's [tool.mypy] files), boto3 clients typed
	$(BIN)/mypy

test-fast: $(STAMP) ## unit tests only (no stand-ins, no subprocesses): well under a minute
	$(BIN)/pytest -q tests/unit

lint: $(STAMP) ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP) ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

synth: $(STAMP) $(NODE_STAMP) $(WHEELS) ## synthesize every environment's stack to cdk.out (offline: no network, AWS credentials or Docker)
	$(CDK) synth --quiet

review: $(STAMP) ## the infrastructure diff against a git revision, security first, as Markdown: make review BASE=origin/main
	@test -n "$(BASE)" || { echo "make review: say what to compare with, e.g. make review BASE=origin/main" >&2; exit 2; }
	$(BIN)/python -m infra_review --base "$(BASE)" $(if $(OUTPUT),--output $(OUTPUT))

snapshot: $(STAMP) $(WHEELS) ## refresh tests/infrastructure/snapshots after an intended infrastructure change
	UPDATE_SNAPSHOTS=1 $(BIN)/pytest -q tests/infrastructure/test_checks.py -k snapshot

diff: $(STAMP) $(NODE_STAMP) $(WHEELS) ## show what `deploy` would change (needs AWS credentials), e.g. make diff STACK=Recommender-dev
	$(CDK) diff $(STACK)

deploy: $(STAMP) $(NODE_STAMP) $(WHEELS) ## deploy one environment (needs AWS credentials and Docker), e.g. make deploy STACK=Recommender-dev
	$(CDK) deploy $(STACK)

destroy: $(STAMP) $(NODE_STAMP) $(WHEELS) ## remove one environment, run-time endpoints and Snowflake objects included
	$(CDK) destroy $(STACK)

bench: bench-ranking bench-topk bench-training bench-serving bench-write-back ## every benchmark but bench-scale (prints figures and ratios)

bench-ranking: $(STAMP) ## top-10 precision/recall/NDCG and coverage: ours vs the seed's method vs most-rated
	$(BIN)/python -m bench.ranking

bench-scale: $(STAMP) ## the whole training job on 25M MovieLens-shaped ratings: wall time and peak RSS (~20 min)
	$(BIN)/python -m bench.scale

bench-topk: $(STAMP) ## bulk top-10: ours vs the seed's method; and at MovieLens-25M shape
	$(BIN)/python -m bench.bulk_topk

bench-training: $(STAMP) ## whole training job against fakesnow vs the seed's method; RMSE vs SVD()
	$(BIN)/python -m bench.training_job

bench-serving: $(STAMP) ## serving rows/s vs the seed's loop; latency at 8 concurrent clients
	$(BIN)/python -m bench.serving

bench-write-back: $(STAMP) ## the write-back of 162,541 users' top-10: each write statement's time vs its limit
	$(BIN)/python -m bench.write_back

clean: ## remove the venv and caches
	rm -rf $(VENV) .venv-checkov .venv-operator node_modules .wheelhouse .pytest_cache .ruff_cache .mypy_cache cdk.out *.egg-info
