# logferry's entry points. `make demo` and `make test` are the README's two commands.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install demo stack down lint typecheck unit integration test clean

install:  ## system packages (apt) + the project into .venv
	@scripts/bootstrap.sh

demo: install  ## the whole pipeline on this machine, driven by the error-spike scenario
	@$(BIN)/shipper stack up
	@$(BIN)/loadtest demo

stack: install  ## start Kafka, Elasticsearch, Prometheus, Alertmanager
	@$(BIN)/shipper stack up

down:  ## stop the demo and the local stack (data kept; `shipper stack down --purge` drops it)
	@if [ -x $(BIN)/loadtest ]; then $(BIN)/loadtest demo down && $(BIN)/loadtest down; fi
	@if [ -x $(BIN)/shipper ]; then $(BIN)/shipper stack down; fi

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
	$(BIN)/pytest tests

clean: down
	rm -rf $(VENV) .stack .mypy_cache .ruff_cache .pytest_cache
