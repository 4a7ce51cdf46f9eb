"""Transformer building blocks: norms, feed-forwards and the pre-norm block."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from graphmer_core.model.attention import Attention
from graphmer_core.model.config import ModelConfig


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        return F.rms_norm(x, (x.shape[-1],), self.weight, self.eps)


def make_norm(cfg: ModelConfig) -> nn.Module:
    return RMSNorm(cfg.hidden) if cfg.norm == "rmsnorm" else nn.LayerNorm(cfg.hidden)


class SwiGLU(nn.Module):
    """silu(x W_g) * (x W_u) W_d; gate and up fused into one matmul."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.gate_up = nn.Linear(cfg.hidden, 2 * cfg.ffn_hidden, bias=False)
        self.down = nn.Linear(cfg.ffn_hidden, cfg.hidden, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        g, u = self.gate_up(x).chunk(2, dim=-1)
        return self.down(F.silu(g) * u)


class GeluMLP(nn.Module):
    """The BERT feed-forward. Sized 1.5x ffn_hidden so it has SwiGLU's parameter count."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        inner = 3 * cfg.ffn_hidden // 2
        self.up = nn.Linear(cfg.hidden, inner)
        self.down = nn.Linear(inner, cfg.hidden)

    def forward(self, x: Tensor) -> Tensor:
        return self.down(F.gelu(self.up(x)))


class Block(nn.Module):
    """Pre-norm: x + drop(attn(norm(x))), then x + drop(mlp(norm(x)))."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.norm1, self.norm2 = make_norm(cfg), make_norm(cfg)
        self.attn = Attention(cfg)
        self.mlp = SwiGLU(cfg) if cfg.mlp == "swiglu" else GeluMLP(cfg)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: Tensor, bias: Tensor, rope: tuple[Tensor, Tensor] | None) -> Tensor:  # (B, L, D) -> (B, L, D)
        x = x + self.drop(self.attn(self.norm1(x), bias, rope))
        return x + self.drop(self.mlp(self.norm2(x)))
