"""One command's worth of training: build what is missing upstream, then train or resume a run.

The CLI (`graphmer train`), the torchrun workers and the Dagster Pipes entry point all come
through here, so a run means the same thing whichever way it was started.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from graphmer_core.data.build import build_dataset, open_stage
from graphmer_core.data.store import Dataset, open_dataset
from graphmer_core.lake import Lake
from graphmer_core.train import checkpoint as ckpt
from graphmer_core.train.loop import Reporter, RunResult, new_run_id, train
from graphmer_core.train.profiles import Profile

Log = Callable[[str], None]
DATASET_ENV = "GRAPHMER_DATASET_VERSION"  # set by launch_torchrun: the dataset every rank opens


def prepare(lake: Lake, profile: Profile, log: Log = print, corpora_config: Path | None = None) -> Dataset:
    """The profile's dataset, opened and verified; the KG and the dataset are built first if missing."""
    if lake.current_version() is None:
        from graphmer_core.corpus.config import DEFAULT_CONFIG, load_corpora
        from graphmer_core.kg.build import build_kg

        corpora = load_corpora(corpora_config or DEFAULT_CONFIG, only_existing=True)
        if not corpora:
            raise FileNotFoundError(f"no KG under {lake.root} and none of the corpora of "
                                    f"{corpora_config or DEFAULT_CONFIG} exist (run `make corpora`)")
        log(f"no KG under {lake.root}: building it from {', '.join(c.name for c in corpora)}")
        result = build_kg(corpora, lake)
        log(f"KG {result.kg_version}: {result.manifest['triples']:,} triples")
    stage = open_stage(lake, profile.dataset)
    if not stage.done:
        log(f"building dataset {stage.version} for profile {profile.name!r}")
    result = build_dataset(lake, profile.dataset, log=log)
    return open_dataset(result.path)


def resumed_profile(lake: Lake, run_id: str) -> tuple[Profile, int, int]:
    """(profile as the run resolved it, seed, planned steps) of an existing run, from its newest
    valid checkpoint: overrides given when it started stay in force."""
    run_dir = lake.run_dir(run_id)
    latest, _ = ckpt.find_latest_valid(run_dir)
    if latest is None:
        raise FileNotFoundError(f"run {run_id}: no checkpoint that verifies under {run_dir}")
    meta = ckpt.read_metadata(latest)
    profile = Profile.model_validate(meta.config["profile"])
    return profile, meta.seed, profile.steps


def pinned_dataset(lake: Lake, run_id: str | None, ds: Dataset, log: Log = print) -> Dataset:
    """The dataset a run being resumed started on (its newest valid checkpoint names it), even when
    the KG or the dataset has been rebuilt since: a run never changes data midway."""
    latest, _ = ckpt.find_latest_valid(lake.run_dir(run_id)) if run_id else (None, [])
    if latest is None:
        return ds
    version = ckpt.read_metadata(latest).dataset_version
    if version is None or version == ds.version:
        return ds
    log(f"run {run_id} started on dataset {version}; resuming on it, not on the current {ds.version}")
    return open_dataset(lake.dataset_dir(version))


def launch_torchrun(argv: list[str], processes: int, run_id: str, dataset_version: str | None = None) -> int:
    """Re-run this command under `torchrun --nproc_per_node K` with a fixed run id; wait for it.
    `dataset_version` (the dataset this process opened) is the one every rank opens."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
           "-m", "graphmer_core.cli", *argv, "--run-id", run_id]
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    if dataset_version is not None:
        env[DATASET_ENV] = dataset_version
    return subprocess.run(cmd, env=env).returncode


def worker_dataset(lake: Lake, profile: Profile) -> Dataset:
    """A torchrun rank's dataset: the one its launcher opened (named in $GRAPHMER_DATASET_VERSION),
    not whatever the current KG calls for by the time the rank starts, so every rank trains on the
    same data even if the KG is rebuilt in between."""
    version = os.environ.get(DATASET_ENV)
    return open_dataset(lake.dataset_dir(version) if version else open_stage(lake, profile.dataset).final)


def under_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", 1)) > 1


def run(lake: Lake, ds: Dataset, profile: Profile, seed: int, *, run_id: str | None = None,
        steps: int | None = None, stop_at: int | None = None, resume: bool = False,
        reporter: Reporter | None = None) -> RunResult:
    from graphmer_core.train.distributed import Distributed

    if resume:
        ds = pinned_dataset(lake, run_id, ds, reporter.log if reporter else print)
    dist = Distributed.from_env()
    try:
        return train(lake, ds, profile, seed, run_id=run_id or new_run_id(profile.name, seed), steps=steps,
                     stop_at=stop_at, resume=resume, reporter=reporter, dist=dist)
    finally:
        dist.close()
