"""Link prediction on held-out triples: for (h, r, ?) rank every entity the ontology allows as r's
tail, in the filtered setting (other known true tails of (h, r), in any split, are removed).

How the model scores a candidate t: the encoder reads the test window where h occurs, with h's
leaf block set to [MASK] x len(t) and relation id r, and no other leaves in the window (so no tail
of h is in view); the score is the mean log-probability its MNM head gives t's leaf tokens in
those slots, the way GraphMERT distils triples. The true tail's tokens never enter. Its triple
scorer (the contrastive objective's cosine) is reported beside it. Rank ties count half (the
expected rank under random tie-breaking).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import torch

from graphmer_core.data.leafy_chain import cut_windows, window_arrays, words_in_windows
from graphmer_core.data.loader import IGNORE
from graphmer_core.data.store import SPLIT_IDS
from graphmer_core.data.tokenizer import MASK_ID, PAD_ID
from graphmer_core.eval.baselines import TrainCounts
from graphmer_core.eval.load import LoadedRun
from graphmer_core.kg.manifest import verify
from graphmer_core.model.batch import LeafyBatch

EXCLUDED = ("contains",)  # structural: the file itself says it; left out of link prediction


@dataclass
class Queries:
    """The sampled test triples and where their heads occur."""

    head: np.ndarray
    relation: np.ndarray
    tail: np.ndarray
    pos: np.ndarray  # token position of the head occurrence in the split stream
    span: np.ndarray
    window: np.ndarray  # (start, end) rows
    in_window: np.ndarray  # the tail's name is a word of the head's window


def sample_queries(run: LoadedRun, counts: TrainCounts, per_relation: int, seed: int = 0,
                   split: str = "test") -> Queries:
    ds = run.ds
    t = counts.triples
    data = ds.split(split)
    first = {}
    for p, e in zip(data.occ_pos.tolist(), data.occ_entity.tolist(), strict=True):
        first.setdefault(e, p)
    span = dict(zip(data.occ_pos.tolist(), data.occ_span.tolist(), strict=True))
    rng = np.random.default_rng(seed)
    excluded = {ds.relations.index(r) for r in EXCLUDED if r in ds.relations}
    pick = []
    for r in range(1, len(ds.relations)):
        if r in excluded:
            continue
        rows = np.flatnonzero((t["split"] == SPLIT_IDS[split]) & t["placed"] & (t["relation"] == r)
                              & counts.range_mask[r, t["tail"]])
        rows = rows[[int(h) in first for h in t["head"][rows]]]
        pick.extend(rng.permutation(rows)[:per_relation].tolist())
    pick = np.array(sorted(pick), dtype=np.int64)
    head, rel, tail = t["head"][pick], t["relation"][pick], t["tail"][pick]
    pos = np.array([first[int(h)] for h in head], dtype=np.int64)
    starts, ends = cut_windows(data.file_offsets, data.newline, run.roots)
    w = np.searchsorted(starts, pos, side="right") - 1
    win = np.stack([starts[w], ends[w]], 1) if len(w) else np.zeros((0, 2), dtype=np.int64)
    wa = window_arrays(data.tokens, data.word_start, data.word, win[:, 0], win[:, 1], run.roots)
    name_word = ds.column("entities", "name_word")
    inw = words_in_windows(wa.word, np.arange(len(pick)), name_word[tail]) if len(pick) else np.zeros(0, bool)
    return Queries(head, rel, tail, pos, np.array([span[int(p)] for p in pos], dtype=np.int64), win, inw)


def filtered_ranks(scores: np.ndarray, true_col: np.ndarray, known: list[np.ndarray]) -> np.ndarray:
    """scores (Q, C) over candidate columns; true_col (Q,) the true tail's column; known[q] the
    columns of other true tails (removed). Returns (Q,) realistic ranks (ties count half)."""
    ranks = np.empty(len(true_col))
    for q, (row, c) in enumerate(zip(scores, true_col, strict=True)):
        s = row.copy()
        s[known[q]] = -np.inf
        target = row[c]
        ranks[q] = 1 + (s > target).sum() + 0.5 * ((s == target).sum() - 1)
    return ranks


def metrics(ranks: np.ndarray) -> dict:
    if not len(ranks):
        return {"n": 0, "mrr": None, "hits@1": None, "hits@3": None, "hits@10": None}
    return {"n": int(len(ranks)), "mrr": float(np.mean(1 / ranks)),
            **{f"hits@{k}": float(np.mean(ranks <= k)) for k in (1, 3, 10)}}


class Ranker:
    """Candidates, filters and the per-relation breakdown shared by the model and every baseline."""

    def __init__(self, run: LoadedRun, counts: TrainCounts, queries: Queries):
        self.run, self.counts, self.q = run, counts, queries
        t = counts.triples
        self.known_tails: dict[tuple[int, int], set[int]] = {}
        for h, r, tl in zip(t["head"].tolist(), t["relation"].tolist(), t["tail"].tolist(), strict=True):
            self.known_tails.setdefault((h, r), set()).add(tl)
        self.candidates = {r: np.flatnonzero(counts.range_mask[r]) for r in np.unique(queries.relation).tolist()}

    def rank(self, score_fn) -> np.ndarray:
        """score_fn(query indices, relation, candidate entities) -> (n, C) scores; returns ranks."""
        ranks = np.zeros(len(self.q.head))
        for r, cands in self.candidates.items():
            idx = np.flatnonzero(self.q.relation == r)
            col = {int(e): i for i, e in enumerate(cands)}
            scores = np.asarray(score_fn(idx, r, cands), dtype=np.float64)
            true_col = np.array([col[int(t)] for t in self.q.tail[idx]])
            known = [np.array([col[e] for e in self.known_tails[(int(h), r)] if e != int(t) and e in col], dtype=int)
                     for h, t in zip(self.q.head[idx], self.q.tail[idx], strict=True)]
            ranks[idx] = filtered_ranks(scores, true_col, known)
        return ranks

    def breakdown(self, ranks: np.ndarray) -> dict:
        rels = self.run.ds.relations
        return {"all": metrics(ranks), "in_window": metrics(ranks[self.q.in_window]),
                "not_in_window": metrics(ranks[~self.q.in_window]),
                "per_relation": {rels[r]: metrics(ranks[self.q.relation == r])
                                 for r in sorted(self.candidates)}}


def query_batch(run: LoadedRun, queries: Queries, idx: np.ndarray, lengths: np.ndarray) -> LeafyBatch:
    """Windows of the queries `idx`, each with only its head's leaf block: [MASK] x lengths[i] at
    relation r. No other leaf is attached, so no tail of the head is in view."""
    ds, R = run.ds, run.roots
    data = ds.split("test")
    wa = window_arrays(data.tokens, data.word_start, data.word, queries.window[idx, 0], queries.window[idx, 1], R)
    B = len(idx)
    root = queries.pos[idx] - queries.window[idx, 0]
    leaf_mask = np.zeros((B, R, 7), dtype=bool)
    leaf_mask[np.arange(B), root] = np.arange(7)[None, :] < lengths[:, None]
    rel = np.zeros((B, R), dtype=np.int64)
    rel[np.arange(B), root] = queries.relation[idx]
    span = np.zeros((B, R), dtype=np.int64)
    span[np.arange(B), root] = np.minimum(queries.span[idx], queries.window[idx, 1] - queries.pos[idx])
    lm = torch.from_numpy(leaf_mask)
    batch = LeafyBatch(torch.from_numpy(wa.root_ids), torch.where(lm, MASK_ID, PAD_ID), lm, torch.from_numpy(rel),
                       torch.from_numpy(span), root_mask=torch.from_numpy(wa.root_mask))
    return batch.validate(IGNORE, ds.vocab_size, len(ds.relations))


def mnm_scores(run: LoadedRun, queries: Queries, batch_size: int = 8):
    """The model's score for (h, r, t): the mean log-probability its MNM head gives t's leaf tokens
    when h's block is [MASK] x len(t) (GraphMERT distils triples through these predictions)."""
    model, ds = run.model, run.ds
    emb = model.encoder.tok_emb.weight
    tails, lens = ds.tail_tokens, ds.column("entities", "tail_len")

    @torch.no_grad()
    def logprobs(idx: np.ndarray) -> dict[int, np.ndarray]:
        out = {k: np.zeros((len(idx), k, ds.vocab_size), dtype=np.float32) for k in range(1, 8)}
        for lo in range(0, len(idx), batch_size):
            part = idx[lo:lo + batch_size]
            rows = np.repeat(part, 7)
            k = np.tile(np.arange(1, 8), len(part))
            enc = model.encoder(query_batch(run, queries, rows, k))
            for i, (kk, row) in enumerate(zip(k.tolist(), np.repeat(np.arange(lo, lo + len(part)), 7), strict=True)):
                logits = model.mnm_head(enc.leaves[i, :kk], emb)  # the block's slots come first
                out[kk][row] = torch.log_softmax(logits.float(), -1).numpy()
        return out

    rows: dict[tuple[int, int], np.ndarray] = {}  # (query, len(cands)) -> its scores: 7 forwards each, once

    def score(idx: np.ndarray, r: int, cands: np.ndarray) -> np.ndarray:
        todo = np.array([i for i in idx.tolist() if (i, len(cands)) not in rows], dtype=np.int64)
        if len(todo):
            lp = logprobs(todo)
            scores = np.full((len(todo), len(cands)), -np.inf, dtype=np.float32)
            for k in range(1, 8):
                cols = np.flatnonzero(lens[cands] == k)
                if len(cols):
                    tok = tails[cands[cols], :k]  # (m, k)
                    scores[:, cols] = np.mean([lp[k][:, j, tok[:, j]] for j in range(k)], axis=0)
            rows.update({(i, len(cands)): row for i, row in zip(todo.tolist(), scores, strict=True)})
        return np.stack([rows[(i, len(cands))] for i in idx.tolist()])

    return score


