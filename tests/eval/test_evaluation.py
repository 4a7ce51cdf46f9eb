"""Evaluation: strict loading, leaks refused, filtered ranking, baselines, gates, and the report."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from graphmer_core.artifacts import sha256_file
from graphmer_core.data import store
from graphmer_core.data.leaks import LeakError
from graphmer_core.data.store import open_dataset
from graphmer_core.eval import linkpred as lp
from graphmer_core.eval.baselines import TrainCounts
from graphmer_core.eval.gates import current_model, promote, run_model_gates
from graphmer_core.eval.load import load_run
from graphmer_core.eval.report import EvalOptions, evaluate
from graphmer_core.lake import Lake
from graphmer_core.train import checkpoint as ckpt
from graphmer_core.train.loop import Reporter, train
from graphmer_core.train.profiles import Gates, Profile

QUIET = Reporter(log=lambda _: None, progress=False)


@pytest.fixture(scope="module")
def trained(email_lake, email_dataset) -> str:
    from lakes import EMAIL_CONFIG

    profile = Profile.model_validate({
        "name": "eval-test", "dataset": EMAIL_CONFIG.model_dump(mode="json"), "model": {"size": "tiny"},
        "steps": 30, "micro_batch_size": 8, "save_every_steps": 30, "optimizer": {"lr": 0.003},
        "curriculum": [{"step": 0, "roots": 64}], "validation": {"every_steps": 15, "windows": 16},
        "gates": {"min_steps": 30, "min_loss_reduction": 0.0, "min_mlm_acc": 0.99}})  # a gate it cannot pass
    train(email_lake, open_dataset(email_dataset.path), profile, seed=0, run_id="evaluated", reporter=QUIET)
    return "evaluated"


def test_filtered_ranking_on_a_hand_computed_case():
    scores = np.array([[0.9, 0.5, 0.7, 0.5, 0.1],
                       [0.2, 0.2, 0.2, 0.8, 0.2]])
    # row 0: true tail col 1 (0.5); col 0 is another true tail (removed); col 2 beats it; col 3 ties
    # row 1: true tail col 0 (0.2); col 3 beats it; cols 1, 2, 4 tie
    ranks = lp.filtered_ranks(scores, np.array([1, 0]), [np.array([0]), np.array([], dtype=int)])
    assert ranks.tolist() == [1 + 1 + 0.5, 1 + 1 + 1.5]
    m = lp.metrics(np.array([1.0, 2.0, 4.0, 20.0]))
    assert m["mrr"] == pytest.approx((1 + 0.5 + 0.25 + 0.05) / 4)
    assert (m["hits@1"], m["hits@3"], m["hits@10"]) == (0.25, 0.5, 0.75)


def test_baseline_counts_come_from_training_triples_only(email_dataset):
    ds = open_dataset(email_dataset.path)
    c = TrainCounts(ds)
    t = c.triples
    calls = ds.relations.index("calls")
    train_calls = t["tail"][(t["split"] == 0) & (t["relation"] == calls)]
    assert c.popularity[calls].sum() == len(train_calls)
    values, n = np.unique(train_calls, return_counts=True)
    assert c.popularity[calls, c.most_frequent_tail[calls]] == n.max()
    test_only = set(t["tail"][(t["split"] == 2) & (t["relation"] == calls)].tolist()) - set(train_calls.tolist())
    assert test_only and all(c.popularity[calls, e] == 0 for e in test_only)


def test_lexical_and_popularity_scores_by_hand(email_lake, trained):
    run = load_run(email_lake, trained)
    c = TrainCounts(run.ds)
    q = lp.sample_queries(run, c, per_relation=20)
    lexical = lp.lexical_scores(run, c, q)
    ids = run.ds.entities.column("entity_id").to_pylist()
    search = run.ds.entities.column("search").to_pylist()
    import pyarrow.parquet as pq

    ents = {r["entity_id"]: r for r in pq.read_table(email_lake.kg_dir(run.ds.manifest["kg_version"])
                                                      / "entities.parquet").to_pylist()}
    roots = {x["name"]: Path(x["root"]) for x in run.ds.manifest["corpora"]}
    checked = 0
    for i in range(min(len(q.head), 40)):
        h, r, t = int(q.head[i]), int(q.relation[i]), int(q.tail[i])
        e = ents[ids[h]]
        lines = (roots[e["corpus"]] / e["path"]).read_text().splitlines()[e["start_line"] - 1:e["end_line"]]
        expected = len(re.findall(rf"(?<!\w){re.escape(search[t])}(?!\w)", "\n".join(lines)))
        got = lexical(np.array([i]), r, np.array([t]))[0, 0]
        assert int(got) == expected  # the count, plus a popularity tie-break below 1
        assert got - expected < 1
        checked += 1
    pop = lp.popularity_scores(c)(np.array([0, 1]), int(q.relation[0]), np.array([int(q.tail[0])]))
    assert pop[0, 0] == c.popularity[int(q.relation[0]), int(q.tail[0])]
    assert checked > 10


def test_checkpoint_with_a_flipped_byte_or_a_wrong_shape_refuses_to_load(email_lake, trained, tmp_path):
    lake = Lake(tmp_path / "lake")
    shutil.copytree(email_lake.root, lake.root)
    path = ckpt.latest_valid_checkpoint(lake.run_dir(trained))
    weights = path / ckpt.MODEL_FILE
    data = bytearray(weights.read_bytes())
    data[-10] ^= 1
    weights.write_bytes(bytes(data))
    with pytest.raises(ckpt.CheckpointError, match="model.safetensors"):
        load_run(lake, trained, checkpoint=path)
    # a reshaped tensor with a consistent checksum: only the shape check can catch it
    shutil.copytree(email_lake.run_dir(trained), lake.run_dir("reshaped"))
    path = lake.run_dir("reshaped") / "checkpoints" / path.name
    tensors = load_file(email_lake.run_dir(trained) / "checkpoints" / path.name / ckpt.MODEL_FILE)
    key = next(k for k in tensors if k.endswith("mlm_head.bias"))
    tensors[key] = torch.zeros(tensors[key].shape[0] + 1)
    save_file(tensors, path / ckpt.MODEL_FILE)
    meta = json.loads((path / ckpt.METADATA_FILE).read_text())
    meta["files"][ckpt.MODEL_FILE] = {"sha256": sha256_file(path / ckpt.MODEL_FILE),
                                      "size": (path / ckpt.MODEL_FILE).stat().st_size}
    meta["run_id"] = "reshaped"
    meta.pop("metadata_sha256")
    from graphmer_core.artifacts import sha256_json

    meta["metadata_sha256"] = sha256_json(meta)
    (path / ckpt.METADATA_FILE).write_text(json.dumps(meta))
    with pytest.raises(ckpt.CheckpointError, match="mlm_head.bias"):
        load_run(lake, "reshaped", checkpoint=path)


def test_a_planted_leak_is_refused_before_any_figure(email_lake, trained, tmp_path):
    """A dataset whose test shard repeats a training window (checksums and gates made to agree, as
    if written by a buggy build) is refused by evaluation itself."""
    lake = Lake(tmp_path / "lake")
    shutil.copytree(email_lake.root, lake.root)
    run = load_run(lake, trained)
    folder = run.ds.dir
    from safetensors.numpy import load_file as load_np
    from safetensors.numpy import save_file as save_np

    train_shard = folder / run.ds.manifest["shards"]["train"][0]
    test_shard = folder / run.ds.manifest["shards"]["test"][0]
    tr, te = load_np(str(train_shard)), load_np(str(test_shard))
    n = min(int(te["file_offsets"][1]), int(tr["file_offsets"][1]))
    for k in ("tokens", "newline", "word_start", "word"):  # the first test file becomes the first train file
        te[k][:n] = tr[k][:n]
    save_np(te, str(test_shard))
    manifest = json.loads((folder / store.MANIFEST).read_text())
    manifest["files_sha256"] = store.stamp(folder)
    (folder / store.MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(LeakError, match="repeats training file"):
        load_run(lake, trained)


def _metrics_csv(path: Path, losses: list[float]) -> Path:
    path.write_text("step,loss,lr\n" + "".join(f"{i + 1},{x},0.001\n" for i, x in enumerate(losses)))
    return path


def test_gates_fail_below_their_thresholds_and_pass_above(tmp_path):
    held = {"mlm": {"accuracy": {"model": 0.40, "most_frequent_token": 0.10}},
            "mnm": {"accuracy": {"all": {"model": 0.30, "most_frequent_tail": 0.05}}}}
    falling = _metrics_csv(tmp_path / "a.csv", list(np.linspace(10, 4, 100)))
    gates = Gates(min_steps=100, min_loss_reduction=0.4, min_mlm_acc=0.3, min_mnm_acc=0.15)
    rows, outcomes = run_model_gates(gates, falling, held)
    assert all(g.passed for g in rows) and all(o.success for o in outcomes)
    flat = _metrics_csv(tmp_path / "b.csv", list(np.linspace(10, 8, 100)))
    rows, outcomes = run_model_gates(gates, flat, held)
    failed = [g for g in rows if not g.passed]
    assert [g.figure for g in failed] == ["loss_reduction"] and not outcomes[0].success
    assert "needs >= 0.4000" in failed[0].line() and "FAIL" in failed[0].line()
    nan = _metrics_csv(tmp_path / "c.csv", [10.0] * 50 + [float("nan")] + [3.0] * 49)
    rows, _ = run_model_gates(gates, nan, held)
    assert {g.figure for g in rows if not g.passed} == {"finite_metrics"}
    worse = {"mlm": {"accuracy": {"model": 0.40, "most_frequent_token": 0.45}}, "mnm": held["mnm"]}
    rows, _ = run_model_gates(gates, falling, worse)
    assert {g.figure for g in rows if not g.passed} == {"heldout_mlm_acc_minus_most_frequent_token"}


def test_evaluate_writes_the_report_and_a_failed_gate_blocks_promotion(email_lake, trained, capsys):
    ev = evaluate(email_lake, [trained], EvalOptions(windows=64, per_relation=30, kge=()), log=lambda _: None)
    r = ev.report
    run = r["runs"][trained]
    assert run["heldout"]["windows"] == 64 and run["link_prediction"]["all"]["n"] > 30
    assert set(r["link_prediction_baselines"]) == {"popularity", "lexical"}
    assert {g["figure"] for g in r["gates"]} >= {"loss_reduction", "heldout_mlm_acc", "finite_metrics"}
    md = ev.paths["report.md"].read_text()
    assert "Link prediction (filtered)" in md and "| popularity |" in md and "triple scorer" in md
    for name in ("losses", "train_valid", "accuracy", "relation_mrr"):
        assert ev.paths[name].read_bytes()[:4] == b"\x89PNG"
    assert json.loads(ev.paths["report.json"].read_text())["run_ids"] == [trained]
    from graphmer_core.cli import main

    assert not ev.passed and [g["figure"] for g in r["gates"] if not g["passed"]][0] == "heldout_mlm_acc"
    code = main(["eval", trained, "--lake", str(email_lake.root), "--windows", "64", "--per-relation", "20",
                 "--no-kge"])
    captured = capsys.readouterr()
    assert code == 3 and "FAILED: heldout_mlm_acc" in captured.out and "models/current is unchanged" in captured.err
    assert current_model(email_lake) is None
    checkpoint = ckpt.latest_valid_checkpoint(email_lake.run_dir(trained))
    promote(email_lake, checkpoint)
    assert current_model(email_lake) == checkpoint
