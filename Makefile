# logferry's entry points. `make demo` and `make test` are the README's two commands.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install demo stack down lint typecheck unit integration test scenarios clean

install:  ## system packages (apt) + the project into .venv
	@scripts/bootstrap.sh

demo: install  ## the whole pipeline on this machine, driven by the error-spike scenario
	@$(BIN)/shipper stack up
	@$(BIN)/loadtest demo

stack: install  ## start Kafka, Elasticsearch, Prometheus, Alertmanager, node exporter
	@$(BIN)/shipper stack up

# CI runs disk-fill and es-flood-stage as they are and a 60 s cpu-burn
# (tests/integration/loadtest/test_incident_scenarios.py). disk-fill mounts a tmpfs: root.
# es-flood-stage lowers the watermarks of the stack's Elasticsearch for a minute: every index
# there turns read-only meanwhile, so not while others use it.
scenarios: stack  ## the host and Elasticsearch scenarios in full (about 7 minutes)
	@for s in disk-fill cpu-burn es-flood-stage; do $(BIN)/loadtest run --scenario $$s || exit 1; done

down:  ## stop the demo and the local stack (data kept; `shipper stack down --purge` drops it)
	@if [ -x $(BIN)/loadtest ]; then $(BIN)/loadtest demo down && $(BIN)/loadtest down; fi
	@if [ -x $(BIN)/shipper ]; then $(BIN)/shipper stack down; fi
	@# The topology tests' cluster and secure stack, if a run left them up.
	@for dir in .stack-*/; do if [ -d "$$dir" ] && [ -x $(BIN)/shipper ]; then $(BIN)/shipper stack down --state-dir "$$dir"; fi; done

lint: install
	$(BIN)/ruff check shipper pipelines loadtest tests benchmarks scripts deploy
	$(BIN)/ruff format --check shipper pipelines loadtest tests benchmarks scripts deploy
	$(BIN)/lint-imports --no-cache

typecheck: install
	$(BIN)/mypy

unit: install
	$(BIN)/pytest tests/unit

integration: stack
	$(BIN)/pytest tests/integration

test: install stack  ## lint, types, unit and integration tests against the running stack
	$(BIN)/ruff check shipper pipelines loadtest tests benchmarks scripts deploy
	$(BIN)/ruff format --check shipper pipelines loadtest tests benchmarks scripts deploy
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy
	$(BIN)/pytest tests --durations=25

clean: down
	rm -rf $(VENV) .stack .mypy_cache .ruff_cache .pytest_cache
