# nba-props — the two commands that matter: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BQEMU_VENV := .venv-bqemu
TOOLS_VENV := .venv-tools

.PHONY: demo eval-real test lint typecheck bench emulator tools schemas clean help

help:
	@echo "make demo   - run one night end to end on a synthetic league (embedded mode)"
	@echo "make test   - linters, type checks and the whole test suite (BigQuery emulator included)"
	@echo "make bench  - benchmarks; writes bench/results.json"

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) on PATH"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/nba-props demo

# Walk-forward evaluation on the real logs, with the CatBoost settings `nba-props train` uses
# (MAE loss, 1000 iterations, learning rate 0.05).
EVAL_LOGS ?= ../shared/data/nba-player-game-logs
eval-real: $(STAMP)
	$(BIN)/nba-props evaluate --logs $(EVAL_LOGS) --train-through 2022-23 --test 2023-24 \
		--feature-set v8 --feature-set v8hist --feature-set v8ctx --out data/eval-real

# Benchmarks: ~10 minutes, writes bench/results.json.
bench: $(STAMP) emulator
	$(BIN)/python -m bench

emulator:
	bash scripts/bqemulator-venv.sh $(BQEMU_VENV)

tools:
	bash scripts/tools-venv.sh $(TOOLS_VENV)

schemas: $(STAMP)
	$(BIN)/python deploy/generate_schemas.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy shared coordinator worker deploy/generate_schemas.py

test: $(STAMP) emulator tools lint typecheck
	$(BIN)/pytest -q

clean:
	rm -rf $(VENV) $(BQEMU_VENV) $(TOOLS_VENV) data models .pytest_cache .mypy_cache .ruff_cache
