"""Batches for training and evaluation: windows cut at the step's R, triples attached, masked.

A batch is a pure function of (seed, step, rank): the epoch's window order comes from (seed,
epoch), the triple draws, masks and negatives from (seed, step, rank). So a resumed run sees the
same batches it would have seen, every rank reads its own windows, and DataLoader workers can
build batches in any order. Evaluation batches use a fixed seed, so every checkpoint and every
baseline is scored on the same windows and the same masks.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from functools import cached_property

import numpy as np
import torch
from torch import Tensor

from graphmer_core.data.leafy_chain import TripleIndex, attach, cut_windows, window_arrays
from graphmer_core.data.negatives import NegativeSampler
from graphmer_core.data.store import SPLIT_IDS, Dataset
from graphmer_core.data.tokenizer import MASK_ID, NUM_SPECIAL, PAD_ID
from graphmer_core.model.batch import LeafyBatch
from graphmer_core.model.masking import mask_leaf_blocks, mask_roots


SAMPLE_SEED = 0  # max_samples keeps the same windows for every seed and run
IGNORE = -100  # target value of positions that are not predicted (ModelConfig.ignore_index)


@dataclass(frozen=True)
class BatchSpec:
    """How batches are made (from the training profile)."""

    batch_size: int
    mlm_rate: float = 0.15  # share of a window's real roots that MLM predicts (whole identifiers)
    mnm_prob: float = 0.15  # chance that a leaf block is masked for MNM
    negatives_ratio: float = 0.15  # share of attached triples that get negatives (MNM-masked first)
    negatives_k: int = 4  # corrupted tails per chosen triple
    type_consistent: bool = True  # negatives from r's range kinds; False: from every entity
    max_samples: int | None = None  # training windows used: a fixed sample of this many; None = all
    seed: int = 0


@dataclass
class DataBatch:
    """A LeafyBatch plus what evaluation needs to know about it (never seen by the model)."""

    leafy: LeafyBatch
    in_window: Tensor  # (B, R) bool: the attached tail's name is one of the window's words
    head: Tensor  # (B, R) long entity index of the head at each root, -1 = none
    tail: Tensor  # (B, R) long entity index of the attached tail, -1 = none
    triple: Tensor  # (B, R) long row of the attached triple in triples.parquet, -1 = none
    window: Tensor  # (B,) long window index within the split at this R
    word: Tensor  # (B, R) int32 identifier word id of each root, -1 = none (for copy baselines)

    def to(self, device: torch.device | str) -> DataBatch:
        moved = {f.name: getattr(self, f.name).to(device) for f in fields(self)}
        return replace(self, **moved)

    @property
    def tokens(self) -> int:
        """Tokens in the sequences: real roots and real leaves."""
        return int(self.leafy.roots_valid().sum()) + int(self.leafy.leaf_mask.sum())


def _rng_seed(*parts: int) -> int:
    return int(np.random.SeedSequence([p & 0xFFFFFFFF for p in parts]).generate_state(1, np.uint64)[0] >> 1)


class SplitView:
    """One split of a dataset at one R: its windows and everything a batch is made from."""

    def __init__(self, ds: Dataset, split: str, roots: int, spec: BatchSpec):
        self.ds, self.split_name, self.roots, self.spec = ds, split, roots, spec
        self.data = ds.split(split)
        self.starts, self.ends = cut_windows(self.data.file_offsets, self.data.newline, roots)
        if split == "train" and spec.max_samples is not None and spec.max_samples < len(self.starts):
            keep = np.sort(np.random.default_rng(SAMPLE_SEED).permutation(len(self.starts))[:spec.max_samples])
            self.starts, self.ends = self.starts[keep], self.ends[keep]

    def __len__(self) -> int:
        return len(self.starts)

    @cached_property
    def triples(self) -> TripleIndex:
        keep = (self.ds.column("triples", "split") == SPLIT_IDS[self.split_name]) & \
            self.ds.column("triples", "placed", bool)
        rows = np.flatnonzero(keep)
        return TripleIndex.build(self.ds.column("triples", "head")[rows], self.ds.column("triples", "relation")[rows],
                                 self.ds.column("triples", "tail")[rows], rows, len(self.ds.entities),
                                 len(self.ds.relations))

    @cached_property
    def entity_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return (self.ds.tail_tokens, self.ds.column("entities", "tail_len"), self.ds.column("entities", "name_word"))

    @cached_property
    def negatives(self) -> NegativeSampler:
        t = self.ds.triples
        return NegativeSampler.build(
            tuple(self.ds.relations), tuple(self.ds.kinds), self.ds.column("entities", "kind_id"),
            self.ds.column("entities", "tail_len") > 0, self.ds.column("entities", "spelling"),
            t.column("head").to_numpy(), t.column("relation").to_numpy().astype(np.int64), t.column("tail").to_numpy(),
            type_consistent=self.spec.type_consistent)

    def batch(self, window_ids: np.ndarray, *parts: int) -> DataBatch:
        """The batch of these windows; masks, draws and negatives seeded by `parts` (seed, step, rank)."""
        spec, R = self.spec, self.roots
        seed = _rng_seed(*parts)
        rng = np.random.default_rng(seed)
        gen = torch.Generator().manual_seed(seed)
        starts, ends = self.starts[window_ids], self.ends[window_ids]
        d = self.data
        win = window_arrays(d.tokens, d.word_start, d.word, starts, ends, R, PAD_ID)
        tail_tokens, tail_len, name_word = self.entity_arrays
        leaves = attach(win, starts, ends, d.occ_pos, d.occ_span, d.occ_entity, self.triples, tail_tokens,
                        tail_len, name_word, rng, PAD_ID)
        V = self.ds.vocab_size
        root_ids, root_mask = torch.from_numpy(win.root_ids), torch.from_numpy(win.root_mask)
        leaf_ids, leaf_mask = torch.from_numpy(leaves.leaf_ids), torch.from_numpy(leaves.leaf_mask)
        roots_in, mlm = (root_ids, torch.full_like(root_ids, IGNORE)) if spec.mlm_rate <= 0 else mask_roots(
            root_ids, root_mask, torch.from_numpy(win.word_start), mask_id=MASK_ID, vocab_size=V, generator=gen,
            rate=spec.mlm_rate, random_low=NUM_SPECIAL, ignore_index=IGNORE)
        leaves_in, mnm = mask_leaf_blocks(leaf_ids, leaf_mask, mask_id=MASK_ID, vocab_size=V, generator=gen,
                                          prob=spec.mnm_prob, random_low=NUM_SPECIAL, ignore_index=IGNORE)
        neg = self._negatives(leaves, (mnm != IGNORE).any(-1).numpy(), rng)
        leafy = LeafyBatch(
            root_ids=roots_in, leaf_ids=leaves_in, leaf_mask=leaf_mask,
            relation_ids=torch.from_numpy(leaves.relation_ids), head_span=torch.from_numpy(leaves.head_span),
            root_mask=root_mask, mlm_targets=mlm, mnm_targets=mnm, neg_tail_ids=neg)
        leafy = leafy.validate(IGNORE, vocab_size=V, num_relations=len(self.ds.relations))  # fills leafy.sizes
        return DataBatch(leafy, torch.from_numpy(leaves.in_window), torch.from_numpy(leaves.head),
                         torch.from_numpy(leaves.tail), torch.from_numpy(leaves.triple),
                         torch.from_numpy(np.asarray(window_ids, dtype=np.int64)), torch.from_numpy(win.word))

    def _negatives(self, leaves, masked: np.ndarray, rng: np.random.Generator) -> Tensor | None:
        """(B, R, K, 7) leaf tokens of type-consistent negatives for a `negatives_ratio` share of the
        attached triples, MNM-masked blocks first (those are what the contrastive loss scores)."""
        spec = self.spec
        if spec.negatives_ratio <= 0 or spec.negatives_k <= 0:
            return None
        has = leaves.relation_ids > 0
        n = int(has.sum())
        if not n:
            return None
        m = masked & has
        p_masked = min(1.0, spec.negatives_ratio * n / max(int(m.sum()), 1))
        p_other = max(0.0, (spec.negatives_ratio * n - int(m.sum())) / max(n - int(m.sum()), 1))
        u = rng.random(has.shape)
        chosen = has & np.where(m, u < p_masked, u < p_other)
        b, r = np.nonzero(chosen)
        neg = self.negatives.sample(leaves.head[b, r], leaves.relation_ids[b, r], leaves.tail[b, r],
                                    spec.negatives_k, rng)
        tokens = np.where(neg[..., None] >= 0, self.ds.tail_tokens[neg.clip(min=0)], PAD_ID)
        out = np.full((*has.shape, spec.negatives_k, 7), PAD_ID, dtype=np.int64)
        out[b, r] = tokens
        return torch.from_numpy(out)


class StepBatches(torch.utils.data.Dataset):
    """Training batches indexed by global step: batch `step` of rank `rank` out of `world`."""

    def __init__(self, view: SplitView, rank: int = 0, world: int = 1):
        self.view, self.rank, self.world = view, rank, world
        self.per_step = view.spec.batch_size * world
        if len(view) < self.per_step:
            raise ValueError(f"split {view.split_name!r} has {len(view)} windows at R={view.roots}, fewer than "
                             f"one step's {self.per_step} (batch {view.spec.batch_size} x {world} ranks)")
        self.steps_per_epoch = len(view) // self.per_step

    def __len__(self) -> int:
        return self.steps_per_epoch

    def window_ids(self, step: int) -> np.ndarray:
        epoch, k = divmod(step, self.steps_per_epoch)
        perm = np.random.default_rng([self.view.spec.seed, epoch]).permutation(len(self.view))
        lo = k * self.per_step + self.rank * self.view.spec.batch_size
        return perm[lo:lo + self.view.spec.batch_size]

    def __getitem__(self, step: int) -> DataBatch:
        return self.view.batch(self.window_ids(step), self.view.spec.seed, step, self.rank)


def step_loader(view: SplitView, start: int, stop: int, rank: int = 0, world: int = 1,
                workers: int = 0) -> torch.utils.data.DataLoader:
    """Batches for steps [start, stop) of one rank, built by `workers` processes ahead of use.

    The DataLoader draws its workers' base seed from a generator of its own: from the global RNG,
    that draw would happen wherever a run (re)starts the loader, so a run resumed in the middle of
    a curriculum stage would not continue the dropout draws of the run it resumes."""
    own = torch.Generator().manual_seed(view.spec.seed)  # the batches do not use it
    return torch.utils.data.DataLoader(StepBatches(view, rank, world), batch_size=None,
                                       sampler=range(start, stop), num_workers=workers,
                                       collate_fn=_identity, persistent_workers=False,
                                       prefetch_factor=4 if workers else None, generator=own)


def _identity(x):
    return x


EVAL_SEED = 20251009  # held-out masks are the same for every checkpoint and baseline


def eval_windows(view: SplitView, limit: int | None = None) -> np.ndarray:
    """The held-out windows to score: all of them, or a fixed random `limit` of them."""
    if limit is None or limit >= len(view):
        return np.arange(len(view))
    return np.sort(np.random.default_rng(EVAL_SEED).permutation(len(view))[:limit])


def eval_batches(view: SplitView, limit: int | None = None):
    """Batches over `eval_windows`, with masks and draws fixed by EVAL_SEED. Every target is
    [MASK] in the input (no 10% kept, no 10% random): no held-out answer is ever visible."""
    ids = eval_windows(view, limit)
    B = view.spec.batch_size
    for i in range(0, len(ids), B):
        batch = view.batch(ids[i:i + B], EVAL_SEED, i)
        lb = batch.leafy
        lb.root_ids = torch.where(lb.mlm_targets != IGNORE, MASK_ID, lb.root_ids)
        lb.leaf_ids = torch.where(lb.mnm_targets != IGNORE, MASK_ID, lb.leaf_ids)
        yield batch
