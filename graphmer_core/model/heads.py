"""Output heads: MLM/MNM token heads tied to the input embeddings, entity-name vectors and the
triple scorer (with the per-relation order potential used by the acyclicity regularizer)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from graphmer_core.model.config import ModelConfig
from graphmer_core.model.layers import make_norm


class LMHead(nn.Module):
    """dense -> GELU -> norm -> decoder tied to the token embedding (+ bias). Applied only at the
    positions that carry a target, so the V-wide matmul is paid for masked tokens alone."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.dense = nn.Linear(cfg.hidden, cfg.hidden)
        self.norm = make_norm(cfg)
        self.bias = nn.Parameter(torch.zeros(cfg.vocab_size))

    def forward(self, h: Tensor, embedding: Tensor) -> Tensor:  # (M, D), (V, D) -> (M, V)
        return F.linear(self.norm(F.gelu(self.dense(h))), embedding, self.bias)


class NameEncoder(nn.Module):
    """A context-free entity vector from its name tokens: mean of (tied) token embeddings, projected.
    Gives positives, given negatives and reversed triples one shared representation."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.proj = nn.Linear(cfg.hidden, cfg.hidden, bias=False)

    def forward(self, ids: Tensor, mask: Tensor, embedding: Tensor) -> Tensor:  # (..., n) -> (..., D)
        m = mask.unsqueeze(-1).to(embedding.dtype)
        pooled = (F.embedding(ids, embedding) * m).sum(-2) / m.sum(-2).clamp(min=1.0)
        return self.proj(pooled)


class TripleScorer(nn.Module):
    """score(h, r, t) = cos((W_h h) * r_vec, W_t t) in [-1, 1]: separate head/tail projections so
    the score can be asymmetric. order_potential(e, r) = w_r . e ranks entities for hierarchy r.
    Normalised in float32: under fp16 autocast the eps of F.normalize underflows and a zero vector
    (an empty name) would give NaN, in the forward and in every gradient behind it."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.head_proj = nn.Linear(cfg.hidden, cfg.hidden, bias=False)
        self.tail_proj = nn.Linear(cfg.hidden, cfg.hidden, bias=False)
        self.rel = nn.Parameter(1.0 + 0.02 * torch.randn(cfg.num_relations, cfg.hidden))
        self.order = nn.Parameter(0.02 * torch.randn(cfg.num_relations, cfg.hidden))

    def query(self, h: Tensor, rel: Tensor) -> Tensor:  # (..., D), (...) -> (..., D) unit
        return F.normalize((self.head_proj(h) * self.rel[rel]).float(), dim=-1)

    def key(self, t: Tensor) -> Tensor:  # (..., D) -> (..., D) unit
        return F.normalize(self.tail_proj(t).float(), dim=-1)

    def forward(self, h: Tensor, rel: Tensor, t: Tensor) -> Tensor:  # -> (...)
        return (self.query(h, rel) * self.key(t)).sum(-1)

    def order_potential(self, e: Tensor, rel: Tensor) -> Tensor:  # (..., D), (...) -> (...)
        return (e * self.order[rel]).sum(-1)
