"""Shortest-path distances on the leafy chain graph, in closed form.

Flat layout: roots at 0..R-1, leaf slot k of root i at R + 7i + k. Edges: roots chained, each leaf
tied to its root, and the leaves of one root all joined to each other. Then, with i, j the roots of
a and b::

    root-root |i-j|;  leaf-own root 1;  leaf-other root 1+|i-j|;  same-root leaves 1;
    leaves of different roots 2+|i-j|.

i.e. ``|i-j| + leaf_a + leaf_b``, except two distinct leaves of one root are 1 apart (and a = b is 0).

The paper chains a root's leaves (slot k to k+1) instead. Since every leaf is also tied to its root,
siblings are at most 2 apart either way: chaining would only push non-adjacent slots from 1 to 2, a
symmetric signal that still cannot tell slot 1 from slot 3. Slot order comes from the encoder's slot
embedding instead, and the tail's tokens (one name) all see each other at one hop.
"""

from __future__ import annotations

import torch
from torch import Tensor

from graphmer_core.model.config import LEAVES_PER_ROOT, SLOTS_PER_ROOT


def root_of_position(positions: Tensor, num_roots: int) -> tuple[Tensor, Tensor]:
    """Flat positions (...) in the 8R layout -> the root index of each (a leaf takes its root's)
    and whether it is a leaf, both (...)."""
    is_leaf = positions >= num_roots
    return torch.where(is_leaf, (positions - num_roots) // LEAVES_PER_ROOT, positions), is_leaf


def leafy_distance(positions: Tensor, num_roots: int) -> Tensor:
    """(B, L) distinct flat positions -> (B, L, L) int32 graph distances between all pairs.
    Computed from the positions alone (no table, no host sync), so it fuses under torch.compile."""
    root, leaf = root_of_position(positions.int(), num_roots)
    ri, rj, li, lj = root[..., :, None], root[..., None, :], leaf[..., :, None], leaf[..., None, :]
    d = (ri - rj).abs() + li.int() + lj.int()
    d = torch.where(li & lj & (ri == rj), 1, d)  # two leaves of one root are joined
    return torch.where(positions[..., :, None] == positions[..., None, :], 0, d)


def leafy_distances(num_roots: int, device: torch.device | str = "cpu") -> Tensor:
    """(8R, 8R) float32 graph distances of the whole layout (for inspection and tests)."""
    pos = torch.arange(SLOTS_PER_ROOT * num_roots, device=device)
    return leafy_distance(pos[None], num_roots)[0].float()


def alibi_slopes(n_heads: int, device: torch.device | str = "cpu") -> Tensor:
    """(H,) geometric ALiBi slopes 2^(-8/H * (h+1)), made on the device (no state to initialise)."""
    return torch.exp2(torch.arange(1, n_heads + 1, device=device, dtype=torch.float32) * (-8.0 / n_heads))
