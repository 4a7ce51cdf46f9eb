"""H-GAT relation fusion: each tail token attends over its head's span tokens through the relation.

    e_ij = LeakyReLU(a_r . [W_r t_i ; W_r h_j]),  alpha = softmax_j(e_ij),  t_i' = t_i + sum_j alpha_ij W_r h_j

Applied once to the (compact) leaf embeddings before the first block. Two identities keep it cheap and
loop-free over triples: a_r . W_r x = (W_r a_r) . x, so scores need one vector per relation, and
sum_j alpha_ij W_r h_j = (sum_j alpha_ij h_j) W_r, so each leaf needs a single D x D product. Those
products are grouped by relation (grouped_matmul) with shapes fixed by the batch's, so nothing waits
on the device and torch.compile sees no data-dependent shape.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from graphmer_core.model.config import ModelConfig


def grouped_matmul(x: Tensor, group: Tensor, W: Tensor, chunk: int = 64) -> Tensor:
    """Row m of the result is x[m] @ W[group[m]]: x (M, D), group (M,) in [0, G), W (G, D, E) -> (M, E).

    Each group's rows are packed into chunks of `chunk` rows that share one matrix, then one bmm.
    At most M/chunk + G chunks are ever needed, a bound known from the shapes alone, so no host sync;
    the price is up to G * chunk rows of zero padding and a copy of W_r per chunk (against G x the
    work for x @ every W_r, or a sync to learn each group's size and split on it).
    """
    M, G = x.shape[0], W.shape[0]
    onehot = (group[:, None] == torch.arange(G, device=x.device)).long()  # (M, G)
    rank = (onehot.cumsum(0) * onehot).sum(1) - 1  # (M,) order of each row within its group
    per_group = (onehot.sum(0) + chunk - 1) // chunk  # (G,) chunks each group fills
    chunk_end = per_group.cumsum(0)  # (G,)
    cid = (chunk_end - per_group)[group] + rank // chunk  # (M,) chunk of each row
    slot = rank % chunk
    n_chunks = (M + G * (chunk - 1)) // chunk
    packed = x.new_zeros(n_chunks, chunk, x.shape[1]).index_put_((cid, slot), x)  # (n_chunks, chunk, D)
    owner = torch.searchsorted(chunk_end, torch.arange(n_chunks, device=x.device), right=True).clamp(max=G - 1)
    return torch.bmm(packed, W[owner])[cid, slot]  # (M, E)


class HGAT(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.num_relations, self.max_span = cfg.num_relations, cfg.max_head_span
        self.W = nn.Parameter(torch.randn(cfg.num_relations, cfg.hidden, cfg.hidden) * 0.02)  # x @ W_r
        self.a = nn.Parameter(torch.randn(cfg.num_relations, 2, cfg.hidden) * 0.02)  # [tail part, head part]
        self.relation_dropout = cfg.relation_dropout

    def forward(self, leaves: Tensor, leaf_root: Tensor, leaf_valid: Tensor, roots: Tensor,
                relation_ids: Tensor, head_span: Tensor) -> Tensor:
        """leaves (B, N, D) with leaf_root (B, N), the root each hangs from, and leaf_valid (B, N);
        roots (B, R, D), relation_ids/head_span (B, R) -> leaves (B, N, D) plus the relation message
        at valid leaves."""
        (B, N, D), R = leaves.shape, roots.shape[1]
        W = F.dropout(self.W, self.relation_dropout, self.training)
        a = F.dropout(self.a, self.relation_dropout, self.training)
        u, v = torch.bmm(W, a.transpose(1, 2)).unbind(-1)  # (nrel, D) each: tail / head score vectors W_r a_r

        rel = relation_ids.gather(1, leaf_root)  # (B, N)
        offs = torch.arange(self.max_span, device=roots.device)
        hpos = leaf_root[..., None] + offs  # (B, N, S) the head span starts at the leaves' root
        span = head_span.gather(1, leaf_root).clamp(min=1)  # the head token itself at least: never all -inf
        hvalid = (offs < span[..., None]) & (hpos < R)
        heads = roots.gather(1, hpos.clamp(max=R - 1).flatten(1)[..., None].expand(-1, -1, D))
        heads = heads.view(B, N, self.max_span, D)  # (B, N, S, D)

        e = (leaves * u[rel]).sum(-1, keepdim=True) + (heads * v[rel][:, :, None]).sum(-1)  # (B, N, S)
        e = F.leaky_relu(e, 0.2).masked_fill(~hvalid, float("-inf"))
        pooled = torch.einsum("bns,bnsd->bnd", e.softmax(-1), heads)  # (B, N, D)
        msg = grouped_matmul(pooled.flatten(0, 1), rel.flatten(), W).view(B, N, D)
        return leaves + msg * leaf_valid[..., None].to(msg.dtype)
