"""Writers at the same time, as real processes: two KG builds, a CLI build during a Dagster run, a
rebuild during training. One waits for the lake's lock (or gives up naming its holder), the lake and
the catalogue stay whole, and a run keeps the dataset it started with."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import yaml
from lake_procs import (GRAPHMER, build_kg_code, change, env, leftovers, lock_is_free, pause_env, python,
                        shop_copy, start, wait_for)
from lakes import email_corpora

from graphmer_core.data.store import open_dataset
from graphmer_core.kg import store
from graphmer_core.lake import Lake
from graphmer_core.train import checkpoint as ckpt
from graphmer_core.train.profiles import load_profile
from graphmer_core.train.run import DATASET_ENV, worker_dataset

REPO = Path(__file__).resolve().parent.parent.parent
PY = sys.executable


def waits_for(log: Path, holder_pid: int, proc, timeout: float = 120) -> None:
    """Until `log` says its process is waiting for the lock held by `holder_pid`."""
    expected = f"waiting for the data lake lock, held by pid {holder_pid}"
    deadline = time.monotonic() + timeout
    while expected not in log.read_text():
        assert proc.poll() is None, f"ended without waiting for the lock:\n{log.read_text()}"
        assert time.monotonic() < deadline, f"never waited for pid {holder_pid}:\n{log.read_text()}"
        time.sleep(0.1)


def cli(args: list[str], environ: dict[str, str] | None = None):
    """`graphmer ARGS` in a fresh interpreter."""
    return python(f"import sys; from graphmer_core.cli import main; sys.exit(main({args!r}))", environ, timeout=600)


def assert_whole(lake: Lake, version: str) -> None:
    assert lake.current_version() == version and lake.catalog_version() == version
    for folder in lake.kg_root.iterdir():
        if folder.is_dir():
            store.verify(folder)
    assert store.query(lake, "SELECT kg_version FROM kg_info").column(0)[0].as_py() == version
    assert leftovers(lake) == [] and lock_is_free(lake)


def test_two_kg_builds_at_once_the_second_waits_for_the_first(tmp_path):
    corpus, lake, go = shop_copy(tmp_path), Lake(tmp_path / "lake"), tmp_path / "go"
    first = start([PY, "-c", build_kg_code(lake.root, {"shop": corpus})],
                  pause_env("kg.promote.moved", go), tmp_path / "first.log")
    wait_for(Path(f"{go}.reached"), first)  # holds the lock, its version moved but not yet current
    change(corpus)
    second = start([PY, "-c", build_kg_code(lake.root, {"shop": corpus})], env(), tmp_path / "second.log")
    waits_for(tmp_path / "second.log", first.pid, second)
    time.sleep(1)
    assert second.poll() is None  # still waiting while the first holds the lake
    go.touch()
    assert first.wait(120) == 0 and second.wait(120) == 0, (tmp_path / "second.log").read_text()
    v1 = (tmp_path / "first.log").read_text().split()[-1]
    v2 = (tmp_path / "second.log").read_text().split()[-1]
    assert v1 != v2
    assert_whole(lake, v2)  # the later build is current; the earlier one stays whole beside it


def test_a_build_that_cannot_get_the_lock_in_time_fails_naming_the_holder(tmp_path):
    corpus, lake, go = shop_copy(tmp_path), Lake(tmp_path / "lake"), tmp_path / "go"
    holder = start([PY, "-c", build_kg_code(lake.root, {"shop": corpus})],
                   pause_env("kg.promote.pointed", go), tmp_path / "holder.log")
    wait_for(Path(f"{go}.reached"), holder)
    t = time.monotonic()
    out = cli(["build-kg", "--corpus", f"shop={corpus}", "--lake", str(lake.root), "--workers", "1"],
              env(GRAPHMER_LOCK_TIMEOUT_S="1"))
    assert out.returncode != 0
    assert f"is locked by pid {holder.pid} on " in out.stderr and "(graphmer build-kg, since " in out.stderr
    assert "GRAPHMER_LOCK_TIMEOUT_S" in out.stderr
    assert time.monotonic() - t < 60
    go.touch()
    assert holder.wait(120) == 0
    assert_whole(lake, (tmp_path / "holder.log").read_text().split()[-1])


DAGSTER_RUN = """
import sys
import dagster as dg
from graphmer_pipeline.assets import kg
from graphmer_pipeline.checks import catalog_matches_manifest, kg_gates
from graphmer_pipeline.resources import CorporaConfig, DataLake, QualityGates
result = dg.materialize(
    [kg.source_files, kg.parsed_files, kg.kg_tables, kg.kg_catalog, kg_gates, catalog_matches_manifest],
    resources={{"lake": DataLake(root={lake!r}), "corpora": CorporaConfig(path={config!r}), "gates": QualityGates()}},
    instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
print("dagster run", "succeeded" if result.success else "failed")
sys.exit(0 if result.success else 1)
"""


def test_a_cli_build_during_a_dagster_run_waits_for_the_run(tmp_path):
    corpus, lake, go = shop_copy(tmp_path), Lake(tmp_path / "lake"), tmp_path / "go"
    config = tmp_path / "corpora.yaml"
    config.write_text(yaml.safe_dump({"corpora": [{"name": "shop", "root": str(corpus)}]}))
    run = start([PY, "-c", DAGSTER_RUN.format(lake=str(lake.root), config=str(config))],
                pause_env("kg.promote.moved", go), tmp_path / "dagster.log")
    wait_for(Path(f"{go}.reached"), run, timeout=300)  # kg_catalog is promoting, lock held
    change(corpus)
    cli = start([*GRAPHMER, "build-kg", "--corpus", f"shop={corpus}", "--lake", str(lake.root), "--workers", "1"],
                env(), tmp_path / "cli.log")
    waits_for(tmp_path / "cli.log", run.pid, cli)
    go.touch()
    assert run.wait(300) == 0, (tmp_path / "dagster.log").read_text()
    assert cli.wait(300) == 0, (tmp_path / "cli.log").read_text()
    assert_whole(lake, lake.current_version())
    assert len([p for p in lake.kg_root.iterdir() if p.is_dir()]) == 2  # the run's version, then the CLI's


def test_the_assets_that_write_the_lake_share_one_dagster_pool():
    from graphmer_pipeline.assets import dataset, evaluation, kg

    writers = [kg.source_files, kg.parsed_files, kg.kg_tables, kg.kg_catalog, dataset.data_splits,
               dataset.tokenizer, dataset.training_dataset, evaluation.promoted_model]
    assert {a.op.name: a.op.pool for a in writers} == {a.op.name: "graphmer_lake" for a in writers}
    limits = yaml.safe_load((REPO / "configs" / "dagster.yaml").read_text())["concurrency"]["pools"]
    assert limits["default_limit"] == 1


def test_training_keeps_the_dataset_it_started_with_through_a_rebuild(tmp_path, monkeypatch):
    sys.path.insert(0, str(REPO / "tests" / "train"))
    from test_training import profile

    src, lake = tmp_path / "src", Lake(tmp_path / "lake")
    corpora = email_corpora(src)
    kg_args = ["build-kg", "--lake", str(lake.root), "--workers", "1",
               *[a for c in corpora for a in ("--corpus", f"{c.name}={c.root}")]]
    profiles = tmp_path / "profiles.yaml"
    p = profile(steps=4, save_every_steps=2).model_dump(mode="json")
    p.pop("name")
    profiles.write_text(yaml.safe_dump({"tiny-email": p}))
    ds_args = ["build-dataset", "--profile", "tiny-email", "--profiles", str(profiles), "--lake", str(lake.root)]

    def graphmer(*args: str) -> str:
        out = cli(list(args))
        assert out.returncode == 0, out.stderr
        return out.stdout + out.stderr

    graphmer(*kg_args)
    graphmer(*ds_args)
    [first] = [d.name for d in lake.datasets_root.iterdir()]
    train = start([*GRAPHMER, "train", "--profile", "tiny-email", "--profiles", str(profiles), "--lake",
                   str(lake.root), "--seed", "11", "--stop-at", "2"], env(), tmp_path / "train.log")
    deadline = time.monotonic() + 300
    while not list(lake.runs_root.glob("*/run.json")):  # the run has opened its dataset and begun
        assert train.poll() is None, (tmp_path / "train.log").read_text()
        assert time.monotonic() < deadline
        time.sleep(0.1)
    (src / "shop" / "shop" / "loyalty.py").write_text(
        "from shop.pricing import *\n\n\nclass Loyalty:\n    def points(self, basket):\n        return len(basket)\n")
    graphmer(*kg_args)  # a new KG version, promoted while the run trains
    graphmer(*ds_args)  # and the dataset of the new KG
    assert train.wait(600) == 0, (tmp_path / "train.log").read_text()
    [second] = [d.name for d in lake.datasets_root.iterdir() if d.name != first]
    [run_dir] = [r.parent for r in lake.runs_root.glob("*/run.json")]
    assert ckpt.read_run(run_dir).info["dataset_version"] == first

    log = graphmer("train", "--resume", run_dir.name, "--lake", str(lake.root))
    assert f"started on dataset {first}; resuming on it, not on the current {second}" in log
    record = ckpt.read_run(run_dir)
    assert record.status == "completed" and record.checkpoint_step == 4
    for _, path in ckpt.list_checkpoints(run_dir):
        assert ckpt.verify_checkpoint(path).dataset_version == first
    for version in (first, second):  # both datasets whole on disk
        open_dataset(lake.dataset_dir(version))
    assert json.loads((lake.dataset_dir(second) / "manifest.json").read_text())["kg_version"] == lake.current_version()

    # torchrun ranks open the dataset their launcher opened, not the one the current KG calls for
    tiny = load_profile("tiny-email", profiles)
    assert worker_dataset(lake, tiny).version == second
    monkeypatch.setenv(DATASET_ENV, first)
    assert worker_dataset(lake, tiny).version == first
