"""The training loop on a real dataset (stdlib email + shop), a tiny model, a few steps."""

from __future__ import annotations

import csv
import math
import os
import subprocess
import sys

import pytest
import torch
import yaml
from lakes import EMAIL_CONFIG
from safetensors.torch import load_file

from graphmer_core.cli import main
from graphmer_core.data.store import open_dataset
from graphmer_core.train import checkpoint as ckpt
from graphmer_core.train.distributed import Distributed
from graphmer_core.train.loop import NonFiniteError, Reporter, train
from graphmer_core.train.profiles import Profile
from graphmer_core.train.schedule import lr_factor

QUIET = Reporter(log=lambda _: None, progress=False)


def profile(**kw) -> Profile:
    base = {"name": "test", "dataset": EMAIL_CONFIG.model_dump(mode="json"), "model": {"size": "tiny"},
            "steps": 8, "micro_batch_size": 4, "grad_accum_steps": 2, "save_every_steps": 4,
            "optimizer": {"lr": 0.003}, "schedule": {"warmup_steps": 2},
            "curriculum": [{"step": 0, "roots": 32}, {"step": 4, "roots": 64}],
            "validation": {"every_steps": 4, "windows": 8, "batch_size": 4}, "log_every_steps": 2,
            "gradnorm_every_steps": 2}
    return Profile.model_validate(base | kw)


