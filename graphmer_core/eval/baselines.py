"""What the trivial baselines know: counts from the training split only, never from test.

- most frequent token: the commonest root token of the training windows (MLM), the commonest leaf
  token at each slot of the training tails (MNM);
- most frequent tail per relation: the entity most often the tail of r in training triples;
- relation popularity for link prediction: how often each entity is a tail of r in training;
- copy from the window: the identifier of the window nearest to the head whose name is an entity
  the ontology allows as r's tail (the most popular such entity when several share the name).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from graphmer_core.data.store import SPLIT_IDS, Dataset
from graphmer_core.data.tokenizer import NUM_SPECIAL
from graphmer_core.kg import ontology


@dataclass
class TrainCounts:
    ds: Dataset

    @cached_property
    def triples(self) -> dict[str, np.ndarray]:
        c = {k: self.ds.column("triples", k) for k in ("head", "relation", "tail", "split")}
        c["placed"] = self.ds.column("triples", "placed", bool)
        return c

    @cached_property
    def train_mask(self) -> np.ndarray:
        return self.triples["split"] == SPLIT_IDS["train"]

    @cached_property
    def most_frequent_token(self) -> int:
        counts = np.bincount(self.ds.split("train").tokens, minlength=self.ds.vocab_size)
        counts[:NUM_SPECIAL] = 0
        return int(counts.argmax())

    @cached_property
    def leaf_slot_token(self) -> np.ndarray:
        """(7,) commonest token at each leaf slot of the training split's placed tails."""
        t = self.triples
        tails = t["tail"][self.train_mask & t["placed"]]
        tokens = self.ds.tail_tokens[tails]  # (N, 7)
        out = np.zeros(7, dtype=np.int64)
        for k in range(7):
            col = tokens[:, k]
            col = col[col >= NUM_SPECIAL]
            out[k] = np.bincount(col).argmax() if len(col) else 0
        return out

    @cached_property
    def popularity(self) -> np.ndarray:
        """Training triples (r, tail) counted, a (num_relations, E) float array."""
        t = self.triples
        m = self.train_mask
        E, nr = len(self.ds.entities), len(self.ds.relations)
        flat = np.bincount(t["relation"][m] * E + t["tail"][m], minlength=nr * E)
        return flat.reshape(nr, E).astype(np.float64)

    @cached_property
    def most_frequent_tail(self) -> np.ndarray:
        """(num_relations,) entity index, -1 where r has no training triple."""
        pop = self.popularity
        return np.where(pop.max(1) > 0, pop.argmax(1), -1)

    @cached_property
    def median_tail_len(self) -> np.ndarray:
        """(num_relations,) median leaf length of r's training tails (3 where none)."""
        t = self.triples
        lens = self.ds.column("entities", "tail_len")
        out = np.full(len(self.ds.relations), 3, dtype=np.int64)
        for r in range(1, len(out)):
            m = self.train_mask & (t["relation"] == r)
            if m.any():
                out[r] = max(1, int(np.median(lens[t["tail"][m]])))
        return out

    @cached_property
    def range_mask(self) -> np.ndarray:
        """Whether the entity's kind is in r's range and its name fits a leaf, a (num_relations, E) bool array."""
        kinds = self.ds.column("entities", "kind_id")
        usable = self.ds.column("entities", "tail_len") > 0
        out = np.zeros((len(self.ds.relations), len(kinds)), dtype=bool)
        for r, name in enumerate(self.ds.relations):
            if name in ontology.RELATIONS:
                allowed = np.array([k in ontology.RELATIONS[name].range for k in self.ds.kinds])
                out[r] = allowed[kinds] & usable
        return out

    @cached_property
    def by_name_word(self) -> dict[int, np.ndarray]:
        """name word id -> entities with that name (for the copy baseline)."""
        words = self.ds.column("entities", "name_word")
        order = np.argsort(words, kind="stable")
        w = words[order]
        cuts = np.flatnonzero(np.diff(w)) + 1
        return {int(g[0]): order[s:e] for g, s, e in zip(np.split(w, cuts), np.r_[0, cuts], np.r_[cuts, len(w)],
                                                           strict=True) if g[0] >= 0}

    def copy_tail(self, relation: int, window_words: np.ndarray, head_pos: int, head_span: int) -> int:
        """The copy baseline's tail for (r, window): the range-kind entity named by the window word
        nearest to the head (outside the head itself); -1 if the window names none."""
        order = np.argsort(np.abs(np.arange(len(window_words)) - head_pos), kind="stable")
        for p in order:
            if head_pos <= p < head_pos + head_span or window_words[p] < 0:
                continue
            cands = self.by_name_word.get(int(window_words[p]))
            if cands is None:
                continue
            cands = cands[self.range_mask[relation, cands]]
            if len(cands):
                return int(cands[np.argmax(self.popularity[relation, cands])])
        return -1
