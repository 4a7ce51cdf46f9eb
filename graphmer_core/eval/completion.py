"""KG completion, the point of GraphMERT: for entities of the test split, the model's top-k tails per
relation, only where the ontology allows the head as r's domain and the tail as r's range.

Precision@k is measured against the test split's extracted triples (which training never saw), and
the same figure is given for a baseline scoring the same candidates.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from graphmer_core.data.store import SPLIT_IDS
from graphmer_core.eval.baselines import TrainCounts
from graphmer_core.eval.linkpred import Queries, Ranker
from graphmer_core.kg import ontology


def complete(ranker: Ranker, score_fn, k: int = 10) -> tuple[pa.Table, dict]:
    """Top-k predictions for every (head, relation) of the queries whose head kind is in r's domain.
    Returns the predictions table and precision@k against the held-out triples of each (h, r)."""
    run, counts, q = ranker.run, ranker.counts, ranker.q
    ds = run.ds
    kinds = ds.column("entities", "kind_id")
    ids = ds.entities.column("entity_id").to_pylist()
    rels = ds.relations
    test_true = _held_out_tails(counts, q)
    rows = {"head_id": [], "relation": [], "tail_id": [], "score": [], "rank": [], "held_out_true": []}
    hits, total = 0, 0
    pairs = sorted({(int(h), int(r)) for h, r in zip(q.head, q.relation, strict=True)})
    for r in sorted({r for _, r in pairs}):
        domain = ontology.RELATIONS[rels[r]].domain
        heads = np.array([h for h, rr in pairs if rr == r and ds.kinds[kinds[h]] in domain], dtype=np.int64)
        if not len(heads):
            continue
        cands = ranker.candidates[r]
        idx = np.array([np.flatnonzero((q.head == h) & (q.relation == r))[0] for h in heads])
        scores = np.asarray(score_fn(idx, r, cands), dtype=np.float64)
        top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        for row, h in enumerate(heads.tolist()):
            truth = test_true[(h, r)]
            for rank, col in enumerate(top[row].tolist(), start=1):
                t = int(cands[col])
                rows["head_id"].append(ids[h])
                rows["relation"].append(rels[r])
                rows["tail_id"].append(ids[t])
                rows["score"].append(float(scores[row, col]))
                rows["rank"].append(rank)
                rows["held_out_true"].append(t in truth)
                hits += t in truth
            total += k
    table = pa.table(rows, schema=pa.schema([("head_id", pa.string()), ("relation", pa.string()),
                                              ("tail_id", pa.string()), ("score", pa.float64()),
                                              ("rank", pa.int32()), ("held_out_true", pa.bool_())]))
    return table, {"k": k, "pairs": len(pairs), f"precision@{k}": hits / total if total else None}


def _held_out_tails(counts: TrainCounts, q: Queries) -> dict[tuple[int, int], set[int]]:
    t = counts.triples
    test = t["split"] == SPLIT_IDS["test"]
    out: dict[tuple[int, int], set[int]] = {}
    wanted = set(zip(q.head.tolist(), q.relation.tolist(), strict=True))
    for h, r, tl in zip(t["head"][test].tolist(), t["relation"][test].tolist(), t["tail"][test].tolist(), strict=True):
        if (h, r) in wanted:
            out.setdefault((h, r), set()).add(tl)
    return out


def predict(lake, run_id: str, k: int = 10, per_relation: int = 300) -> tuple[pa.Table, dict, object]:
    """`graphmer predict`: the model's completions for the test entities, written beside the run."""
    from graphmer_core.data.store import write_parquet
    from graphmer_core.eval.linkpred import model_scores, sample_queries
    from graphmer_core.eval.load import load_run

    run = load_run(lake, run_id)
    counts = TrainCounts(run.ds)
    queries = sample_queries(run, counts, per_relation)
    ranker = Ranker(run, counts, queries)
    table, stats = complete(ranker, model_scores(run, counts, queries), k)
    path = run.run_dir / "completions.parquet"
    write_parquet(table, path)
    return table, stats, path
