"""Training runs out of process through Dagster Pipes, and the checkpoints they leave."""

import json
import sys

import dagster as dg

from graphmer_core.artifacts import write_json_atomic
from graphmer_core.data.build import open_stage
from graphmer_core.train import checkpoint as ckpt
from graphmer_core.train.loop import new_run_id
from graphmer_core.train.run import DATASET_ENV
from graphmer_pipeline.assets.dataset import training_dataset
from graphmer_pipeline.metadata import gate_table
from graphmer_pipeline.resources import DataLake, TrainingProfile

LATEST = "latest.json"  # runs/latest.json: the runs of the newest training_run materialization


class TrainRunConfig(dg.Config):
    """Per-launch settings; the profile itself is the `profile` resource (shared with the dataset)."""

    seeds: list[int] = []  # one run per seed; empty = the profile's first seed
    steps: int | None = None  # planned total steps (drives the schedule); None = the profile's
    stop_at: int | None = None  # end after the checkpoint at this step, as an interruption would


@dg.asset(group_name="training", kinds={"pytorch"}, deps=[training_dataset])
def training_run(context: dg.AssetExecutionContext, config: TrainRunConfig, lake: DataLake,
                 profile: TrainingProfile, pipes_subprocess_client: dg.PipesSubprocessClient):
    """Train one run per seed in a child process (torchrun when the profile asks for several);
    its log lines and metrics stream into this run, and cancelling this run stops it."""
    p = profile.load()
    seeds = config.seeds or p.seeds[:1]
    # every process of every run (each torchrun rank too) opens this dataset, not whatever the
    # current KG calls for when it starts; a dataset not built yet is built by the child
    stage = open_stage(lake.lake, p.dataset)
    env = {DATASET_ENV: stage.version} if stage.done else {}
    runs, metadata = [], {"dataset_version": stage.version}
    for seed in seeds:
        run_id = new_run_id(p.name, seed)
        args = ["-m", "graphmer_pipeline.pipes_train", "--lake", str(lake.lake.root), "--profile", p.name,
                "--profiles", profile.path, "--seed", str(seed), "--run-id", run_id]
        args += ["--steps", str(config.steps)] if config.steps else []
        args += ["--stop-at", str(config.stop_at)] if config.stop_at else []
        launcher = [sys.executable] if p.processes == 1 else \
            [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={p.processes}"]
        context.log.info(f"training {run_id}: {' '.join(launcher + args)}")
        done = pipes_subprocess_client.run(context=context, command=[*launcher, *args], env=env)
        for result in done.get_results():
            metadata.update({f"{seed}/{k}": v for k, v in (result.metadata or {}).items()})
        runs.append(run_id)
    write_json_atomic(lake.lake.runs_root / LATEST, {"profile": p.name, "run_ids": runs})
    return dg.MaterializeResult(metadata={"run_ids": runs, "profile": p.name, "seeds": seeds, **metadata})


def latest_runs(lake: DataLake) -> list[str]:
    path = lake.lake.runs_root / LATEST
    if not path.exists():
        raise FileNotFoundError(f"no training run recorded in {path}: materialize training_run first")
    return json.loads(path.read_text())["run_ids"]


@dg.multi_asset(
    group_name="training",
    specs=[
        dg.AssetSpec("model_checkpoint", kinds={"safetensors"}, deps=[training_run],
                     description="The final checkpoint of each run of the newest training_run, verified."),
        dg.AssetSpec("checkpoint_metadata", kinds={"json"}, deps=[training_run],
                     description="Its metadata.json: provenance, config hash, metrics, every file's sha256."),
    ],
)
def checkpoints(context: dg.AssetExecutionContext, lake: DataLake):
    """Verify each run's newest checkpoint and publish its path, hashes, step and metrics."""
    model_meta, meta_meta = {}, {}
    run_ids = latest_runs(lake)
    for run_id in run_ids:
        path = ckpt.latest_valid_checkpoint(lake.lake.run_dir(run_id))
        if path is None:
            raise FileNotFoundError(f"run {run_id} has no checkpoint that verifies")
        meta = ckpt.verify_checkpoint(path)
        prefix = f"{run_id}/" if len(run_ids) > 1 else ""
        model_meta.update({f"{prefix}path": dg.MetadataValue.path(str(path)),
                           f"{prefix}sha256": meta.files[ckpt.MODEL_FILE].sha256, f"{prefix}run_id": run_id,
                           f"{prefix}step": meta.step, f"{prefix}seed": meta.seed,
                           **{f"{prefix}metrics/{k}": v for k, v in meta.metrics.items()}})
        meta_meta.update({f"{prefix}path": dg.MetadataValue.path(str(path / ckpt.METADATA_FILE)),
                          f"{prefix}config_sha256": meta.config_sha256, f"{prefix}schema_version": meta.schema_version,
                          f"{prefix}dataset_version": meta.dataset_version, f"{prefix}kg_version": meta.kg_version,
                          f"{prefix}metadata": dg.MetadataValue.json(json.loads(meta.model_dump_json()))})
    yield dg.MaterializeResult(asset_key="model_checkpoint", metadata=model_meta)
    yield dg.MaterializeResult(asset_key="checkpoint_metadata", metadata=meta_meta)


@dg.asset_check(asset="model_checkpoint", blocking=True,
                description="Every checkpoint of the newest runs re-verified: each file's sha256 and size, no "
                            "missing or extra file, metadata valid against schema 1.1.")
def checkpoints_verify(lake: DataLake) -> dg.AssetCheckResult:
    results = [r for run_id in latest_runs(lake) for r in ckpt.verify_run(lake.lake.run_dir(run_id))]
    failed = [f"{p}: {msg}" for p, ok, msg in results if not ok]
    rows = [{"suite": p.parent.name if p.name.startswith("step_") else p.name, "rule": f"{p.name} verifies",
             "threshold": "every file's sha256 and size as recorded", "observed": msg or "verified", "passed": ok}
            for p, ok, msg in results]
    return dg.AssetCheckResult(passed=not failed, metadata={"checkpoints_checked": len(results), "failed": failed,
                                                            "gates": gate_table(rows)})
