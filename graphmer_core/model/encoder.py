"""GraphMEREncoder: token embeddings -> H-GAT on leaves -> pre-norm blocks -> final norm.

Compact leaves: empty leaf slots carry nothing, so by default the sequence is the R roots followed
only by the batch's real leaves (each row padded to the batch's largest leaf count and masked).
Every token keeps its original position in the 8R layout, so the attention bias is gathered from
the same distance matrix and the result equals the padded 8R computation at real positions.
Cost grows with roots + real leaves instead of 8R.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from graphmer_core.model.attention import attention_bias
from graphmer_core.model.batch import LeafyBatch
from graphmer_core.model.config import LEAVES_PER_ROOT, ModelConfig
from graphmer_core.model.distances import alibi_slopes
from graphmer_core.model.hgat import HGAT
from graphmer_core.model.layers import Block, make_norm


@dataclass
class EncoderOutput:
    roots: Tensor  # (B, R, D) final hidden states of the roots
    leaves: Tensor  # (B, N, D) final hidden states of the leaf tokens in the sequence
    leaf_index: Tensor  # (B, N) long: each leaf's slot in the flat (R*7) leaf layout
    leaf_valid: Tensor  # (B, N) bool: False = padding in the compact list / an empty slot


def compact_leaf_index(leaf_mask: Tensor) -> tuple[Tensor, Tensor]:
    """(B, R, 7) bool -> index (B, N) of real leaves in flat R*7 order and valid (B, N),
    N = the largest real-leaf count in the batch. Padding entries point at empty slots."""
    flat = leaf_mask.flatten(1)  # (B, 7R)
    n = flat.sum(1)  # (B,)
    N = int(n.max()) if flat.numel() else 0
    index = torch.argsort((~flat).to(torch.int8), dim=1, stable=True)[:, :N]  # real slots first, in order
    valid = torch.arange(N, device=flat.device)[None, :] < n[:, None]
    return index, valid


class GraphMEREncoder(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.hidden)
        self.hgat = HGAT(cfg) if cfg.use_hgat else None
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.norm_f = make_norm(cfg)
        self.register_buffer("slopes", alibi_slopes(cfg.n_heads), persistent=False)
        self.apply(self._init)
        for name, p in self.named_parameters():  # GPT-2: scale residual projections by depth
            if name.endswith(("attn.proj.weight", "mlp.down.weight")):
                nn.init.normal_(p, std=0.02 / (2 * cfg.n_layers) ** 0.5)

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def embed(self, batch: LeafyBatch, compact: bool = True) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Input sequence before the first block.
        returns x (B, R+N, D), positions (B, R+N) in the 8R layout, key_valid (B, R+N), leaf_index (B, N)"""
        B, R = batch.root_ids.shape
        # one lookup for roots and leaves: a single dense (V, D) gradient in backward
        tokens = self.tok_emb(torch.cat([batch.root_ids, batch.leaf_ids.flatten(1)], dim=1))  # (B, 8R, D)
        roots = tokens[:, :R]  # (B, R, D)
        leaves = tokens[:, R:].unflatten(1, (R, LEAVES_PER_ROOT))  # (B, R, 7, D)
        if self.hgat is not None:
            leaves = self.hgat(leaves, batch.leaf_mask, roots, batch.relation_ids, batch.head_span)
        leaves = leaves.flatten(1, 2)  # (B, 7R, D)
        if compact:
            leaf_index, leaf_valid = compact_leaf_index(batch.leaf_mask)  # (B, N)
            leaves = leaves.gather(1, leaf_index[..., None].expand(-1, -1, leaves.shape[-1]))
        else:
            leaf_index = torch.arange(R * LEAVES_PER_ROOT, device=roots.device).expand(B, -1)
            leaf_valid = batch.leaf_mask.flatten(1)
        x = torch.cat([roots, leaves], dim=1)
        root_pos = torch.arange(R, device=roots.device).expand(B, -1)
        positions = torch.cat([root_pos, R + leaf_index], dim=1)
        key_valid = torch.cat([batch.roots_valid(), leaf_valid], dim=1)
        return x, positions, key_valid, leaf_index

    def forward(self, batch: LeafyBatch, compact: bool = True) -> EncoderOutput:
        R = batch.num_roots
        x, positions, key_valid, leaf_index = self.embed(batch, compact)
        slopes = self.slopes if self.cfg.attn_bias == "alibi" else None
        bias = attention_bias(positions, key_valid, R, slopes, x.dtype)  # built once, shared by all layers
        x = self.drop(x)
        for block in self.blocks:
            x = block(x, bias)
        x = self.norm_f(x)
        return EncoderOutput(roots=x[:, :R], leaves=x[:, R:], leaf_index=leaf_index,
                             leaf_valid=key_valid[:, R:])
