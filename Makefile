# Two commands a newcomer needs: `make demo` and `make test`. Both set up .venv on first use.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
# The browser test (tests/ui) drives the system Chromium; Playwright never fetches a browser of its own.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

.PHONY: setup test docs demo corpora bench lint ui clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch is pinned to the CPU build (torch==2.13.0) in pyproject.toml; never an unpinned CUDA build.
	$(BIN)/pip install -q -e '.[dev,bench,docs]'
	touch $(STAMP)

test: $(STAMP) corpora
	$(BIN)/python -m pytest

# HTML of docs/ (architecture, CLI and configuration reference, API from the docstrings, deployment);
# any Sphinx warning fails the build.
docs: $(STAMP)
	$(BIN)/sphinx-build -W --keep-going -q -b html docs build/docs/html
	@echo "docs: build/docs/html/index.html"

corpora: $(STAMP)
	bash scripts/prepare_corpora.sh

# The instance template lives in configs/, not the repository root, where `dagster dev` would warn
# that a dagster.yaml outside DAGSTER_HOME is ignored.
$(DAGSTER_HOME)/dagster.yaml: configs/dagster.yaml
	@mkdir -p $(DAGSTER_HOME)
	cp configs/dagster.yaml $@

# Everything, from the corpora to an evaluated (and, if its gates pass, promoted) cpu-small model.
DEMO_CONFIG := {"loggers": {"console": {"config": {"log_level": "INFO"}}}, \
	"resources": {"profile": {"config": {"name": "cpu-small"}}}, \
	"ops": {"evaluation_report": {"config": {"kge_budget_s": 30}}}}

# Warnings Dagster prints for its own reasons, silenced by exact message in the processes that
# raise them (nothing else is filtered): `dagster asset materialize` is superseded by `dg launch`
# (dagster-dg-cli, not a dependency here), the `group:` selection passes `include_sources`, a
# beta parameter, to AssetSelection.groups, and Dagster's own Pipes handler reads its message
# reader's `expected_writer_count`, a preview property (the training step prints it otherwise).
DAGSTER_WARNINGS := ignore:Function `asset_materialize_command` is superseded,ignore:Function `dev_command` is superseded,ignore:Parameter `include_sources` of function `AssetSelection.groups` is currently in beta,ignore:Function `PipesMessageReader.expected_writer_count` is currently in preview

demo: $(STAMP) corpora $(DAGSTER_HOME)/dagster.yaml
	PYTHONWARNINGS='$(DAGSTER_WARNINGS)' $(BIN)/dagster asset materialize -m graphmer_pipeline.definitions \
		--select 'group:kg or group:dataset or group:training or group:evaluation' \
		--config-json '$(DEMO_CONFIG)'; rc=$$?; \
	echo; $(BIN)/graphmer summary --lake data_lake; \
	echo; $(BIN)/graphmer report --lake data_lake; \
	echo; echo "UI: make ui, then open http://localhost:3000 (runs are kept in $(DAGSTER_HOME))"; \
	exit $$rc

ui: $(STAMP) $(DAGSTER_HOME)/dagster.yaml
	PYTHONWARNINGS='$(DAGSTER_WARNINGS)' $(BIN)/dagster dev -w workspace.yaml

bench: $(STAMP) corpora
	$(BIN)/python benchmarks/kg_build.py

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .dagster_home
