"""GraphMERForPretraining: the encoder plus every objective, each loss and accuracy reported alone.

    loss = MLM + mnm_weight * MNM + contrastive_weight * InfoNCE
           + antisymmetry_weight * antisymmetry + acyclicity_weight * acyclicity

Triple representations: the head-occurrence vector is the encoder's state at the triple's root;
tails (positives, given negatives) and reversed heads are context-free name vectors (NameEncoder),
so an entity has one representation wherever it appears and an order potential over it is
well defined. Contrastive scoring uses triples whose leaf block is MNM-masked (otherwise the
tail is in plain sight one hop away), with the given negatives or, if none, in-batch negatives.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from graphmer_core.model.batch import LeafyBatch
from graphmer_core.model.config import ModelConfig
from graphmer_core.model.encoder import EncoderOutput, GraphMEREncoder
from graphmer_core.model.heads import LMHead, NameEncoder, TripleScorer
from graphmer_core.model.losses import acyclicity_loss, antisymmetry_loss, info_nce, token_loss


@dataclass
class PretrainOutput:
    loss: Tensor  # scalar, weighted total
    metrics: dict[str, Tensor]  # every term and accuracy, unweighted, detached
    encoder: EncoderOutput


class GraphMERForPretraining(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = GraphMEREncoder(cfg)
        self.mlm_head, self.mnm_head = LMHead(cfg), LMHead(cfg)
        self.names = NameEncoder(cfg)
        self.scorer = TripleScorer(cfg)
        flags = torch.zeros(2, cfg.num_relations, dtype=torch.bool)
        flags[0, list(cfg.antisymmetric_relation_ids)] = True
        flags[1, list(cfg.hierarchy_relation_ids)] = True
        self.register_buffer("rel_flags", flags, persistent=False)  # [antisymmetric, hierarchy]

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(self, batch: LeafyBatch, compact: bool = True) -> PretrainOutput:
        cfg, ign = self.cfg, self.cfg.ignore_index
        emb = self.encoder.tok_emb.weight  # (V, D), tied
        enc = self.encoder(batch, compact)
        metrics: dict[str, Tensor] = {}

        # MLM on roots, MNM on leaves: heads only at target positions
        loss = enc.roots.new_zeros(())
        if batch.mlm_targets is not None:
            sel = batch.mlm_targets != ign  # (B, R)
            mlm, metrics["mlm_acc"] = token_loss(self.mlm_head(enc.roots[sel], emb), batch.mlm_targets[sel])
            metrics["mlm_loss"] = mlm
            loss = loss + mlm
        if batch.mnm_targets is not None:
            tgt = batch.mnm_targets.flatten(1).gather(1, enc.leaf_index)  # (B, N)
            sel = (tgt != ign) & enc.leaf_valid
            mnm, metrics["mnm_acc"] = token_loss(self.mnm_head(enc.leaves[sel], emb), tgt[sel])
            metrics["mnm_loss"] = mnm
            loss = loss + cfg.mnm_weight * mnm

        if cfg.contrastive or cfg.antisymmetry or cfg.acyclicity:
            for name, term in self._triple_losses(batch, enc, emb).items():
                metrics[name] = term
                loss = loss + getattr(cfg, f"{name}_weight") * term
        return PretrainOutput(loss, {k: v.detach() for k, v in metrics.items()}, enc)

    def _triple_losses(self, batch: LeafyBatch, enc: EncoderOutput, emb: Tensor) -> dict[str, Tensor]:
        cfg, ign = self.cfg, self.cfg.ignore_index
        b, r = (batch.relation_ids > 0).nonzero(as_tuple=True)  # T triples
        rel = batch.relation_ids[b, r]
        # unmasked token ids: the tail's name, and the head's span of root tokens
        leaf_ids = batch.leaf_ids if batch.mnm_targets is None else torch.where(
            batch.mnm_targets != ign, batch.mnm_targets, batch.leaf_ids)
        root_ids = batch.root_ids if batch.mlm_targets is None else torch.where(
            batch.mlm_targets != ign, batch.mlm_targets, batch.root_ids)
        tail_ids, tail_mask = leaf_ids[b, r], batch.leaf_mask[b, r]  # (T, 7)
        R, S = batch.num_roots, cfg.max_head_span
        offs = torch.arange(S, device=b.device)
        hpos = r[:, None] + offs  # (T, S)
        head_mask = (offs < batch.head_span[b, r][:, None]) & (hpos < R)
        head_ids = root_ids[b[:, None], hpos.clamp(max=R - 1)]

        h_ctx = enc.roots[b, r]  # (T, D) head-occurrence representation
        e_tail = self.names(tail_ids, tail_mask, emb)  # (T, D)
        true_score = self.scorer(h_ctx, rel, e_tail)  # (T,)
        out: dict[str, Tensor] = {}

        if cfg.contrastive:
            masked = torch.ones_like(rel, dtype=torch.bool) if batch.mnm_targets is None else \
                (batch.mnm_targets[b, r] != ign).any(-1)
            q = self.scorer.query(h_ctx[masked], rel[masked])  # (T', D)
            pos = true_score[masked]
            if batch.neg_tail_ids is not None:
                neg_ids = batch.neg_tail_ids[b, r][masked]  # (T', K, 7)
                neg_mask = neg_ids != cfg.pad_token_id
                neg = (q[:, None] * self.scorer.key(self.names(neg_ids, neg_mask, emb))).sum(-1)  # (T', K)
                neg_valid = neg_mask.any(-1)
            else:  # in-batch: every other selected triple's tail, unless it is the same name
                ids = tail_ids[masked].masked_fill(~tail_mask[masked], -1)
                neg = q @ self.scorer.key(e_tail[masked]).T  # (T', T')
                neg_valid = ~(ids[:, None] == ids[None, :]).all(-1)
            out["contrastive"] = info_nce(pos, neg, cfg.temperature, neg_valid)

        e_head = self.names(head_ids, head_mask, emb)  # (T, D) the head as a name, for reversal/order
        if cfg.antisymmetry:
            a = self.rel_flags[0, rel]
            reversed_score = self.scorer(e_tail[a], rel[a], e_head[a])
            out["antisymmetry"] = antisymmetry_loss(true_score[a], reversed_score, cfg.antisymmetry_margin)
        if cfg.acyclicity:
            h = self.rel_flags[1, rel]
            out["acyclicity"] = acyclicity_loss(
                true_score[h], self.scorer.order_potential(e_head[h], rel[h]),
                self.scorer.order_potential(e_tail[h], rel[h]), cfg.acyclicity_margin, cfg.temperature)
        return out
