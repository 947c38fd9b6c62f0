# Desk Pemilu: every target is self-describing; `make` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=
BENCH_ARGS ?=

.PHONY: help setup run stop status test test-unit lint fmt typecheck bench bench-all

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

setup: ## install what a fresh machine lacks: Debian packages, Kafka jars, uv and the Python env
	bash deploy/stack.sh install
	command -v uv >/dev/null || python3 -m pip install --quiet uv
	uv sync --frozen --quiet

run: setup ## start the whole pipeline on the Banyuasin roster and simulate an election day
	$(BIN)/deskpemilu up
	$(BIN)/deskpemilu simulate --demo

stop: ## stop the services, Kafka and PostgreSQL
	$(BIN)/deskpemilu down

status: ## health of Kafka, PostgreSQL and the four services
	$(BIN)/deskpemilu status

test: setup ## start Kafka and PostgreSQL, then run every test (unit, integration, e2e)
	bash deploy/stack.sh start all
	eval "$$(bash deploy/stack.sh env)" && $(BIN)/pytest $(PYTEST_ARGS)

test-unit: ## only the fast unit tests (no services needed)
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

lint: ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: ## format and autofix
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: ## mypy strict on the product code, tests/ and benchmarks/
	$(BIN)/mypy

bench: ## the end-to-end targets in one pass (~10 min); rewrites their block of benchmarks/RESULTS.md
	$(BIN)/python -m benchmarks.e2e_targets $(BENCH_ARGS)

bench-all: ## every per-service benchmark, then e2e_bench; rewrites benchmarks/RESULTS.md
	$(BIN)/python -m benchmarks.run_all
