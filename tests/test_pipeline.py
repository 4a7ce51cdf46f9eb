"""The Dagster KG pipeline, in process: build, gate, promote, rebuild incrementally, schedule."""

import base64
import shutil
from pathlib import Path

import dagster as dg
import pytest
import yaml

from graphmer_core.kg import store
from graphmer_core.lake import Lake
from graphmer_pipeline.assets import corpus, kg
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
    # the Python corpus (one group) resolved again, the Java files reused
    assert meta(changed, "kg_triples", "resolution") == "re-resolved 3 of 6 file(s)"
    assert meta(again, "kg_triples", "resolution") == "none: the version was reused"
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
    java = dg.materialize([corpus.corpus_files], partition_key="jdk", resources=resources, instance=instance)
    assert meta(java, "corpus_files", "reparsed") == 3  # the three .java files, nothing else
    py = dg.materialize([corpus.corpus_files], partition_key="stdlib", resources=resources, instance=instance)
    assert meta(py, "corpus_files", "reparsed") == 3
    again = dg.materialize([corpus.corpus_files], partition_key="jdk", resources=resources, instance=instance)
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


def test_each_group_needs_only_upstream_groups_and_has_a_named_job():
    """*Materialize all* on a group asks nothing about assets it does not read: the kg group reads
    the corpora itself (corpus_files only warms the parse cache), and each group's runs carry a job name."""
    graph = defs.resolve_asset_graph()
    groups: dict[str, set] = {}
    for key in graph.get_all_asset_keys():
        groups.setdefault(graph.get(key).group_name, set()).add(key)
    assert {graph.get(p).group_name for k in groups["kg"] for p in graph.get(k).parent_keys} <= {"kg"}
    assert not graph.get(dg.AssetKey("corpus_files")).child_keys
    jobs = {frozenset(j.asset_layer.selected_asset_keys): j.name for j in defs.resolve_all_job_defs()
            if not j.name.startswith("__")}
    assert {g: jobs.get(frozenset(keys)) for g, keys in groups.items()} == {
        "corpora": "corpora_parse", "kg": "kg_rebuild", "dataset": "dataset_build", "training": "model_training",
        "evaluation": "model_evaluation"}
    recheck = defs.resolve_job_def("recheck_gates")
    assert not recheck.asset_layer.selected_asset_keys  # the gates alone, nothing rebuilt
    assert {k.name for k in recheck.asset_layer.asset_graph.asset_check_keys} == {
        "entities_expectations", "triples_expectations", "ontology_and_coverage", "relations_vs_previous",
        "dataset_gates"}


def test_metadata_reads_as_tables_and_charts_and_its_paths_exist(env):
    _, lake, resources, _ = env
    result = run(resources)
    assert result.success
    gates = check_meta(result, "ontology_and_coverage", "gates")
    assert [c.name for c in gates.schema.columns] == ["suite", "rule", "threshold", "observed", "result"]
    rows = {r.data["rule"]: r.data for r in gates.records}
    assert rows["entities per parsed file"] == {"suite": "kg_per_language", "rule": "entities per parsed file",
                                                "threshold": "between 1 and 2000",
                                                "observed": "java 4.667, python 7", "result": "pass"}
    assert rows["inheritance cycles (inherits_from, implements)"]["observed"] == "java 0, python 0"
    catalog = {r.data["rule"]: r.data for r in check_meta(result, "catalog_matches_manifest", "gates").records}
    assert catalog["the catalogue's triples match the current version's manifest"]["observed"] == "85"

    by_relation = {r.data["relation"]: r.data["triples"] for r in meta(result, "kg_triples", "by_relation").records}
    assert by_relation["contains"] == 33 and sum(by_relation.values()) == 85
    assert {r.data["kind"] for r in meta(result, "kg_entities", "by_kind").records} >= {"Class", "Method"}
    assert {r.data["ontology rule"] for r in meta(result, "kg_triples", "validation").records} >= {"domain_range"}
    for asset in ("kg_entities", "kg_triples"):
        chart = meta(result, asset, "chart")
        assert base64.b64decode(chart.split("base64,", 1)[1].rstrip(")")).startswith(b"\x89PNG")

    paths = [(e.asset_key.path[-1], k, Path(v.path)) for e in result.get_asset_materialization_events()
             for k, v in e.materialization.metadata.items() if isinstance(v, dg.PathMetadataValue)]
    assert {a for a, _, _ in paths} >= {"source_files", "kg_entities", "kg_triples", "kg_catalog"}
    assert [p for _, _, p in paths if not p.exists()] == []  # none in the staging folder promotion removed
    assert meta(result, "kg_triples", "path") == str(lake.current_dir() / "triples.parquet")


def test_a_gate_reruns_alone_on_the_promoted_version(env):
    """From the UI (or here) one gate runs alone, without a rebuild, on the version now current."""
    _, lake, resources, _ = env
    instance = dg.DagsterInstance.ephemeral()
    assert run(resources, instance).success
    current = lake.current_version()
    key = dg.AssetCheckKey(dg.AssetKey("kg_triples"), "ontology_and_coverage")

    def recheck(gates: QualityGates):
        return dg.materialize(ASSETS, selection=dg.AssetSelection.checks(key), instance=instance,
                              resources={**resources, "gates": gates}, raise_on_error=False)

    again = recheck(QualityGates(regate=True))
    assert again.success and not again.get_asset_materialization_events()
    assert checks(again) == {"ontology_and_coverage": True}
    assert check_meta(again, "ontology_and_coverage", "kg_version") == current
    assert check_meta(again, "ontology_and_coverage", "reused_verdict") is False
    stricter = recheck(QualityGates(min_triples_per_entity=5.0))  # the shop has ~2 triples per entity
    assert checks(stricter) == {"ontology_and_coverage": False}
    failed = {r.data["rule"]: r.data for r in check_meta(stricter, "ontology_and_coverage", "gates").records}
    assert failed["triples per entity"]["result"] == "FAIL"
    assert failed["triples per entity"]["threshold"] == "between 5 and 50"
    assert lake.current_version() == current  # a check never demotes what is promoted


def test_instance_template_lives_outside_the_repository_root(tmp_path, monkeypatch):
    """`dagster dev` warns about a dagster.yaml in the folder it starts in when DAGSTER_HOME is
    elsewhere; the template sits in configs/ and `make` copies it into DAGSTER_HOME."""
    import subprocess

    repo = Path(__file__).resolve().parents[1]
    assert not (repo / "dagster.yaml").exists() and not (repo / "dagster.yml").exists()
    home = tmp_path / "home"
    subprocess.run(["make", "-s", f"DAGSTER_HOME={home}", f"{home}/dagster.yaml"], cwd=repo, check=True)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    instance = dg.DagsterInstance.from_config(str(home))
    assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 2
    assert not instance.telemetry_enabled