@torch.no_grad()
def model_scores(run: LoadedRun, counts: TrainCounts, queries: Queries, batch_size: int = 32):
    """A second score function: the model's triple scorer (the contrastive objective's cosine
    between the head occurrence's query for r, its block [MASK] x the median tail length of r in
    training, and t's name vector)."""
    model, ds = run.model, run.ds
    emb = model.encoder.tok_emb.weight
    tokens = torch.from_numpy(ds.tail_tokens)
    keys = torch.cat([model.scorer.key(model.names(tokens[i:i + 8192], tokens[i:i + 8192] != PAD_ID, emb))
                      for i in range(0, len(tokens), 8192)])  # (E, D) every entity's key
    queries_out = np.zeros((len(queries.head), keys.shape[1]), dtype=np.float32)
    for lo in range(0, len(queries.head), batch_size):
        idx = np.arange(lo, min(lo + batch_size, len(queries.head)))
        enc = model.encoder(query_batch(run, queries, idx, counts.median_tail_len[queries.relation[idx]]))
        h = enc.roots[torch.arange(len(idx)), torch.from_numpy(queries.pos[idx] - queries.window[idx, 0])]
        queries_out[idx] = model.scorer.query(h, torch.from_numpy(queries.relation[idx])).numpy()

    def score(idx: np.ndarray, r: int, cands: np.ndarray) -> np.ndarray:
        return queries_out[idx] @ keys[cands].numpy().T

    return score


