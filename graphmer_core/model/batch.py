"""The batch contract: one batch of leafy-chain sequences as tensors.

Layout (per sequence): R roots, then 7 leaf slots per root. A triple (h, r, t) sits at the first
root token of an occurrence of h: t's tokens fill that root's leaf slots (left-aligned), r is
`relation_ids` at that root and the head's length in root tokens is `head_span`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import torch
from torch import Tensor

from graphmer_core.model.config import LEAVES_PER_ROOT

_LONG = (torch.int64,)


@dataclass
class LeafyBatch:
    root_ids: Tensor  # (B, R) long
    leaf_ids: Tensor  # (B, R, 7) long, pad where leaf_mask is False
    leaf_mask: Tensor  # (B, R, 7) bool, True = a real leaf token
    relation_ids: Tensor  # (B, R) long, 0 = no leaf block at this root
    head_span: Tensor  # (B, R) long, head length in root tokens (>= 1 where relation_ids > 0)
    root_mask: Tensor | None = None  # (B, R) bool, True = a real root; None = all real
    mlm_targets: Tensor | None = None  # (B, R) long, ignore_index where not predicted
    mnm_targets: Tensor | None = None  # (B, R, 7) long, ignore_index where not predicted
    neg_tail_ids: Tensor | None = None  # (B, R, K, 7) long, corrupted tails per triple, pad = unused

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

    def to(self, device: torch.device | str) -> LeafyBatch:
        moved = {f.name: getattr(self, f.name) for f in fields(self)}
        return replace(self, **{k: v.to(device) for k, v in moved.items() if v is not None})

    def validate(self, ignore_index: int = -100, vocab_size: int | None = None,
                 num_relations: int | None = None) -> LeafyBatch:
        """Check shapes, dtypes and cross-field consistency; raise ValueError naming the field."""
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
            need(self.neg_tail_ids.dim() == 4, "neg_tail_ids must be (B, R, K, 7)")
            check("neg_tail_ids", self.neg_tail_ids, (B, R, self.neg_tail_ids.shape[2], L), _LONG)

        has_leaf = self.leaf_mask.any(-1)
        need(bool((self.relation_ids >= 0).all()), "relation_ids must be >= 0")
        if num_relations is not None:
            need(bool((self.relation_ids < num_relations).all()), f"relation_ids must be < {num_relations}")
        need(bool((has_leaf == (self.relation_ids > 0)).all()),
             "a root has leaves iff its relation id is > 0 (0 = no leaf)")
        need(bool((self.head_span[self.relation_ids > 0] >= 1).all()), "head_span must be >= 1 where relation > 0")
        valid = self.roots_valid()
        need(bool((~has_leaf | valid).all()), "leaves attached to a padded root")
        need(bool(valid.any(-1).all()), "every sequence needs at least one real root")
        if vocab_size is not None:
            for name in ("root_ids", "leaf_ids"):
                t = getattr(self, name)
                need(bool(((t >= 0) & (t < vocab_size)).all()), f"{name} outside [0, {vocab_size})")
        for name, where in (("mlm_targets", valid), ("mnm_targets", self.leaf_mask)):
            t = getattr(self, name)
            if t is not None:
                need(bool(((t == ignore_index) | where).all()), f"{name} set on padding")
                if vocab_size is not None:
                    need(bool(((t == ignore_index) | ((t >= 0) & (t < vocab_size))).all()),
                         f"{name} outside [0, {vocab_size}) and not ignore_index")
        return self
