"""H-GAT relation fusion: each tail token attends over its head's span tokens through the relation.

    e_ij = LeakyReLU(a_r . [W_r t_i ; W_r h_j]),  alpha = softmax_j(e_ij),  t_i' = t_i + sum_j alpha_ij W_r h_j

Applied once to leaf embeddings before the first block. Two identities keep it cheap and loop-free
over triples: a_r . W_r x = (W_r a_r) . x, so scores need one vector per relation, and
sum_j alpha_ij W_r h_j = (sum_j alpha_ij h_j) W_r, so each real leaf needs a single D x D product.
Those products are grouped by relation (one matmul per relation id, a fixed count).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from graphmer_core.model.config import ModelConfig


class HGAT(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.num_relations, self.max_span = cfg.num_relations, cfg.max_head_span
        self.W = nn.Parameter(torch.randn(cfg.num_relations, cfg.hidden, cfg.hidden) * 0.02)  # x @ W_r
        self.a = nn.Parameter(torch.randn(cfg.num_relations, 2, cfg.hidden) * 0.02)  # [tail part, head part]
        self.relation_dropout = cfg.relation_dropout

    def forward(self, leaves: Tensor, leaf_mask: Tensor, roots: Tensor, relation_ids: Tensor,
                head_span: Tensor) -> Tensor:
        """leaves (B, R, 7, D), leaf_mask (B, R, 7), roots (B, R, D), relation_ids/head_span (B, R)
        -> leaves (B, R, 7, D) with the relation message added at real leaf slots."""
        R = roots.shape[1]
        W = F.dropout(self.W, self.relation_dropout, self.training)
        a = F.dropout(self.a, self.relation_dropout, self.training)
        u = torch.einsum("rio,ro->ri", W, a[:, 0])  # (nrel, D): tail score vector W_r a_r
        v = torch.einsum("rio,ro->ri", W, a[:, 1])  # (nrel, D): head score vector

        b, r = (relation_ids > 0).nonzero(as_tuple=True)  # T triples
        rel = relation_ids[b, r]  # (T,)
        tails = leaves[b, r]  # (T, 7, D)
        offs = torch.arange(self.max_span, device=roots.device)
        hpos = r[:, None] + offs  # (T, S)
        hvalid = (offs < head_span[b, r][:, None]) & (hpos < R)
        heads = roots[b[:, None], hpos.clamp(max=R - 1)]  # (T, S, D)

        e = (tails * u[rel][:, None]).sum(-1)[:, :, None] + (heads * v[rel][:, None]).sum(-1)[:, None, :]
        e = F.leaky_relu(e, 0.2).masked_fill(~hvalid[:, None, :], float("-inf"))  # (T, 7, S)
        pooled = e.softmax(-1) @ heads  # (T, 7, D)

        ti, slot = leaf_mask[b, r].nonzero(as_tuple=True)  # M real leaves
        x, rel_m = pooled[ti, slot], rel[ti]  # (M, D), (M,)
        order = torch.argsort(rel_m, stable=True)
        counts = torch.bincount(rel_m, minlength=self.num_relations).tolist()
        chunks = x[order].split(counts)  # one chunk per relation id (fixed count, maybe empty)
        Ws = W.unbind(0)  # one backward node for all relations (indexing W[k] would add one each)
        msg_sorted = torch.cat([c @ Ws[k] for k, c in enumerate(chunks)])
        msg = torch.zeros_like(msg_sorted).index_copy(0, order, msg_sorted)  # (M, D)
        idx = (b[ti], r[ti], slot)
        return leaves.index_put(idx, leaves[idx] + msg)
