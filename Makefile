# outbox-triggers: `make` lists the targets.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
BENCH_STAMP := $(VENV)/.installed-bench-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: help install test lint unit migrate relay render check demo bench bench-quick clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' Makefile | sed -E 's/:.*## /\t/' | expand -t 12

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

$(BENCH_STAMP): $(STAMP)
	$(BIN)/pip install -q -e '.[test,bench]'
	touch $@

install: $(STAMP)  ## create .venv and install the package with its test extras

lint: $(STAMP)  ## ruff and mypy
	$(BIN)/ruff check outbox_triggers migrations tests bench
	$(BIN)/ruff format --check outbox_triggers migrations tests bench
	$(BIN)/mypy
	$(BIN)/mypy bench

test: lint  ## lint, then the whole test suite (needs MariaDB at 127.0.0.1:3306 or TEST_DATABASE_URL)
	$(BIN)/pytest -q

unit: $(STAMP)  ## only the tests that need no database
	$(BIN)/pytest -q -m 'not integration'

render: $(STAMP)  ## print the DDL migrate would apply (DATABASE_URL, OUTBOX_SPEC)
	$(BIN)/outbox-triggers render

migrate: $(STAMP)  ## create the events table and install the triggers (DATABASE_URL, OUTBOX_SPEC)
	$(BIN)/outbox-triggers migrate

relay: $(STAMP)  ## run the relay until SIGTERM (DATABASE_URL, OUTBOX_SPEC, AWS_*)
	$(BIN)/outbox-triggers relay

demo: $(STAMP)  ## end to end on a throwaway schema: MariaDB -> triggers -> relay -> SQS (moto)
	$(BIN)/outbox-triggers demo

bench: $(BENCH_STAMP)  ## benchmark suite (~4 min): bench/results/latest.json and README's Performance table
	$(BIN)/python -m bench

bench-quick: $(BENCH_STAMP)  ## the benchmark suite, small, for CI smoke runs (< 90 s); writes and asserts nothing
	$(BIN)/python -m bench --quick

clean:  ## remove the virtualenv and caches
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
