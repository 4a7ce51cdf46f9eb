"""GraphMERForPretraining: the encoder plus every objective, each loss and accuracy reported alone.

    loss = MLM + mnm_weight * MNM + contrastive_weight * InfoNCE
           + antisymmetry_weight * antisymmetry + acyclicity_weight * acyclicity

Triple representations: the head-occurrence vector is the encoder's state at the triple's root;
tails (positives, given negatives) and heads as names are context-free name vectors (NameEncoder),
so an entity has one representation wherever it appears and an order potential over it is well
defined.

- contrastive: head occurrence (query) against tail names (keys), for triples whose leaf block is
  MNM-masked (otherwise the tail is in plain sight one hop away); negatives are the given ones (empty
  rows and copies of the positive dropped) or else the batch's other tails (other names only).
- antisymmetry: score(h, r, t) against score(t, r, h) with names on both sides. Both directions
  must be scored in one space: a contextual forward score against a name-based reversed one meets
  the margin as soon as contrastive lifts the first, and then teaches nothing.
- acyclicity: the occurrence's score as edge probability, climbing an order potential over names.

Every shape comes from the batch's tensors and its `sizes` (no host sync inside forward, nothing
for torch.compile to break on). `terms` keeps each unweighted term attached to the graph for
`term_grad_norms`; `metrics` leaves out what had nothing to score in this batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import torch
from torch import Tensor, nn

from graphmer_core.model.batch import LeafyBatch
from graphmer_core.model.config import ModelConfig
from graphmer_core.model.encoder import EncoderOutput, GraphMEREncoder, first_n
from graphmer_core.model.heads import LMHead, NameEncoder, TripleScorer
from graphmer_core.model.losses import acyclicity_loss, antisymmetry_loss, info_nce, token_loss

# the count behind each term and accuracy: without items in the batch it is left out of `metrics`
_COUNT_OF = {"mlm_loss": "mlm_n", "mlm_acc": "mlm_n", "mnm_loss": "mnm_n", "mnm_acc": "mnm_n",
             "contrastive": "triples_n", "antisymmetry": "antisymmetry_n", "acyclicity": "acyclicity_n"}


@dataclass
class PretrainOutput:
    loss: Tensor  # scalar, weighted total
    values: dict[str, Tensor]  # every term, accuracy and item count (`<kind>_n`), unweighted, detached
    encoder: EncoderOutput
    terms: dict[str, Tensor] = field(default_factory=dict)  # unweighted loss terms, still in the graph

    @cached_property
    def metrics(self) -> dict[str, Tensor]:
        """`values` less every term and accuracy whose count is 0 in this batch: absent, not 0, so
        the loop can weight by `mlm_n`, `mnm_n`, `triples_n` across micro-batches. Reading it costs
        one host sync, outside the step's graph."""
        counts = {k: v for k, v in self.values.items() if k.endswith("_n")}
        present = dict(zip(counts, torch.stack(list(counts.values())).tolist(), strict=True)) if counts else {}
        return {k: v for k, v in self.values.items() if present.get(_COUNT_OF.get(k), 1) > 0}


def is_member(rel: Tensor, ids: tuple[int, ...]) -> Tensor:
    """rel (...) -> bool (...): rel is one of ids. A loop over config constants, not data: no table
    to copy to the device and no buffer that meta-device initialisation would leave empty."""
    out = torch.zeros_like(rel, dtype=torch.bool)
    for i in ids:
        out = out | (rel == i)
    return out


def take_targets(hidden: Tensor, targets: Tensor, n: int, ignore_index: int) -> tuple[Tensor, Tensor]:
    """hidden (B, L, D), targets (B, L) -> the n target positions' states (n, D) and targets (n,)."""
    idx = first_n((targets != ignore_index).flatten(), n)
    return hidden.flatten(0, 1)[idx], targets.flatten()[idx]


