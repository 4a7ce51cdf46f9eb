"""Self-attention over the leafy chain with an additive graph-distance bias (ALiBi over graph hops).

The bias -slope_h * dist(i, j), plus -inf on padded keys, is one float mask built once per forward
and shared by every layer; it goes straight into the fused SDPA kernel. There are no absolute
position embeddings, so the model extrapolates across R.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from graphmer_core.model.config import ModelConfig
from graphmer_core.model.distances import leafy_distances


def attention_bias(positions: Tensor, key_valid: Tensor, num_roots: int, slopes: Tensor | None,
                   dtype: torch.dtype = torch.float32) -> Tensor | None:
    """Float SDPA mask for tokens at flat leafy-layout `positions`.

    positions: (B, L) long, index into the 8R layout of every token actually in the sequence
    key_valid: (B, L) bool, False = padding (never attended to)
    slopes:    (H,) ALiBi slopes, or None for no distance bias (ablation)
    returns    (B or 1, H or 1, L, L), or None when there is nothing to mask
    """
    B, L = positions.shape
    if slopes is None:
        if bool(key_valid.all()):
            return None
        return torch.zeros(B, 1, 1, L, dtype=dtype, device=positions.device).masked_fill(
            ~key_valid[:, None, None, :], float("-inf"))
    if B > 1 and torch.equal(positions, positions[:1].expand_as(positions)) and \
            torch.equal(key_valid, key_valid[:1].expand_as(key_valid)):
        positions, key_valid = positions[:1], key_valid[:1]  # one layout for the batch: share it
    dist = leafy_distances(num_roots, positions.device)  # (8R, 8R), cached
    if positions.shape[1] == dist.shape[0] and torch.equal(
            positions, torch.arange(dist.shape[0], device=positions.device).expand_as(positions)):
        d = dist[None]  # (1, 8R, 8R): the full layout, no gather needed
    else:
        d = dist[positions[:, :, None], positions[:, None, :]]  # (b, L, L)
    bias = d.to(dtype)[:, None] * (-slopes.to(dtype))[None, :, None, None]  # (b, H, L, L)
    if not bool(key_valid.all()):
        bias = bias.masked_fill(~key_valid[:, None, None, :], float("-inf"))
    return bias


class Attention(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.n_heads, self.head_dim = cfg.n_heads, cfg.head_dim
        self.qkv = nn.Linear(cfg.hidden, 3 * cfg.hidden, bias=False)
        self.proj = nn.Linear(cfg.hidden, cfg.hidden, bias=False)
        self.attn_dropout = cfg.attn_dropout

    def forward(self, x: Tensor, bias: Tensor | None) -> Tensor:
        B, L, D = x.shape
        q, k, v = self.qkv(x).view(B, L, 3, self.n_heads, self.head_dim).permute(2, 0, 3, 1, 4)  # (B, H, L, hd)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=bias,
                                           dropout_p=self.attn_dropout if self.training else 0.0)
        return self.proj(y.transpose(1, 2).reshape(B, L, D))
