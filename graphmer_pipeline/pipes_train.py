"""The training entry point Dagster launches through Pipes (`python -m graphmer_pipeline.pipes_train`).

It runs graphmer_core's training out of the Dagster process, alone or as one rank under torchrun,
and reports through dagster_pipes (not dagster: this process never loads the orchestrator):
log lines and metrics stream into the Dagster run, and the finished run is reported as the
materialization of `training_run`. Only rank 0 talks to Dagster.
"""

from __future__ import annotations

import argparse
import os
from contextlib import nullcontext
from pathlib import Path

from graphmer_core.lake import Lake
from graphmer_core.train import run as runs
from graphmer_core.train.loop import Reporter
from graphmer_core.train.profiles import load_profile

SHOWN = ("loss", "mlm_loss", "mnm_loss", "contrastive", "mlm_acc", "mnm_acc", "valid_loss", "valid_mlm_acc",
         "valid_mnm_acc", "tokens_per_s")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lake", type=Path, required=True)
    ap.add_argument("--profile", required=True)
    ap.add_argument("--profiles", type=Path, required=True)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--run-id", required=True)
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--stop-at", type=int, default=None)
    args = ap.parse_args(argv)

    main_rank = os.environ.get("RANK", "0") == "0"
    if main_rank:
        from dagster_pipes import open_dagster_pipes

        pipes_cm = open_dagster_pipes()
    else:
        pipes_cm = nullcontext(None)
    with pipes_cm as pipes:
        log = pipes.log.info if pipes else (lambda _: None)
        lake = Lake(args.lake)
        profile = load_profile(args.profile, args.profiles)
        # the dataset the asset pinned ($GRAPHMER_DATASET_VERSION), on every rank; else this profile's
        ds = runs.worker_dataset(lake, profile) if runs.under_torchrun() or runs.DATASET_ENV in os.environ \
            else runs.prepare(lake, profile, log)

        def metrics(step: int, row: dict) -> None:
            if pipes and (step % profile.log_every_steps == 0 or "valid_loss" in row):
                pipes.report_custom_message({"step": step, **{k: row[k] for k in SHOWN if k in row}})

        def checkpoint(path: Path, meta: dict) -> None:
            log(f"checkpoint {path.name} written (step {meta['step']})")

        reporter = Reporter(log=log, metrics=metrics, checkpoint=checkpoint, progress=False)
        result = runs.run(lake, ds, profile, args.seed, run_id=args.run_id, steps=args.steps,
                          stop_at=args.stop_at, reporter=reporter)
        if pipes:
            final = {k: float(v) for k, v in result.metrics.items() if k in SHOWN or k in ("step", "roots")}
            pipes.report_asset_materialization(metadata={
                "run_id": result.run_id, "status": result.status, "step": result.step, "seed": args.seed,
                "checkpoint": {"raw_value": str(result.checkpoint), "type": "path"},
                "metrics_csv": {"raw_value": str(result.run_dir / "metrics.csv"), "type": "path"},
                **{f"final/{k}": v for k, v in final.items()},
            })


if __name__ == "__main__":
    main()