def popularity_scores(counts: TrainCounts):
    def score(idx: np.ndarray, r: int, cands: np.ndarray) -> np.ndarray:
        return np.broadcast_to(counts.popularity[r, cands], (len(idx), len(cands)))
    return score


_WORD = re.compile(r"\w+")


def lexical_scores(run: LoadedRun, counts: TrainCounts, queries: Queries):
    """Candidates ranked by how often their name is written in the head's own source (its lines in
    its file, what an IDE shows for it); ties broken by relation popularity."""
    roots = {c["name"]: Path(c["root"]) for c in run.ds.manifest["corpora"]}
    kg_dir = run.lake.kg_dir(run.ds.manifest["kg_version"])
    verify(kg_dir, ("entities.parquet",))
    ents = pq.read_table(kg_dir / "entities.parquet", columns=["entity_id", "corpus", "path", "start_line", "end_line"])
    where = {r["entity_id"]: r for r in ents.to_pylist()}
    ids = run.ds.entities.column("entity_id").to_pylist()
    search = run.ds.entities.column("search").to_pylist()
    files: dict[tuple[str, str], list[str]] = {}
    bags: dict[int, Counter] = {}
    for h in np.unique(queries.head).tolist():
        e = where.get(ids[h])
        bags[h] = Counter()
        if e is None or e["path"] is None or e["start_line"] is None:
            continue
        key = (e["corpus"], e["path"])
        if key not in files:
            files[key] = (roots[e["corpus"]] / e["path"]).read_text(errors="replace").splitlines()
        bags[h] = Counter(_WORD.findall("\n".join(files[key][max(e["start_line"] - 1, 0):e["end_line"]])))

    def score(idx: np.ndarray, r: int, cands: np.ndarray) -> np.ndarray:
        pop = counts.popularity[r, cands]
        tie = pop / (pop.max() + 1) if len(pop) else pop
        columns: dict[str, list[int]] = {}
        for j, c in enumerate(cands.tolist()):
            columns.setdefault(search[c], []).append(j)
        out = np.tile(tie, (len(idx), 1))
        for row, h in enumerate(queries.head[idx].tolist()):
            for word, n in bags[h].items():
                if word in columns:
                    out[row, columns[word]] += n
        return out

    return score
