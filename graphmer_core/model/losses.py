"""Objectives as plain functions of scores: token cross-entropy with accuracy, InfoNCE, and the two
neurosymbolic regularizers. Each returns a scalar that is 0 (with a graph) when given nothing."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def token_loss(logits: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
    """Mean cross-entropy and accuracy of (M, V) logits against (M,) targets."""
    if targets.numel() == 0:
        return logits.sum() * 0.0, logits.new_zeros(())
    loss = F.cross_entropy(logits, targets)
    acc = (logits.argmax(-1) == targets).float().mean()
    return loss, acc


def info_nce(pos: Tensor, neg: Tensor, temperature: float = 0.07, neg_valid: Tensor | None = None) -> Tensor:
    """-log softmax of the positive among [positive, negatives].
    pos (T,) and neg (T, K) similarity scores; neg_valid (T, K) drops missing negatives."""
    if pos.numel() == 0:
        return pos.sum() * 0.0 + neg.sum() * 0.0
    if neg_valid is not None:
        neg = neg.masked_fill(~neg_valid, float("-inf"))
    logits = torch.cat([pos[:, None], neg], dim=1) / temperature  # (T, 1+K)
    return F.cross_entropy(logits, torch.zeros_like(pos, dtype=torch.long))


def antisymmetry_loss(true_score: Tensor, reversed_score: Tensor, margin: float = 0.2) -> Tensor:
    """For antisymmetric relations (h, r, t) true implies (t, r, h) false: hinge on
    score(h, r, t) - score(t, r, h) >= margin.  (T,), (T,) -> scalar"""
    if true_score.numel() == 0:
        return true_score.sum() * 0.0 + reversed_score.sum() * 0.0
    return F.relu(margin - true_score + reversed_score).mean()


def acyclicity_loss(edge_score: Tensor, phi_head: Tensor, phi_tail: Tensor, margin: float = 1.0,
                    temperature: float = 0.07) -> Tensor:
    """Predicted hierarchy edges must climb a learned order potential: edge h -> t with probability
    p = sigmoid(score / temperature) pays p * relu(margin - (phi(t) - phi(h))). Any cycle violates
    the order somewhere, so the loss can reach 0 only once every cycle has lost an edge.
    edge_score, phi_head, phi_tail (T,) -> scalar"""
    if edge_score.numel() == 0:
        return edge_score.sum() * 0.0 + phi_head.sum() * 0.0 + phi_tail.sum() * 0.0
    p = torch.sigmoid(edge_score / temperature)
    return (p * F.relu(margin - (phi_tail - phi_head))).mean()
