# Two entry points, each doing its own set-up in a fresh virtual environment (.venv):
#   make audit   the main job: smoke-profile audit of claims/sudoku_mlp.yaml, then the report
#   make test    the test suite, the report check and one end-to-end smoke run (what CI runs)
# torch is pinned to 2.13.0 first: that version is a CPU build on our machines, while an unpinned
# torch pulls a multi-GB CUDA build.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup audit test clean-venv

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[test]"
	touch $(STAMP)

setup: $(STAMP)

# Your own audit goes to audit-out/ (runs and report), so it trains even though runs/ holds the
# committed records, and leaves the committed report alone.
AUDIT_DIR ?= audit-out
audit: $(STAMP)
	$(BIN)/trm-audit run claims/sudoku_mlp.yaml --seeds 0,1,2 --runs-dir $(AUDIT_DIR)/runs
	$(BIN)/trm-audit report --claims claims/sudoku_mlp.yaml --runs-dir $(AUDIT_DIR)/runs --out $(AUDIT_DIR)/reports

# The suite, then the committed report against the committed runs, then one real smoke run of one
# claim and seed end to end (train -> record -> report) in a temporary directory, so that a change
# that breaks learning or the path fails here.
test: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider; status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; \
	if [ $$status -ne 0 ]; then exit $$status; fi
	$(BIN)/trm-audit report --check
	tmp=$$(mktemp -d) && \
	$(BIN)/trm-audit run claims/sudoku_mlp.yaml --seeds 0 --device cpu --runs-dir $$tmp/runs --data-cache $$tmp/data && \
	$(BIN)/trm-audit report --runs-dir $$tmp/runs --out $$tmp/reports && \
	grep -q "sudoku-extreme/trm-mlp" $$tmp/reports/report.md && \
	$(BIN)/python scripts/compare_smoke_run.py $$tmp/runs runs sudoku-extreme/trm-mlp && \
	echo "end-to-end smoke run: ok" && rm -rf $$tmp

clean-venv:
	rm -rf $(VENV)
