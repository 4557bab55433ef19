# Two entry points, each doing its own set-up in a fresh virtual environment (.venv):
#   make audit   the main job: smoke-profile audit of claims/sudoku_mlp.yaml, then the report
#   make test    the test suite and the report check (what CI runs)
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

audit: $(STAMP)
	$(BIN)/trm-audit run claims/sudoku_mlp.yaml --seeds 0,1,2
	$(BIN)/trm-audit report

test: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider; status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$status

clean-venv:
	rm -rf $(VENV)
