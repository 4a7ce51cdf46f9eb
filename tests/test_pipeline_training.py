"""The dataset and training groups in Dagster: in process, through Pipes, and from the shell."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import yaml
from lakes import EMAIL_CONFIG

from graphmer_core.data import store
from graphmer_core.lake import Lake
from graphmer_core.train import checkpoint as ckpt
from graphmer_core.eval.gates import current_model
from graphmer_pipeline.assets import dataset, evaluation, training
from graphmer_pipeline.checks import dataset_gates
from graphmer_pipeline.definitions import defs
from graphmer_pipeline.resources import DataLake, QualityGates, TrainingProfile
from graphmer_pipeline.sensors import new_kg_version

ASSETS = [dataset.data_splits, dataset.tokenizer, dataset.training_dataset, dataset_gates,
          training.training_run, training.checkpoints, training.checkpoints_verify]
EVALUATION = [evaluation.evaluation_report, evaluation.model_gates, evaluation.kg_completions,
              evaluation.promoted_model]
TEST_PROFILE = {"dataset": EMAIL_CONFIG.model_dump(mode="json"), "model": {"size": "tiny"}, "steps": 4,
                "micro_batch_size": 4, "save_every_steps": 2, "curriculum": [{"step": 0, "roots": 64}],
                "validation": {"every_steps": 2, "windows": 8, "batch_size": 4}, "log_every_steps": 1}


@pytest.fixture
def lake(email_lake, tmp_path) -> Lake:
    """A private copy of the email KG, without datasets, runs or models."""
    root = tmp_path / "lake"
    shutil.copytree(email_lake.root, root, ignore=shutil.ignore_patterns("datasets", "runs", "models"))
    return Lake(root)


def profiles(tmp_path: Path) -> Path:
    path = tmp_path / "profiles.yaml"
    path.write_text(yaml.safe_dump({"email-tiny": TEST_PROFILE}))
    return path


def meta(result, asset: str):
    [event] = [m for m in result.get_asset_materialization_events() if m.asset_key.path[-1] == asset]
    return {k: v.value for k, v in event.materialization.metadata.items()}


def missing_paths(result) -> list[str]:
    """Paths in the run's metadata that point at nothing (say, a staging folder since renamed)."""
    return [v.path for e in result.get_asset_materialization_events() for v in e.materialization.metadata.values()
            if isinstance(v, dg.PathMetadataValue) and not Path(v.path).exists()]


