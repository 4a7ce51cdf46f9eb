"""The batch contract: one batch of leafy-chain sequences as tensors.

Layout (per sequence): R roots, then 7 leaf slots per root. A triple (h, r, t) sits at the first
root token of an occurrence of h: t's tokens fill that root's leaf slots (left-aligned: slot k holds
the tail's k-th token), r is `relation_ids` at that root and the head's length in root tokens is
`head_span`.

`sizes` carries the few data-dependent sizes the forward needs as Python ints. The collate gets them
from `validate` (or `measured`) in one host sync on the CPU, where it costs nothing; then the
forward never waits on the device and torch.compile sees no data-dependent shape. Without them the
forward measures them itself, in one sync.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import torch
from torch import Tensor

from graphmer_core.model.config import LEAVES_PER_ROOT

_LONG = (torch.int64,)


@dataclass(frozen=True)
class BatchSizes:
    leaves: int  # N: the most real leaves in any one sequence (the compact leaf length)
    triples: int  # T: leaf blocks in the batch (roots with relation_ids > 0)
    mlm: int  # MLM targets in the batch
    mnm: int  # MNM targets in the batch


@dataclass
class LeafyBatch:
    root_ids: Tensor  # (B, R) long
    leaf_ids: Tensor  # (B, R, 7) long, pad where leaf_mask is False
    leaf_mask: Tensor  # (B, R, 7) bool, True = a real leaf token, left-aligned in each block
    relation_ids: Tensor  # (B, R) long, 0 = no leaf block at this root
    head_span: Tensor  # (B, R) long, head length in root tokens (>= 1 where relation_ids > 0)
    root_mask: Tensor | None = None  # (B, R) bool, True = a real root; None = all real
    mlm_targets: Tensor | None = None  # (B, R) long, ignore_index where not predicted
    mnm_targets: Tensor | None = None  # (B, R, 7) long, ignore_index where not predicted
    neg_tail_ids: Tensor | None = None  # (B, R, K, 7) long, corrupted tails per triple, pad = unused
    sizes: BatchSizes | None = None  # measured sizes; None = the forward measures them (one sync)

    @property
    def batch_size(self) -> int:
        return self.root_ids.shape[0]

    @property
    def num_roots(self) -> int:
        return self.root_ids.shape[1]

    def roots_valid(self) -> Tensor:
        """(B, R) bool: real roots."""
        if self.root_mask is None:
            return torch.ones_like(self.root_ids, dtype=torch.bool)
        return self.root_mask

    def to(self, device: torch.device | str, non_blocking: bool = False) -> LeafyBatch:
        moved = {f.name: getattr(self, f.name) for f in fields(self)}
        return replace(self, **{k: v.to(device, non_blocking=non_blocking)
                                for k, v in moved.items() if isinstance(v, Tensor)})

    def _counts(self, ignore_index: int) -> list[Tensor]:
        """The 0-d tensors behind BatchSizes, in its field order."""
        zero = self.root_ids.new_zeros(())
        count = lambda t: zero if t is None else (t != ignore_index).sum()  # noqa: E731
        return [self.leaf_mask.flatten(1).sum(1).max() if self.leaf_mask.numel() else zero,
                (self.relation_ids > 0).sum(), count(self.mlm_targets), count(self.mnm_targets)]

    def measure(self, ignore_index: int = -100) -> BatchSizes:
        """The batch's sizes, in one host sync."""
        return BatchSizes(*torch.stack(self._counts(ignore_index)).tolist())

    def measured(self, ignore_index: int = -100) -> LeafyBatch:
        return replace(self, sizes=self.measure(ignore_index))

    def validate(self, ignore_index: int = -100, vocab_size: int | None = None,
                 num_relations: int | None = None) -> LeafyBatch:
        """Check shapes, dtypes and cross-field consistency; raise ValueError naming the field.
        Every value check is reduced on the device and read back in one host sync, together with
        the sizes: returns the batch with `sizes` filled in (checked against any it already had)."""
        def need(cond: bool, msg: str) -> None:
            if not cond:
                raise ValueError(f"LeafyBatch: {msg}")

        def check(name: str, t: Tensor | None, shape: tuple[int, ...], dtypes: tuple[torch.dtype, ...]) -> None:
            if t is None:
                return
            need(isinstance(t, Tensor), f"{name} must be a torch.Tensor, got {type(t).__name__}")
            need(t.dtype in dtypes, f"{name} must have dtype {dtypes[0]}, got {t.dtype}")
            need(tuple(t.shape) == shape, f"{name} must have shape {shape}, got {tuple(t.shape)}")

        need(isinstance(self.root_ids, Tensor) and self.root_ids.dim() == 2,
             f"root_ids must be a (B, R) tensor, got {getattr(self.root_ids, 'shape', None)}")
        B, R = self.root_ids.shape
        L = LEAVES_PER_ROOT
        check("root_ids", self.root_ids, (B, R), _LONG)
        check("leaf_ids", self.leaf_ids, (B, R, L), _LONG)
        check("leaf_mask", self.leaf_mask, (B, R, L), (torch.bool,))
        check("relation_ids", self.relation_ids, (B, R), _LONG)
        check("head_span", self.head_span, (B, R), _LONG)
        check("root_mask", self.root_mask, (B, R), (torch.bool,))
        check("mlm_targets", self.mlm_targets, (B, R), _LONG)
        check("mnm_targets", self.mnm_targets, (B, R, L), _LONG)
        if self.neg_tail_ids is not None:
            need(isinstance(self.neg_tail_ids, Tensor) and self.neg_tail_ids.dim() == 4,
                 "neg_tail_ids must be (B, R, K, 7)")
            check("neg_tail_ids", self.neg_tail_ids, (B, R, self.neg_tail_ids.shape[2], L), _LONG)

        # value checks: (message, 0-d bool tensor that must be True), all read in one sync below
        has_leaf = self.leaf_mask.any(-1)
        valid = self.roots_valid()
        rel = self.relation_ids
        conds = [("relation_ids must be >= 0", (rel >= 0).all()),
                 ("a root has leaves iff its relation id is > 0 (0 = no leaf)", (has_leaf == (rel > 0)).all()),
                 ("head_span must be >= 1 where relation > 0", ((self.head_span >= 1) | (rel == 0)).all()),
                 ("leaf blocks must be left-aligned", (self.leaf_mask[..., 1:] <= self.leaf_mask[..., :-1]).all()),
                 ("leaves attached to a padded root", (~has_leaf | valid).all()),
                 ("every sequence needs at least one real root", valid.any(-1).all())]
        if num_relations is not None:
            conds.append((f"relation_ids must be < {num_relations}", (rel < num_relations).all()))
        if vocab_size is not None:
            for name in ("root_ids", "leaf_ids", "neg_tail_ids"):
                t = getattr(self, name)
                if t is not None:
                    conds.append((f"{name} outside [0, {vocab_size})", ((t >= 0) & (t < vocab_size)).all()))
        for name, where in (("mlm_targets", valid), ("mnm_targets", self.leaf_mask)):
            t = getattr(self, name)
            if t is not None:
                ignored = t == ignore_index
                conds.append((f"{name} set on padding", (ignored | where).all()))
                if vocab_size is not None:
                    conds.append((f"{name} outside [0, {vocab_size}) and not ignore_index",
                                  (ignored | ((t >= 0) & (t < vocab_size))).all()))
        values = torch.stack([c.long() for _, c in conds] + self._counts(ignore_index)).tolist()  # the sync
        for (msg, _), ok in zip(conds, values, strict=False):
            need(bool(ok), msg)
        sizes = BatchSizes(*values[len(conds):])
        need(self.sizes is None or self.sizes == sizes, f"sizes {self.sizes} do not match the batch's {sizes}")
        return replace(self, sizes=sizes)
