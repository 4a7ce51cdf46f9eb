"""Type-consistent negatives: corrupted tails drawn from the entities the ontology allows as r's tail.

A candidate is never the true tail, never another known true tail of (h, r) anywhere in the KG
(the filtered setting), and never spelled like the true tail (same leaf tokens), so a negative is
always a wrong answer the model could have given.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from graphmer_core.kg import ontology


@dataclass
class NegativeSampler:
    pool: np.ndarray  # candidate entity indices, grouped by relation id
    pool_offsets: np.ndarray  # (num_relations+1,) int64
    true_keys: np.ndarray  # sorted int64 (head * num_relations + relation) * E + tail of every KG triple
    spelling: np.ndarray  # (E,) int64 id of each entity's leaf token sequence
    num_entities: int
    num_relations: int

    @classmethod
    def build(cls, relations: tuple[str, ...], kinds: tuple[str, ...], entity_kind: np.ndarray,
              usable: np.ndarray, spelling: np.ndarray, head: np.ndarray, relation: np.ndarray,
              tail: np.ndarray, type_consistent: bool = True) -> NegativeSampler:
        """relations: id -> name (0 = none); kinds: kind id -> name; usable: (E,) bool entities that
        can be a leaf (name fits the slots); head/relation/tail: every triple of the KG.
        type_consistent=False draws from every usable entity (the ablation)."""
        pools, offsets = [], [0]
        for name in relations:
            rng = ontology.RELATIONS[name].range if name in ontology.RELATIONS else frozenset()
            allowed = np.array([k in rng or (not type_consistent and name in ontology.RELATIONS) for k in kinds],
                               dtype=bool)
            members = np.flatnonzero(allowed[entity_kind] & usable)
            pools.append(members)
            offsets.append(offsets[-1] + len(members))
        E, nr = len(entity_kind), len(relations)
        keys = np.unique((head.astype(np.int64) * nr + relation) * E + tail)
        return cls(np.concatenate(pools).astype(np.int64), np.asarray(offsets, dtype=np.int64), keys,
                   spelling.astype(np.int64), E, nr)

    def is_true(self, head: np.ndarray, relation: np.ndarray, cand: np.ndarray) -> np.ndarray:
        q = (head.astype(np.int64) * self.num_relations + relation) * self.num_entities + cand
        i = np.searchsorted(self.true_keys, q).clip(max=max(len(self.true_keys) - 1, 0))
        return (self.true_keys[i] == q) if len(self.true_keys) else np.zeros(q.shape, dtype=bool)

    def sample(self, head: np.ndarray, relation: np.ndarray, tail: np.ndarray, k: int,
               rng: np.random.Generator, tries: int = 4) -> np.ndarray:
        """(N, k) int64 negative entity indices for N triples; -1 where fewer than k exist."""
        n = len(head)
        lo, hi = self.pool_offsets[relation], self.pool_offsets[relation + 1]
        size = hi - lo
        m = k * tries
        draw = lo[:, None] + (rng.random((n, m)) * np.maximum(size, 1)[:, None]).astype(np.int64)
        cand = np.where(size[:, None] > 0, self.pool[draw.clip(max=max(len(self.pool) - 1, 0))], -1) \
            if len(self.pool) else np.full((n, m), -1, dtype=np.int64)
        h, r = np.broadcast_to(head[:, None], cand.shape), np.broadcast_to(relation[:, None], cand.shape)
        ok = (cand >= 0) & (cand != tail[:, None])
        ok &= ~self.is_true(h, r, cand.clip(min=0))
        ok &= self.spelling[cand.clip(min=0)] != self.spelling[tail][:, None]
        # no repeats within a row: keep the first draw of each candidate
        order = np.argsort(cand, axis=1, kind="stable")
        sorted_c = np.take_along_axis(cand, order, axis=1)
        dup_sorted = np.concatenate([np.zeros((n, 1), bool), sorted_c[:, 1:] == sorted_c[:, :-1]], axis=1)
        dup = np.zeros_like(dup_sorted)
        np.put_along_axis(dup, order, dup_sorted, axis=1)
        ok &= ~dup
        # the first k valid draws of each row, in draw order
        rank = np.cumsum(ok, axis=1) - 1
        out = np.full((n, k), -1, dtype=np.int64)
        rows, cols = np.nonzero(ok & (rank < k))
        out[rows, rank[rows, cols]] = cand[rows, cols]
        return out
