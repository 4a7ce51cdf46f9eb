"""Shortest-path distances on the leafy chain graph, in closed form.

Flat layout: roots at 0..R-1, leaf slot k of root i at R + 7i + k. Edges: roots chained, each leaf
tied to its root, the leaves of one root one hop apart. Then, with i, j the roots of a and b:
    root-root |i-j|;  leaf-own root 1;  leaf-other root 1+|i-j|;  same-root leaves 1;
    leaves of different roots 2+|i-j|.
i.e. |i-j| + leaf_a + leaf_b, except two distinct leaves of one root are 1 apart (and a = b is 0).
"""

from __future__ import annotations

from functools import lru_cache

import torch
from torch import Tensor

from graphmer_core.model.config import LEAVES_PER_ROOT, SLOTS_PER_ROOT


def root_of_position(num_roots: int, device: torch.device | str = "cpu") -> tuple[Tensor, Tensor]:
    """(8R,) root index of every flat position and (8R,) bool: is it a leaf."""
    pos = torch.arange(SLOTS_PER_ROOT * num_roots, device=device)
    is_leaf = pos >= num_roots
    root = torch.where(is_leaf, (pos - num_roots) // LEAVES_PER_ROOT, pos)
    return root, is_leaf


@lru_cache(maxsize=6)
def _distances(num_roots: int, device: str) -> Tensor:
    root, leaf = root_of_position(num_roots, device)
    d = (root[:, None] - root[None, :]).abs() + leaf[:, None].long() + leaf[None, :].long()
    same_root_leaves = leaf[:, None] & leaf[None, :] & (root[:, None] == root[None, :])
    d = torch.where(same_root_leaves, 1, d)
    d.fill_diagonal_(0)
    return d.float()  # (8R, 8R)


def leafy_distances(num_roots: int, device: torch.device | str = "cpu") -> Tensor:
    """(8R, 8R) float32 graph distances for R roots; computed once per (R, device), then cached.
    The tensor is shared: never modify it in place."""
    return _distances(num_roots, str(torch.device(device)))


def alibi_slopes(n_heads: int) -> Tensor:
    """(H,) geometric ALiBi slopes 2^(-8/H * (h+1))."""
    return torch.tensor([2.0 ** (-8.0 / n_heads * (h + 1)) for h in range(n_heads)])
