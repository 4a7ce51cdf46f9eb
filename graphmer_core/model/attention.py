"""Self-attention over the leafy chain: a graph-distance bias for how far, rotary embeddings for which way.

The bias -slope_h * dist(i, j) (ALiBi over graph hops), plus -inf on padded keys, is one float mask
built once per forward in the attention dtype and shared by every layer; it goes straight into the
fused SDPA kernel. Graph distance is symmetric, so the bias alone cannot tell `a = b` from `b = a`:
rotary embeddings over the root index (a leaf takes its root's index) give q.k a signed relative
position. Only rope_dims of each head rotate, with wavelengths from 2 pi up to 2 pi base^(1 - 2/rope_dims)
roots (~130 at the defaults), so every phase of every frequency is already seen at the curriculum's
smallest R = 128: a longer R brings no unseen angle and long-range decay stays with the bias. There are
no absolute positions.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from graphmer_core.model.config import ModelConfig
from graphmer_core.model.distances import leafy_distance


def attention_dtype(x: Tensor) -> torch.dtype:
    """The dtype q, k and v will have: autocast's when it is on for x's device, else x's."""
    dev = x.device.type
    return torch.get_autocast_dtype(dev) if torch.is_autocast_enabled(dev) else x.dtype


def attention_bias(positions: Tensor, key_valid: Tensor, num_roots: int, slopes: Tensor | None,
                   dtype: torch.dtype = torch.float32) -> Tensor:
    """Float SDPA mask for tokens at flat leafy-layout `positions`, built in `dtype`: it must be the
    query's (CUDA's fused kernels reject another), and half precision halves its B x H x L x L bytes.

    positions: (B, L) long, distinct indices into the 8R layout of the tokens in each sequence
    key_valid: (B, L) bool, False = padding (never attended to)
    slopes:    (H,) ALiBi slopes, or None for no distance bias (ablation)
    returns    (B, H, L, L), or (B, 1, 1, L) padding alone when slopes is None
    """
    pad = torch.zeros_like(key_valid, dtype=dtype).masked_fill(~key_valid, float("-inf"))[:, None, None, :]
    if slopes is None:
        return pad
    d = leafy_distance(positions, num_roots).to(dtype)[:, None]  # (B, 1, L, L)
    return torch.addcmul(pad, d, (-slopes).to(dtype)[:, None, None])  # (B, H, L, L), one allocation


def rotary_tables(root_index: Tensor, dims: int, base: float, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    """(B, L) root index of each token -> cos, sin (B, 1, L, dims/2) in dtype, shared by all layers.
    Angles are computed in float32: root indices reach 511, beyond bfloat16's exact integers."""
    inv_freq = base ** -(torch.arange(0, dims, 2, device=root_index.device, dtype=torch.float32) / dims)
    angle = root_index.float()[..., None] * inv_freq  # (B, L, dims/2)
    return angle.cos().to(dtype)[:, None], angle.sin().to(dtype)[:, None]


def apply_rotary(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Rotate the pairs (x[i], x[i + n]), i < n = cos.shape[-1], of x (B, H, L, hd); the rest pass."""
    n = cos.shape[-1]
    x1, x2, rest = x[..., :n], x[..., n:2 * n], x[..., 2 * n:]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos, rest], dim=-1)


class Attention(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.n_heads, self.head_dim = cfg.n_heads, cfg.head_dim
        self.qkv = nn.Linear(cfg.hidden, 3 * cfg.hidden, bias=False)
        self.proj = nn.Linear(cfg.hidden, cfg.hidden, bias=False)
        self.attn_dropout = cfg.attn_dropout

    def forward(self, x: Tensor, bias: Tensor, rope: tuple[Tensor, Tensor] | None) -> Tensor:
        B, L, D = x.shape
        q, k, v = self.qkv(x).view(B, L, 3, self.n_heads, self.head_dim).permute(2, 0, 3, 1, 4)  # (B, H, L, hd)
        if rope is not None:
            q, k = apply_rotary(q, *rope), apply_rotary(k, *rope)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=bias.to(q.dtype),  # a no-op when built right
                                           dropout_p=self.attn_dropout if self.training else 0.0)
        return self.proj(y.transpose(1, 2).reshape(B, L, D))
