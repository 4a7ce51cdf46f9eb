"""The dataset's quality gates: the leak check rerun from the stored shards, and a Great
Expectations suite on split and sequence statistics. The verdict is written into the folder
(gates.json); training refuses a dataset without a passing one."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from graphmer_core.data import store
from graphmer_core.data.leaks import LeakReport, SplitStream, check_leaks
from graphmer_core.kg.quality import GateFailed, GxWorker, SuiteOutcome, failure_lines, validate_frames


def stored_leak_check(ds: store.Dataset) -> LeakReport:
    """The leak check on what is on disk, not on what the build had in memory."""
    rows = ds.splits_table
    names = [f"{c}:{p}" for c, p in zip(rows.column("corpus").to_pylist(), rows.column("path").to_pylist(),
                                         strict=True)]
    streams = {}
    for split, shards in ds.manifest["shards"].items():
        if shards:
            s = ds.split_arrays(split, ("tokens", "newline", "file_offsets", "file_row"))
            streams[split] = SplitStream(s["tokens"], s["newline"], s["file_offsets"],
                                         [names[i] for i in s["file_row"]])
    return check_leaks(streams, ds.manifest["config"]["leak_check_roots"])


def frames(ds: store.Dataset, leak: LeakReport) -> dict[str, pd.DataFrame]:
    m = ds.manifest
    shares = m["config"]["shares"]
    splits = pd.DataFrame([{"split": s, **row} for s, row in m["splits"].items() if shares[s] > 0])
    fitting = {r: row["train"]["triples"] - row["train"]["tail_too_long"] for r, row in m["triples"].items()}
    relations = pd.DataFrame([{"relation": r, "train_triples": n, "train_placed": m["triples"][r]["train"]["placed"]}
                              for r, n in fitting.items() if n > 0],
                             columns=["relation", "train_triples", "train_placed"])
    ids = []
    for split, shards in m["shards"].items():
        if shards:
            t = ds.split_arrays(split, ("tokens",))["tokens"]
            ids.append({"array": f"{split}.tokens", "min_id": int(t.min(initial=0)), "max_id": int(t.max(initial=0))})
    leaves = ds.tail_tokens
    ids.append({"array": "entities.tail_tokens", "min_id": int(leaves.min(initial=0)),
                "max_id": int(leaves.max(initial=0))})
    leaks = pd.DataFrame([{"split": s, "windows": n, "leaked": sum(1 for x in leak.leaks if x["split"] == s)}
                          for s, n in leak.windows.items()])
    return {"dataset_splits": splits, "dataset_relations": relations, "dataset_token_ids": pd.DataFrame(ids),
            "dataset_leaks": leaks}


def suites(vocab_size: int):
    def make(gx) -> dict[str, list]:
        E = gx.expectations
        return {
            "dataset_splits": [
                E.ExpectTableRowCountToBeBetween(min_value=1),
                *(E.ExpectColumnValuesToBeBetween(column=c, min_value=1) for c in ("files", "tokens", "windows")),
            ],
            # every relation with triples in train (that fit a leaf) is placed in some training window
            "dataset_relations": [E.ExpectColumnValuesToBeBetween(column="train_placed", min_value=1)],
            "dataset_token_ids": [
                E.ExpectColumnValuesToBeBetween(column="min_id", min_value=0),
                E.ExpectColumnValuesToBeBetween(column="max_id", max_value=vocab_size - 1),
            ],
            "dataset_leaks": [E.ExpectColumnValuesToBeBetween(column="leaked", min_value=0, max_value=0)],
        }
    return make


def run_dataset_gates(folder: Path, gx: GxWorker | None = None) -> tuple[list[SuiteOutcome], LeakReport]:
    """The gates, in this process or in `gx`, a worker that imported GX while the build ran."""
    ds = store.open_dataset(folder, require_gates=False)
    leak = stored_leak_check(ds)
    if gx is not None:
        return gx.validate_suites(frames(ds, leak), "graphmer_core.data.gates:suites",
                                  {"vocab_size": ds.vocab_size}), leak
    return validate_frames(frames(ds, leak), suites(ds.vocab_size)), leak


def enforce_dataset_gates(folder: Path, gx: GxWorker | None = None) -> list[SuiteOutcome]:
    """Run the gates, record the verdict in the folder, raise GateFailed if any suite failed."""
    outcomes, leak = run_dataset_gates(folder, gx)
    record_verdict(folder, outcomes, leak)
    if not all(o.success for o in outcomes):
        raise GateFailed(Path(folder), outcomes, what="dataset", consequence="training will refuse it")
    return outcomes


def record_verdict(folder: Path, outcomes: list[SuiteOutcome], leak: LeakReport) -> dict:
    verdict = {"passed": all(o.success for o in outcomes), "checked_at": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                                      time.gmtime()),
               "suites": {o.suite: o.success for o in outcomes}, "failures": failure_lines(outcomes),
               "leak_check": leak.summary()}
    store.write_gates(folder, verdict)
    return verdict

