"""Random leafy batches for the model tests."""

from __future__ import annotations

import torch

from graphmer_core.model import LEAVES_PER_ROOT, LeafyBatch, ModelConfig


def make_batch(cfg: ModelConfig, B: int = 2, R: int = 16, density: float = 0.3, seed: int = 0,
               full: bool = False, targets: bool = True, root_pad: int = 0) -> LeafyBatch:
    """Leaf blocks at ~density of the roots, 1-7 left-aligned tail tokens each; ~15% targets."""
    g = torch.Generator().manual_seed(seed)
    V, L = cfg.vocab_size, LEAVES_PER_ROOT
    root_ids = torch.randint(5, V, (B, R), generator=g)
    root_mask = torch.ones(B, R, dtype=torch.bool)
    if root_pad:
        root_mask[:, R - root_pad:] = False
        root_ids[~root_mask] = cfg.pad_token_id
    has = torch.ones(B, R, dtype=torch.bool) if full else torch.rand(B, R, generator=g) < density
    has &= root_mask
    n = torch.full((B, R), L) if full else torch.randint(1, L + 1, (B, R), generator=g)
    leaf_mask = (torch.arange(L) < n[..., None]) & has[..., None]
    leaf_ids = torch.randint(5, V, (B, R, L), generator=g).masked_fill(~leaf_mask, cfg.pad_token_id)
    relation_ids = torch.randint(1, cfg.num_relations, (B, R), generator=g) * has
    head_span = torch.randint(1, 4, (B, R), generator=g)
    batch = LeafyBatch(root_ids, leaf_ids, leaf_mask, relation_ids, head_span, root_mask=root_mask)
    if targets:
        ign = cfg.ignore_index
        mlm = torch.rand(B, R, generator=g) < 0.15
        mlm[:, 0] = True
        mlm &= root_mask
        batch.mlm_targets = torch.where(mlm, root_ids, ign)
        batch.root_ids = root_ids.masked_fill(mlm, 3)
        block = (torch.rand(B, R, generator=g) < 0.3) & has
        sel = block[..., None] & leaf_mask
        batch.mnm_targets = torch.where(sel, leaf_ids, ign)
        batch.leaf_ids = leaf_ids.masked_fill(sel, 3)
    return batch.validate(cfg.ignore_index, V, cfg.num_relations)

