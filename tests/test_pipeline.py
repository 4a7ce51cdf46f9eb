"""The Dagster KG pipeline, in process: build, gate, promote, rebuild incrementally, schedule."""

import shutil
from pathlib import Path

import dagster as dg
import pytest
import yaml

from graphmer_core.kg import store
from graphmer_core.lake import Lake
from graphmer_pipeline.assets import kg
from graphmer_pipeline.checks import catalog_matches_manifest, kg_gates
from graphmer_pipeline.definitions import defs
from graphmer_pipeline.resources import CorporaConfig, DataLake, QualityGates

ASSETS = [kg.source_files, kg.parsed_files, kg.kg_tables, kg.kg_catalog, kg_gates, catalog_matches_manifest]


@pytest.fixture
def env(tmp_path, fixtures):
    """A lake and a corpora.yaml pointing at a private copy of the shop fixture."""
    root = tmp_path / "shop"
    shutil.copytree(fixtures / "shop", root)
    config = tmp_path / "corpora.yaml"

    def set_corpora(**roots: Path) -> None:
        config.write_text(yaml.safe_dump({"corpora": [{"name": n, "root": str(r)} for n, r in roots.items()]}))

    set_corpora(shop=root)
    resources = {"lake": DataLake(root=str(tmp_path / "lake")), "corpora": CorporaConfig(path=str(config)),
                 "gates": QualityGates()}
    return root, Lake(tmp_path / "lake"), resources, set_corpora


def run(resources, instance=None):
    return dg.materialize(ASSETS, resources=resources, raise_on_error=False,
                          instance=instance or dg.DagsterInstance.ephemeral())


def meta(result, asset: str, key: str):
    [event] = [m for m in result.get_asset_materialization_events() if m.asset_key.path[-1] == asset]
    return event.materialization.metadata[key].value


def check_meta(result, check: str, key: str):
    [e] = [e for e in result.get_asset_check_evaluations() if e.check_name == check]
    return e.metadata[key].value


def checks(result) -> dict[str, bool]:
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}


def test_group_builds_gates_and_promotes(env):
    _, lake, resources, _ = env
    result = run(resources)
    assert result.success
    assert checks(result) == {"entities_expectations": True, "triples_expectations": True,
                              "ontology_and_coverage": True, "relations_vs_previous": True,
                              "catalog_matches_manifest": True}
    version = lake.current_version()
    assert version == meta(result, "source_files", "kg_version")
    rows = store.query(lake, "SELECT language, count(*) n FROM triples GROUP BY 1 ORDER BY 1").to_pylist()
    assert [r["language"] for r in rows] == ["java", "python"]
    assert store.query(lake, "SELECT kg_version FROM kg_info").to_pylist() == [{"kg_version": version}]
    # staged files moved into kg/<version>, checksums intact
    assert not lake.staged_dir(version).exists()
    store.verify(lake.kg_dir(version))


def test_unchanged_rebuild_reparses_nothing_and_one_change_reparses_one(env):
    root, lake, resources, _ = env
    instance = dg.DagsterInstance.ephemeral()
    first = run(resources, instance)
    assert first.success and meta(first, "parsed_files", "reparsed") == meta(first, "parsed_files", "files")
    assert not check_meta(first, "ontology_and_coverage", "reused_verdict")
    again = run(resources, instance)
    assert meta(again, "parsed_files", "reparsed") == 0
    assert meta(again, "kg_triples", "reused") is True
    # the verdict recorded in the manifest stands: GX does not run again, unless asked to
    assert again.success and check_meta(again, "ontology_and_coverage", "reused_verdict") is True
    regated = run({**resources, "gates": QualityGates(regate=True)}, instance)
    assert regated.success and check_meta(regated, "ontology_and_coverage", "reused_verdict") is False
    assert lake.current_version() == meta(first, "source_files", "kg_version")

    cart = root / "shop" / "cart.py"
    cart.write_text(cart.read_text() + "\n\ndef empty() -> Cart:\n    return Cart()\n")
    changed = run(resources, instance)
    assert changed.success and meta(changed, "parsed_files", "reparsed") == 1
    new_version = lake.current_version()
    assert new_version != meta(first, "source_files", "kg_version")
    changes = store.read_manifest(lake.kg_dir(new_version))["changes"]
    assert changes["previous_kg_version"] == meta(first, "source_files", "kg_version")
    assert changes["by_relation"]["instantiates"]["added"] >= 1 and changes["removed"] == 0