def test_dataset_and_training_groups_materialize_through_pipes(lake, tmp_path):
    resources = {"lake": DataLake(root=str(lake.root)),
                 "profile": TrainingProfile(name="email-tiny", path=str(profiles(tmp_path))),
                 "pipes_subprocess_client": dg.PipesSubprocessClient()}
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(ASSETS, resources=resources, instance=instance,
                            run_config={"ops": {"training_run": {"config": {"seeds": [5, 6]}}}})
    assert result.success
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {"dataset_gates": True, "checkpoints_verify": True}
    assert missing_paths(result) == []
    version = meta(result, "training_dataset")["dataset_version"]
    assert store.read_gates(lake.dataset_dir(version))["passed"]
    run = meta(result, "training_run")
    assert len(run["run_ids"]) == 2 and run["5/step"] == 4 and run["6/status"] == "completed"
    assert "5/final/valid_loss" in run
    assert run["dataset_version"] == version  # pinned by the asset, opened by the child
    for run_id in run["run_ids"]:
        record = ckpt.read_run(lake.run_dir(run_id))
        assert record.status == "completed" and record.info["dataset_version"] == version
    cp = meta(result, "model_checkpoint")
    assert cp[f"{run['run_ids'][0]}/step"] == 4
    logs = [e.user_message for e in instance.all_logs(result.run_id)]
    assert any("step 2" in m and "loss" in m for m in logs)  # the child's metric lines streamed into the run

    again = dg.materialize(ASSETS[:4], resources=resources, instance=dg.DagsterInstance.ephemeral())
    assert meta(again, "training_dataset")["reused"] is True  # unchanged KG: nothing rebuilt

    # the KG and dataset gates again, alone, on the current versions: as the UI's recheck_gates job runs them
    recheck = defs.resolve_job_def("recheck_gates").execute_in_process(
        instance=instance, resources={**resources, "gates": QualityGates()})
    assert recheck.success and not recheck.get_asset_materialization_events()
    evaluations = {e.check_name: e for e in recheck.get_asset_check_evaluations()}
    assert {n: e.passed for n, e in evaluations.items()} == {
        "dataset_gates": True, "entities_expectations": True, "triples_expectations": True,
        "ontology_and_coverage": True, "relations_vs_previous": True}
    assert evaluations["ontology_and_coverage"].metadata["kg_version"].value == lake.current_version()
    table = evaluations["dataset_gates"].metadata["gates"]
    assert [c.name for c in table.schema.columns] == ["suite", "rule", "threshold", "observed", "result"]
    rows = {r.data["rule"]: r.data for r in table.records}
    assert rows["dataset_leaks: leaked"]["threshold"] == "between 0 and 0"
    assert rows["dataset_leaks: leaked"]["observed"].startswith("train 0")

    evaluated = dg.materialize(EVALUATION, resources=resources, instance=instance, raise_on_error=False,
                               run_config={"ops": {"evaluation_report": {"config": {
                                   "windows": 32, "per_relation": 10, "kge": []}}}})
    assert missing_paths(evaluated) == []
    report = meta(evaluated, "evaluation_report")
    assert report["run_ids"] == run["run_ids"] and "mrr" in report and "![losses]" in report["plots"]
    [model_gates] = [e for e in evaluated.get_asset_check_evaluations() if e.check_name == "model_gates"]
    gates = model_gates.passed
    assert {r.data["result"] for r in model_gates.metadata["gates"].records} <= {"pass", "FAIL"}
    promoted = [m for m in evaluated.get_asset_materialization_events() if m.asset_key.path[-1] == "promoted_model"]
    assert gates == bool(promoted) == (current_model(lake) is not None)  # promoted exactly when the gates pass
    published = [m for m in evaluated.get_asset_materialization_events() if m.asset_key.path[-1] == "kg_completions"]
    assert bool(published) == gates  # a model that failed its gates publishes no completions asset
    assert (lake.run_dir(run["run_ids"][0]) / "completions.parquet").exists()  # they stay in the run folder


def test_freshness_sensor_requests_one_run_per_new_kg_version(lake):
    sensor_lake = DataLake(root=str(lake.root))
    ctx = dg.build_sensor_context(resources={"lake": sensor_lake})
    first = new_kg_version(ctx)
    assert isinstance(first, dg.RunRequest) and first.tags["graphmer/kg_version"] == lake.current_version()
    ctx = dg.build_sensor_context(cursor=lake.current_version(), resources={"lake": sensor_lake})
    assert isinstance(new_kg_version(ctx), dg.SkipReason)
    assert defs.resolve_sensor_def("new_kg_version").default_status == dg.DefaultSensorStatus.STOPPED


def test_shell_materialize_group_training_with_cpu_tiny(lake, tmp_path):
    """As the README says: the training group from the shell, cpu-tiny given as run config."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    env = {**os.environ, "GRAPHMER_LAKE": str(lake.root), "DAGSTER_HOME": str(home)}
    config = {"resources": {"profile": {"config": {"name": "cpu-tiny"}}},
              "ops": {"training_run": {"config": {"steps": 6}}}}
    dagster = Path(sys.executable).with_name("dagster")
    out = subprocess.run([str(dagster), "asset", "materialize", "-m", "graphmer_pipeline.definitions",
                          "--select", "group:training", "--config-json", json.dumps(config)],
                         env=env, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, (out.stdout + out.stderr)[-4000:]
    [run_id] = json.loads((lake.runs_root / training.LATEST).read_text())["run_ids"]
    assert run_id.startswith("cpu-tiny-")
    record = ckpt.read_run(lake.run_dir(run_id))
    assert record.status == "completed" and record.checkpoint_step == 6
    assert "checkpoints_verify" in out.stdout + out.stderr
