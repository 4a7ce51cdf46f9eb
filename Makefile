# Two commands a newcomer needs: `make demo` and `make test`. Both set up .venv on first use.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home

.PHONY: setup test demo corpora bench lint ui clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch is pinned to the CPU build (torch==2.13.0) in pyproject.toml; never an unpinned CUDA build.
	$(BIN)/pip install -q -e '.[dev,bench]'
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest

corpora: $(STAMP)
	bash scripts/prepare_corpora.sh

demo: $(STAMP) corpora
	@mkdir -p $(DAGSTER_HOME)
	$(BIN)/dagster asset materialize -m graphmer_pipeline.definitions --select 'group:kg'
	$(BIN)/graphmer summary --lake data_lake

ui: $(STAMP)
	@mkdir -p $(DAGSTER_HOME)
	$(BIN)/dagster dev -w workspace.yaml

bench: $(STAMP) corpora
	$(BIN)/python benchmarks/kg_build.py

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .dagster_home