def rows(run_dir) -> list[dict]:
    with open(run_dir / "metrics.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def weights(path) -> dict[str, torch.Tensor]:
    return load_file(path / ckpt.MODEL_FILE)


@pytest.fixture(scope="module")
def ds(email_dataset):
    return open_dataset(email_dataset.path)


def test_checkpoints_metadata_curriculum_and_metrics(email_lake, ds):
    result = train(email_lake, ds, profile(), seed=1, run_id="plain", reporter=QUIET)
    assert result.status == "completed" and result.step == 8
    steps = [s for s, _ in ckpt.list_checkpoints(result.run_dir)]
    assert steps == [4, 8]
    meta = ckpt.verify_checkpoint(result.run_dir / "checkpoints" / "step_000008")
    assert meta.schema_version == "1.1" and meta.step == 8 and meta.seed == 1
    assert meta.dataset_version == ds.version and meta.kg_version == ds.manifest["kg_version"]
    assert meta.tokenizer_sha256 == ds.tokenizer_sha256 and meta.relation_vocab == ds.relations
    assert meta.config["profile"]["steps"] == 8 and meta.config["model"]["vocab_size"] == ds.vocab_size
    start, *table = rows(result.run_dir)
    assert start["step"] == "0" and start["valid_loss"] and not start["loss"]  # held-out loss before training
    assert [int(r["roots"]) for r in table] == [32] * 4 + [64] * 4  # R by step
    assert all(math.isfinite(float(r["loss"])) and float(r["tokens_per_s"]) > 0 for r in table)
    assert table[3]["valid_loss"] and table[7]["valid_mlm_acc"] and not table[2]["valid_loss"]
    assert table[1]["gradnorm_mlm"]  # logged every log_every_steps
    record = ckpt.read_run(result.run_dir)
    assert record.status == "completed" and record.checkpoint_step == 8


def test_same_seed_same_trajectory_and_exact_resume(email_lake, ds):
    full = train(email_lake, ds, profile(), seed=3, run_id="full", reporter=QUIET)
    again = train(email_lake, ds, profile(), seed=3, run_id="again", reporter=QUIET)
    assert [r["loss"] for r in rows(full.run_dir)] == [r["loss"] for r in rows(again.run_dir)]

    part = train(email_lake, ds, profile(), seed=3, run_id="parted", stop_at=4, reporter=QUIET)
    assert part.status == "stopped" and ckpt.read_run(part.run_dir).status == "stopped"
    assert [s for s, _ in ckpt.list_checkpoints(part.run_dir)] == [4]
    resumed = train(email_lake, ds, profile(), seed=3, run_id="parted", resume=True, reporter=QUIET)
    assert resumed.status == "completed"
    a, b = weights(full.checkpoint), weights(resumed.checkpoint)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert [r["loss"] for r in rows(full.run_dir)] == [r["loss"] for r in rows(resumed.run_dir)]

    # stopped in the middle of a curriculum stage (the loader restarts where the run did not)
    train(email_lake, ds, profile(), seed=3, run_id="mid", stop_at=6, reporter=QUIET)
    resumed = train(email_lake, ds, profile(), seed=3, run_id="mid", resume=True, reporter=QUIET)
    b = weights(resumed.checkpoint)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [r["loss"] for r in rows(full.run_dir)] == [r["loss"] for r in rows(resumed.run_dir)]


def test_cosine_schedule_values():
    total, warm, floor = 100, 10, 0.1
    assert lr_factor(0, total, warm, floor) == pytest.approx(0.1)
    assert lr_factor(9, total, warm, floor) == pytest.approx(1.0)  # end of warmup: the peak
    mid = warm + (total - 1 - warm) / 2
    assert lr_factor(int(mid), total, warm, floor) == pytest.approx(floor + (1 - floor) * 0.5, abs=0.02)
    assert lr_factor(total - 1, total, warm, floor) == pytest.approx(floor)  # the floor at the last step


@pytest.mark.parametrize("switch", ["contrastive", "antisymmetry", "acyclicity", "negatives"])
def test_each_regularizer_and_the_negatives_enter_the_loss(email_lake, ds, switch):
    def first_loss(on: bool) -> tuple[float, dict]:
        kw = {"steps": 1, "save_every_steps": 1, "micro_batch_size": 8, "grad_accum_steps": 1,
              "masking": {"mlm_rate": 0.15, "mnm_prob": 0.5}, "validation": {"every_steps": 5, "windows": 4}}
        if switch == "negatives":
            kw["negatives"] = {"enabled": on, "ratio": 0.5}
        else:
            kw["regularizers"] = {switch: on, f"{switch}_weight": 1.0}
        r = train(email_lake, ds, profile(**kw), seed=5, run_id=f"{switch}-{on}", reporter=QUIET)
        row = rows(r.run_dir)[1]
        return float(row["loss"]), row

    (on, row_on), (off, row_off) = first_loss(True), first_loss(False)
    assert on != pytest.approx(off)
    assert not row_on["gradnorm_mlm"]  # gradnorm_every_steps (100) not reached: no extra backward passes
    if switch != "negatives":
        assert row_on[switch] and not row_off[switch]


def test_nan_stops_the_run_and_keeps_the_last_good_checkpoint(email_lake, ds):
    bad = profile(optimizer={"lr": 1e38}, schedule={"warmup_steps": 0}, save_every_steps=1, steps=6)
    with pytest.raises(NonFiniteError, match="step"):
        train(email_lake, ds, bad, seed=2, run_id="nan", reporter=QUIET)
    run_dir = email_lake.run_dir("nan")
    record = ckpt.read_run(run_dir)
    assert record.status == "failed" and "NonFiniteError" in record.info["error"]
    latest = ckpt.latest_valid_checkpoint(run_dir)
    assert latest is not None and ckpt.verify_checkpoint(latest).step >= 1


def test_cli_train_seeds_and_resume(email_lake, tmp_path, capsys):
    profiles = tmp_path / "profiles.yaml"
    p = profile(steps=4, save_every_steps=2).model_dump(mode="json")
    p.pop("name")
    profiles.write_text(yaml.safe_dump({"tiny-email": p}))
    args = ["train", "--profile", "tiny-email", "--profiles", str(profiles), "--lake", str(email_lake.root)]
    assert main([*args, "--seeds", "11,12", "--stop-at", "2"]) == 0
    out = capsys.readouterr().out
    run_ids = [line.split()[1].rstrip(":") for line in out.splitlines() if line.startswith("run ")]
    assert len(run_ids) == 2 and "-s11-" in run_ids[0] and "-s12-" in run_ids[1]
    assert "stopped at step 2 of 4" in out
    assert main(["train", "--resume", run_ids[0], "--lake", str(email_lake.root)]) == 0
    assert "completed at step 4 of 4" in capsys.readouterr().out
    assert main(["verify", str(email_lake.run_dir(run_ids[0]))]) == 0


def test_two_process_ddp_writes_one_set_of_checkpoints_and_resumes_exactly(email_lake, tmp_path):
    profiles = tmp_path / "profiles.yaml"
    p = profile(steps=4, save_every_steps=2, processes=2).model_dump(mode="json")
    p.pop("name")
    profiles.write_text(yaml.safe_dump({"ddp": p}))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}

    def cli(*argv: str) -> tuple[str, str]:
        out = subprocess.run([sys.executable, "-m", "graphmer_core.cli", "train", "--profile", "ddp", "--profiles",
                              str(profiles), "--lake", str(email_lake.root), *argv],
                             capture_output=True, text=True, timeout=600, env=env)
        assert out.returncode == 0, out.stderr[-3000:]
        [run_id] = [line.split()[1].rstrip(":") for line in out.stdout.splitlines() if line.startswith("run ")]
        return run_id, out.stdout

    run_id, stdout = cli("--seed", "9")
    run_dir = email_lake.run_dir(run_id)
    assert [s for s, _ in ckpt.list_checkpoints(run_dir)] == [2, 4]
    meta = ckpt.verify_checkpoint(run_dir / "checkpoints" / "step_000004")
    assert meta.device.endswith("x2")
    assert len(rows(run_dir)) == 5  # step 0 and one row per step: rank 0 alone writes
    assert stdout.count("run ") == 1
    # each rank's RNG state is its own (rank 0 alone validates), and each is saved
    state = torch.load(run_dir / "checkpoints" / "step_000002" / ckpt.STATE_FILE, weights_only=True)
    [rank1] = state["extra"]["rank_rng"]
    assert not torch.equal(rank1["torch"], state["rng"]["torch"])

    # stopped at step 2 and resumed: the weights an uninterrupted run reaches, bit for bit
    parted, _ = cli("--seed", "9", "--stop-at", "2")
    cli("--resume", parted)
    a = weights(run_dir / "checkpoints" / "step_000004")
    b = weights(email_lake.run_dir(parted) / "checkpoints" / "step_000004")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_each_ddp_rank_draws_dropout_masks_of_its_own():
    def mask(rank: int, world: int, seed: int = 9, step: int = 0) -> torch.Tensor:
        torch.manual_seed(seed)  # what train() seeds the model's initialisation with, on every rank
        Distributed(rank, world).seed_rank(seed, at_step=step)
        return torch.nn.functional.dropout(torch.ones(256), 0.5)

    alone = mask(0, 1)
    assert torch.equal(mask(0, 2), alone)  # rank 0 keeps the stream a run alone has
    assert not torch.equal(mask(1, 2), alone)
    assert not torch.equal(mask(1, 2), mask(2, 4))
    assert not torch.equal(mask(1, 2, seed=8), mask(0, 2, seed=9))  # not seed + rank
    assert not torch.equal(mask(1, 2, step=4), mask(1, 2))  # a resume on another world size
    assert torch.equal(mask(1, 2), mask(1, 2))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine: AMP paths untested here")
@pytest.mark.parametrize("amp", [True, False])
def test_cuda_training_with_and_without_amp(email_lake, ds, amp):
    result = train(email_lake, ds, profile(device="cuda", amp=amp), seed=1, run_id=f"cuda-{amp}", reporter=QUIET)
    meta = ckpt.verify_checkpoint(result.checkpoint)
    assert meta.device.startswith("cuda") and all(math.isfinite(v) for v in meta.metrics.values())
