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

test: $(STAMP) corpora
	$(BIN)/python -m pytest

corpora: $(STAMP)
	bash scripts/prepare_corpora.sh

$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	@mkdir -p $(DAGSTER_HOME)
	cp dagster.yaml $@

demo: $(STAMP) corpora $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dagster asset materialize -m graphmer_pipeline.definitions --select 'group:kg' \
		--config-json '{"loggers": {"console": {"config": {"log_level": "INFO"}}}}'
	@echo
	$(BIN)/graphmer summary --lake data_lake
	@echo
	@echo "Results: data_lake/kg/current (Parquet + manifest.json), catalogue data_lake/graphmer.duckdb"
	@echo "Query:   .venv/bin/graphmer query \"SELECT relation, count(*) FROM triples GROUP BY 1\""
	@echo "UI:      make ui, then open http://localhost:3000 (runs are kept in $(DAGSTER_HOME))"

ui: $(STAMP) $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dagster dev -w workspace.yaml

bench: $(STAMP) corpora
	$(BIN)/python benchmarks/kg_build.py

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .dagster_home
