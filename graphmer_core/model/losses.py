"""Objectives as plain functions of scores: token cross-entropy with accuracy, InfoNCE, and the two
neurosymbolic regularizers. Items come in fixed-shape tensors with an optional `weight` (a 0/1 mask
of the items that count), so no term needs a data-dependent shape; each returns a mean over the
items that count, 0 (with a graph) when none do."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def masked_mean(x: Tensor, weight: Tensor | None = None) -> Tensor:
    """Mean of x (T,) over the items where weight (T,) is set; 0 when there are none."""
    if weight is None:
        return x.sum() / max(x.shape[0], 1)
    w = weight.to(x.dtype)
    return (x * w).sum() / w.sum().clamp(min=1.0)


def token_loss(logits: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
    """Mean cross-entropy and accuracy of (M, V) logits against (M,) targets; (0, 0) when M = 0."""
    n = max(targets.shape[0], 1)
    loss = F.cross_entropy(logits, targets, reduction="sum") / n
    acc = (logits.argmax(-1) == targets).sum() / n
    return loss, acc


def info_nce(pos: Tensor, neg: Tensor, temperature: float = 0.07, neg_valid: Tensor | None = None,
             weight: Tensor | None = None) -> Tensor:
    """-log softmax of the positive among [positive, negatives].
    pos (T,) and neg (T, K) similarity scores; neg_valid (T, K) drops missing negatives."""
    if neg_valid is not None:
        neg = neg.masked_fill(~neg_valid, float("-inf"))
    logits = torch.cat([pos[:, None], neg], dim=1) / temperature  # (T, 1+K)
    return masked_mean(F.cross_entropy(logits, torch.zeros_like(pos, dtype=torch.long), reduction="none"), weight)


def antisymmetry_loss(true_score: Tensor, reversed_score: Tensor, margin: float = 0.2,
                      weight: Tensor | None = None) -> Tensor:
    """For antisymmetric relations (h, r, t) true implies (t, r, h) false: hinge on
    score(h, r, t) - score(t, r, h) >= margin, both scored in the same space.  (T,), (T,) -> scalar"""
    return masked_mean(F.relu(margin - true_score + reversed_score), weight)


def acyclicity_loss(edge_score: Tensor, phi_head: Tensor, phi_tail: Tensor, margin: float = 1.0,
                    temperature: float = 0.07, weight: Tensor | None = None) -> Tensor:
    """Predicted hierarchy edges must climb a learned order potential: edge h -> t with probability
    p = sigmoid(score / temperature) pays p * relu(margin - (phi(t) - phi(h))). Any cycle violates
    the order somewhere, so the loss can reach 0 only once every cycle has lost an edge.
    edge_score, phi_head, phi_tail (T,) -> scalar"""
    p = torch.sigmoid(edge_score / temperature)
    return masked_mean(p * F.relu(margin - (phi_tail - phi_head)), weight)