def test_failing_gate_keeps_the_previous_version_current(env, fixtures):
    root, lake, resources, set_corpora = env
    instance = dg.DagsterInstance.ephemeral()
    assert run(resources, instance).success
    good = lake.current_version()
    catalog_bytes = lake.catalog.read_bytes()

    set_corpora(shop=root, cyclic=fixtures / "cycle_py")  # A(B) in a.py, B(A) in b.py
    bad = run(resources, instance)
    assert not bad.success
    assert checks(bad)["ontology_and_coverage"] is False
    failures = check_meta(bad, "ontology_and_coverage", "failures")
    assert "inheritance cycles (inherits_from, implements): found python: 1; expected at most 0" in failures
    assert "--max-inheritance-cycles or gates.max_inheritance_cycles" in failures
    raw = check_meta(bad, "ontology_and_coverage", "gx_result")  # the raw GX result stays available
    assert raw["suite"] == "kg_per_language" and any(not e["success"] for e in raw["expectations"])
    assert not [m for m in bad.get_asset_materialization_events() if m.asset_key.path[-1] == "kg_catalog"]
    # the old version is still current, untouched, and the catalogue still points at it
    assert lake.current_version() == good
    store.verify(lake.kg_dir(good))
    assert lake.catalog.read_bytes() == catalog_bytes
    assert store.query(lake, "SELECT kg_version FROM kg_info").to_pylist() == [{"kg_version": good}]
    staged = lake.candidate_dir()
    assert staged.parent == lake.staging and staged.name != good
    cycles = store.query(lake, "SELECT count(*) n FROM triples WHERE path LIKE '%a.py'").to_pylist()
    assert cycles == [{"n": 0}]  # the bad corpus never reached the catalogue


def test_schedule_and_job_definitions():
    schedule = defs.resolve_schedule_def("nightly_kg_rebuild")
    assert schedule.cron_schedule == "0 2 * * *"
    assert schedule.execution_timezone == "UTC"
    assert schedule.job_name == "kg_rebuild"
    job = defs.resolve_job_def("kg_rebuild")
    assert {n.name for n in job.nodes} >= {"source_files", "parsed_files", "kg_tables", "kg_catalog"}
    checks_in_job = {c.name for c in job.asset_layer.asset_graph.asset_check_keys}
    assert checks_in_job >= {"entities_expectations", "ontology_and_coverage", "catalog_matches_manifest"}


def test_corpus_partitions_parse_independently_and_the_kg_joins_them(env, tmp_path):
    root, lake, resources, set_corpora = env
    # Partition keys come from configs/corpora.yaml; point those names at the fixture's halves.
    set_corpora(stdlib=root / "shop", jdk=root / "java")
    instance = dg.DagsterInstance.ephemeral()
    java = dg.materialize([kg.corpus_files], partition_key="jdk", resources=resources, instance=instance)
    assert meta(java, "corpus_files", "reparsed") == 3  # the three .java files, nothing else
    py = dg.materialize([kg.corpus_files], partition_key="stdlib", resources=resources, instance=instance)
    assert meta(py, "corpus_files", "reparsed") == 3
    again = dg.materialize([kg.corpus_files], partition_key="jdk", resources=resources, instance=instance)
    assert meta(again, "corpus_files", "reparsed") == 0

    joined = run(resources, instance)
    assert joined.success
    assert meta(joined, "parsed_files", "reparsed") == 0  # everything came from the partitions' cache
    corpora = store.query(lake, "SELECT DISTINCT corpus FROM triples ORDER BY 1").to_pylist()
    assert corpora == [{"corpus": "jdk"}, {"corpus": "stdlib"}]


def test_shell_materialize_exits_nonzero_when_a_gate_fails(tmp_path, fixtures):
    """`dagster asset materialize --select group:kg` runs the checks in the same run and fails the command."""
    import os
    import subprocess
    import sys

    config = tmp_path / "corpora.yaml"
    config.write_text(yaml.safe_dump({"corpora": [{"name": "stdlib", "root": str(fixtures / "cycle_py")}]}))
    home = tmp_path / "dagster_home"
    home.mkdir()
    env = {**os.environ, "GRAPHMER_CORPORA": str(config), "GRAPHMER_LAKE": str(tmp_path / "lake"),
           "DAGSTER_HOME": str(home)}
    dagster = Path(sys.executable).with_name("dagster")
    out = subprocess.run([str(dagster), "asset", "materialize", "-m", "graphmer_pipeline.definitions",
                          "--select", "group:kg"], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode != 0
    assert "ontology_and_coverage" in out.stdout + out.stderr
    assert not (tmp_path / "lake" / "kg" / "current").exists()  # nothing promoted