class GraphMERForPretraining(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = GraphMEREncoder(cfg)
        self.mlm_head, self.mnm_head = LMHead(cfg), LMHead(cfg)
        self.names = NameEncoder(cfg)
        self.scorer = TripleScorer(cfg)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def term_weights(self) -> dict[str, float]:
        c = self.cfg
        return {"mlm": 1.0, "mnm": c.mnm_weight, "contrastive": c.contrastive_weight,
                "antisymmetry": c.antisymmetry_weight, "acyclicity": c.acyclicity_weight}

    def forward(self, batch: LeafyBatch, compact: bool = True) -> PretrainOutput:
        cfg, ign = self.cfg, self.cfg.ignore_index
        if cfg.validate_batches:
            batch = batch.validate(ign, cfg.vocab_size, cfg.num_relations)
        elif batch.sizes is None:
            batch = batch.measured(ign)  # one host sync; the collate spares it (LeafyBatch.validate)
        sizes = batch.sizes
        emb = self.encoder.tok_emb.weight  # (V, D), tied
        enc = self.encoder(batch, compact)
        terms: dict[str, Tensor] = {}
        values: dict[str, Tensor] = {}

        # MLM on roots, MNM on leaves: heads only at target positions
        if batch.mlm_targets is not None:
            h, tgt = take_targets(enc.roots, batch.mlm_targets, sizes.mlm, ign)
            terms["mlm"], values["mlm_acc"] = token_loss(self.mlm_head(h, emb), tgt)
            values["mlm_n"] = torch.full((), sizes.mlm, device=h.device)
        if batch.mnm_targets is not None:
            leaf_tgt = batch.mnm_targets.flatten(1).gather(1, enc.leaf_index).masked_fill(~enc.leaf_valid, ign)
            h, tgt = take_targets(enc.leaves, leaf_tgt, sizes.mnm, ign)  # (B, N) compact targets
            terms["mnm"], values["mnm_acc"] = token_loss(self.mnm_head(h, emb), tgt)
            values["mnm_n"] = torch.full((), sizes.mnm, device=h.device)
        if cfg.contrastive or cfg.antisymmetry or cfg.acyclicity:
            self._triple_losses(batch, enc, emb, terms, values)

        weights = self.term_weights()
        loss = sum((weights[k] * t for k, t in terms.items()), enc.roots.new_zeros(()))
        for k, t in terms.items():
            values[f"{k}_loss" if k in ("mlm", "mnm") else k] = t
        return PretrainOutput(loss, {k: v.detach() for k, v in values.items()}, enc, terms)

    def _triple_losses(self, batch: LeafyBatch, enc: EncoderOutput, emb: Tensor, terms: dict[str, Tensor],
                       values: dict[str, Tensor]) -> None:
        cfg, ign, pad = self.cfg, self.cfg.ignore_index, self.cfg.pad_token_id
        R, S = batch.num_roots, cfg.max_head_span
        idx = first_n((batch.relation_ids > 0).flatten(), batch.sizes.triples)  # T triples
        b, r = idx // R, idx % R
        rel = batch.relation_ids[b, r]
        # unmasked token ids: the tail's name, and the head's span of root tokens
        leaf_ids = batch.leaf_ids if batch.mnm_targets is None else torch.where(
            batch.mnm_targets != ign, batch.mnm_targets, batch.leaf_ids)
        root_ids = batch.root_ids if batch.mlm_targets is None else torch.where(
            batch.mlm_targets != ign, batch.mlm_targets, batch.root_ids)
        tail_mask = batch.leaf_mask[b, r]  # (T, 7)
        tail_ids = leaf_ids[b, r].masked_fill(~tail_mask, pad)
        offs = torch.arange(S, device=b.device)
        hpos = r[:, None] + offs  # (T, S)
        head_mask = (offs < batch.head_span[b, r][:, None]) & (hpos < R)
        head_ids = root_ids[b[:, None], hpos.clamp(max=R - 1)]

        q = self.scorer.query(enc.roots[b, r], rel)  # (T, D) the head occurrence, unit, float32
        e_tail = self.names(tail_ids, tail_mask, emb)  # (T, D)
        k_tail = self.scorer.key(e_tail)
        true_score = (q * k_tail).sum(-1)  # (T,)

        if cfg.contrastive:
            scored = torch.ones_like(rel, dtype=torch.bool) if batch.mnm_targets is None else \
                (batch.mnm_targets[b, r] != ign).any(-1)
            if batch.neg_tail_ids is not None:
                neg_ids = batch.neg_tail_ids[b, r]  # (T, K, 7)
                neg_mask = neg_ids != pad
                neg = (q[:, None] * self.scorer.key(self.names(neg_ids, neg_mask, emb))).sum(-1)  # (T, K)
                neg_valid = neg_mask.any(-1) & (neg_ids != tail_ids[:, None]).any(-1)  # not empty, not the positive
            else:  # in-batch: every other triple's tail, unless it is the same name
                neg = q @ k_tail.T  # (T, T)
                neg_valid = (tail_ids[:, None] != tail_ids[None, :]).any(-1)
            terms["contrastive"] = info_nce(true_score, neg, cfg.temperature, neg_valid, weight=scored)
            values["triples_n"] = scored.sum()

        e_head = self.names(head_ids, head_mask, emb)  # (T, D) the head as a name, for reversal/order
        if cfg.antisymmetry:
            a = is_member(rel, cfg.antisymmetric_relation_ids)
            forward, reverse = self.scorer(e_head, rel, e_tail), self.scorer(e_tail, rel, e_head)
            terms["antisymmetry"] = antisymmetry_loss(forward, reverse, cfg.antisymmetry_margin, weight=a)
            values["antisymmetry_n"] = a.sum()
        if cfg.acyclicity:
            h = is_member(rel, cfg.hierarchy_relation_ids)
            terms["acyclicity"] = acyclicity_loss(
                true_score, self.scorer.order_potential(e_head, rel), self.scorer.order_potential(e_tail, rel),
                cfg.acyclicity_margin, cfg.temperature, weight=h)
            values["acyclicity_n"] = h.sum()

    def term_grad_norms(self, out: PretrainOutput) -> dict[str, float]:
        """Each weighted term's gradient norm over the transformer blocks' parameters (log them as
        `gradnorm_<term>`): which objective drives the shared encoder, and by how much. One autograd
        pass per term over the retained graph, one host sync; call it before out.loss.backward()."""
        params = [p for p in self.encoder.blocks.parameters() if p.requires_grad]
        weights, norms = self.term_weights(), {}
        for name, term in out.terms.items():
            if not term.requires_grad:
                norms[name] = term.new_zeros(())
                continue
            grads = torch.autograd.grad(weights[name] * term, params, retain_graph=True, allow_unused=True)
            norms[name] = torch.linalg.vector_norm(torch.stack([g.norm() for g in grads if g is not None])) \
                if any(g is not None for g in grads) else term.new_zeros(())
        return dict(zip(norms, torch.stack(list(norms.values())).tolist(), strict=True)) if norms else {}
