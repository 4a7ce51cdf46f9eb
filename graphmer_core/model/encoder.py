"""GraphMEREncoder: token + slot embeddings -> H-GAT on leaves -> pre-norm blocks -> final norm.

Compact leaves: empty leaf slots carry nothing, so by default the sequence is the R roots followed
only by the batch's real leaves (each row padded to the batch's largest leaf count N and masked).
Every token keeps its original position in the 8R layout, so the attention bias is computed from the
same graph distances and the result equals the padded 8R computation at real positions.
Cost grows with roots + real leaves instead of 8R.

Leaf slot k of every root is one hop from its root and from its siblings, so without an identity
the slots of a fully masked block would all get the same state and the same prediction: a learned
slot embedding (7 x D) is added to each leaf token. Direction along the roots comes from rotary
embeddings in attention (see attention.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from graphmer_core.model.attention import attention_bias, attention_dtype, rotary_tables
from graphmer_core.model.batch import LeafyBatch
from graphmer_core.model.config import LEAVES_PER_ROOT, ModelConfig
from graphmer_core.model.distances import alibi_slopes, root_of_position
from graphmer_core.model.hgat import HGAT
from graphmer_core.model.layers import Block, make_norm


@dataclass
class EncoderOutput:
    roots: Tensor  # (B, R, D) final hidden states of the roots
    leaves: Tensor  # (B, N, D) final hidden states of the leaf tokens in the sequence
    leaf_index: Tensor  # (B, N) long: each leaf's slot in the flat (R*7) leaf layout
    leaf_valid: Tensor  # (B, N) bool: False = padding in the compact list / an empty slot


def first_n(flags: Tensor, n: int) -> Tensor:
    """Indices (..., n) of the set entries along the last dim of flags (..., L), in order, then of
    unset ones. n comes from the batch's sizes: unlike nonzero() this needs no host sync and gives
    torch.compile a known shape."""
    return torch.argsort((~flags).to(torch.int8), dim=-1, stable=True)[..., :n]


def compact_leaf_index(leaf_mask: Tensor, n_leaves: int) -> tuple[Tensor, Tensor]:
    """(B, R, 7) bool -> index (B, N) of real leaves in flat R*7 order and valid (B, N), where
    N = n_leaves is the largest real-leaf count in the batch (BatchSizes.leaves).
    Padding entries point at distinct empty slots."""
    flat = leaf_mask.flatten(1)  # (B, 7R)
    index = first_n(flat, n_leaves)
    return index, flat.gather(1, index)


class GraphMEREncoder(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.hidden)
        self.slot_emb = nn.Parameter(torch.empty(LEAVES_PER_ROOT, cfg.hidden))  # identity of leaf slot k
        self.hgat = HGAT(cfg) if cfg.use_hgat else None
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.norm_f = make_norm(cfg)
        self.apply(self._init)
        nn.init.normal_(self.slot_emb, std=0.02)
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
        if compact:
            n_leaves = (batch.sizes or batch.measure(self.cfg.ignore_index)).leaves
            leaf_index, leaf_valid = compact_leaf_index(batch.leaf_mask, n_leaves)  # (B, N)
        else:
            leaf_index = torch.arange(R * LEAVES_PER_ROOT, device=batch.root_ids.device).expand(B, -1)
            leaf_valid = batch.leaf_mask.flatten(1)
        leaf_ids = batch.leaf_ids.flatten(1).gather(1, leaf_index)  # (B, N)
        # one lookup for roots and leaves: a single dense (V, D) gradient in backward
        tokens = self.tok_emb(torch.cat([batch.root_ids, leaf_ids], dim=1))  # (B, R+N, D)
        roots, leaves = tokens[:, :R], tokens[:, R:] + self.slot_emb[leaf_index % LEAVES_PER_ROOT]
        if self.hgat is not None:
            leaves = self.hgat(leaves, leaf_index // LEAVES_PER_ROOT, leaf_valid, roots, batch.relation_ids,
                               batch.head_span)
        x = torch.cat([roots, leaves], dim=1)
        root_pos = torch.arange(R, device=roots.device).expand(B, -1)
        positions = torch.cat([root_pos, R + leaf_index], dim=1)
        key_valid = torch.cat([batch.roots_valid(), leaf_valid], dim=1)
        return x, positions, key_valid, leaf_index

    def forward(self, batch: LeafyBatch, compact: bool = True) -> EncoderOutput:
        cfg, R = self.cfg, batch.num_roots
        x, positions, key_valid, leaf_index = self.embed(batch, compact)
        dtype = attention_dtype(x)  # under autocast, q/k/v's (bf16/fp16), not the embeddings' fp32
        slopes = alibi_slopes(cfg.n_heads, x.device) if cfg.attn_bias == "alibi" else None
        bias = attention_bias(positions, key_valid, R, slopes, dtype)  # built once, shared by all layers
        rope = rotary_tables(root_of_position(positions, R)[0], cfg.rope_dims, cfg.rope_base, dtype) \
            if cfg.rope else None
        x = self.drop(x)
        for block in self.blocks:
            x = block(x, bias, rope)
        x = self.norm_f(x)
        return EncoderOutput(roots=x[:, :R], leaves=x[:, R:], leaf_index=leaf_index,
                             leaf_valid=key_valid[:, R:])
