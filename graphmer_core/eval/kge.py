"""PyKEEN knowledge-graph-embedding baselines for link prediction (h, r, ?).

DistMult, RotatE and TransE are transductive: one free vector per entity, learnt from the training
triples only. The split is by source file, so most test heads (and some tails) never occur in
training; their rows are what training left of the initialisation (they are only ever corrupted
negatives), which is all such a model can honestly say about them. NodePiece is the inductive
answer: an entity is the mean of a few token vectors (relations incident to it, nearest hub
entities), so an entity of an unseen file still gets a representation from its known edges.

Training is PyKEEN's sLCWA loop (uniform head/tail corruption over all entities) under a
wall-clock budget; scoring reads the learnt tables once and ranks candidates with one matrix
product (DistMult) or one pairwise distance (TransE, RotatE) per chunk of heads.
"""

from __future__ import annotations

import functools
import random
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from time import perf_counter

import numpy as np
import scipy.sparse
import scipy.sparse.csgraph
import torch
from pykeen.models import DistMult, ERModel, Model, RotatE, TransE
from pykeen.nn import NodePieceRepresentation
from pykeen.nn.modules import DistMultInteraction, RotatEInteraction, TransEInteraction
from pykeen.nn.node_piece.anchor_search import AnchorSearcher
from pykeen.training import SLCWATrainingLoop, TrainingCallback
from pykeen.triples import CoreTriplesFactory
from pykeen.utils import set_random_seed

MODELS = ("DistMult", "RotatE", "TransE", "NodePiece")
MAX_EPOCHS = 1_000_000  # the budget stops training, never this
SCORE_CHUNK = 1 << 22  # score cells per chunk of heads: bounds a distance's temporaries

# Shared by every model, so that differences come from the model. On the real KG (360k training
# triples, 109k entities, 2 CPU cores) a step costs ~0.3 s of whole-table work (dense embedding
# gradients, Adam, constraints) plus ~4 us a scored triple: few, large batches and 8 negatives
# give a TransE epoch in ~25 s, so a 30-480 s budget buys 1-20 epochs.
COMMON = dict(optimizer="Adam", lr=0.01, max_batch_size=16384, negatives=8)
SPECS: dict[str, dict] = {
    # PyKEEN's defaults (margin ranking, unit-norm entities, L2 on relations): logistic and
    # self-adversarial losses, unconstrained entities and no regulariser did no better in 120 s runs
    "DistMult": dict(loss="MarginRankingLoss", loss_kwargs=dict(margin=1.0)),
    # self-adversarial negatives (NSSA), as in the RotatE paper. The margin sits near the distances
    # at initialisation: ~2 for 32 complex coordinates (margin 6 left positives saturated: 0.006
    # against 0.010 test MRR in 120 s), ~8 for L1 between TransE's unit-norm entities
    "RotatE": dict(loss="NSSALoss", loss_kwargs=dict(margin=3.0, adversarial_temperature=1.0)),
    "TransE": dict(loss="NSSALoss", loss_kwargs=dict(margin=6.0, adversarial_temperature=1.0)),
    # 8 relation tokens cover 99% of entities (median 3 distinct incident relations, both
    # directions); 4 of the 128 highest-degree anchors; a TransE interaction over the composed vectors
    "NodePiece": dict(loss="NSSALoss", loss_kwargs=dict(margin=6.0, adversarial_temperature=1.0),
                      interaction="TransE", interaction_kwargs=dict(p=1),
                      relation_tokens=8, anchors=128, anchor_tokens=4),
}


@dataclass
class KGEResult:
    name: str
    epochs: int
    seconds: float
    budget_s: float
    info: dict
    model: Model = field(repr=False, compare=False)

    def scores(self, heads: np.ndarray, relation: int, candidates: np.ndarray) -> np.ndarray:
        """(len(heads), len(candidates)) float32 scores of (h, relation, c); higher = more plausible.

        Equal to PyKEEN's score_t, but from tables read once: score_t would rebuild every NodePiece
        candidate from its tokens on each call, and broadcast (heads, candidates, dim) for distances."""
        if not 0 <= relation < self.model.num_real_relations:
            raise ValueError(f"relation {relation} out of range")
        ent, rel = self._tables
        heads = torch.as_tensor(np.asarray(heads, dtype=np.int64))
        cands = torch.as_tensor(np.asarray(candidates, dtype=np.int64))
        r = rel[2 * relation if self.model.use_inverse_triples else relation]  # PyKEEN: r's inverse is 2r + 1
        query, target, p = _factored(self.model.interaction, ent[heads], r, ent[cands])
        out = np.empty((len(heads), len(cands)), dtype=np.float32)
        step = max(1, SCORE_CHUNK // max(1, len(cands)))
        with torch.no_grad():
            for i in range(0, len(heads), step):
                q = query[i : i + step]
                out[i : i + step] = (q @ target.T if p is None else -torch.cdist(q, target, p=p)).numpy()
        return out

    @cached_property
    def _tables(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(entity, relation) representations as the interaction sees them; NodePiece's entities are
        composed in chunks so that (entities, tokens, dim) is never materialised at once."""
        model = self.model.eval()
        ent_rep, rel_rep = model.entity_representations[0], model.relation_representations[0]
        with torch.no_grad():
            ent = torch.cat([ent_rep(indices=torch.arange(i, min(i + 8192, ent_rep.max_id)))
                             for i in range(0, ent_rep.max_id, 8192)])
            rel = rel_rep(indices=torch.arange(rel_rep.max_id))
        return ent, rel


def _factored(interaction, h: torch.Tensor, r: torch.Tensor, t: torch.Tensor):
    """(query, target, p): the interaction's score is query @ target.T when p is None, else
    -||query - target||_p; the same formula as PyKEEN's, factored over candidates."""
    if isinstance(interaction, DistMultInteraction):
        return h * r, t, None
    if isinstance(interaction, TransEInteraction) and not interaction.power_norm:
        return h + r, t, float(interaction.p)
    if isinstance(interaction, RotatEInteraction) and not interaction.power_norm and interaction.p == 2:
        # the 2-norm over complex coordinates is the 2-norm over their (re, im) pairs
        return torch.view_as_real(h * r).flatten(-2), torch.view_as_real(t).flatten(-2), 2.0
    raise ValueError(f"no factored scoring for {interaction}")


class _Budget(TrainingCallback):
    """Stops the loop after the epoch that crosses the wall-clock budget (as PyKEEN's own early
    stopper does) and records each epoch's loss and the last epoch's duration."""

    def __init__(self, start: float, budget_s: float):
        super().__init__()
        self.start, self.budget_s = start, budget_s
        self.losses: list[float] = []
        self.epoch_start = self.last_epoch_s = 0.0

    def post_epoch(self, epoch: int, epoch_loss: float, **kwargs) -> None:
        now = perf_counter()
        self.losses.append(float(epoch_loss))
        self.last_epoch_s, self.epoch_start = now - self.epoch_start, now
        if now - self.start >= self.budget_s:
            self.training_loop._should_stop = True


class _NearestAnchors(AnchorSearcher):
    """PyKEEN's csgraph anchor search (unweighted, undirected shortest paths), except that an
    anchor out of reach is padding rather than an arbitrary pick, so an entity with no edges has
    no anchor tokens, and ties go to the higher-degree anchor."""

    def __call__(self, edge_index: np.ndarray, anchors: np.ndarray, k: int, num_entities: int | None = None):
        n = num_entities if num_entities is not None else int(edge_index.max()) + 1
        adj = scipy.sparse.coo_matrix((np.ones(edge_index.shape[1], dtype=np.int8), tuple(edge_index)),
                                      shape=(n, n)).tocsr()
        dist = scipy.sparse.csgraph.shortest_path(adj, directed=False, unweighted=True, indices=anchors)
        near = np.argsort(dist, axis=0, kind="stable")[:k]  # (k, n) anchor positions, nearest first
        near[np.isinf(np.take_along_axis(dist, near, 0))] = -1
        return near.T


@contextmanager
def _quiet_tokenising():
    """PyKEEN's NodePiece tokenisation draws a `sampling` progress bar it offers no switch for, and
    its mean aggregation logs a shape warning on every model: both landed in the middle of our own
    report. The bar is silenced here alone; the warning's logger raised to errors for the block."""
    import logging

    from pykeen.nn import combination
    from pykeen.nn.node_piece import utils

    bar, log = utils.tqdm, logging.getLogger(combination.__name__)
    level = log.level
    utils.tqdm = functools.partial(bar, disable=True)
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        utils.tqdm = bar
        log.setLevel(level)


@contextmanager
def _seeded(seed: int):
    """Seed python, numpy and torch for the block, then put all three back as they were."""
    py, npy = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        set_random_seed(seed)
        try:
            yield
        finally:
            random.setstate(py)
            np.random.set_state(npy)


def _factory(triples: np.ndarray, num_entities: int, num_relations: int, inverse: bool) -> CoreTriplesFactory:
    t = np.asarray(triples, dtype=np.int64).reshape(-1, 3)
    if len(t) and (t[:, [0, 2]].min() < 0 or t[:, [0, 2]].max() >= num_entities
                   or t[:, 1].min() < 0 or t[:, 1].max() >= num_relations):
        raise ValueError("triple index out of range")
    return CoreTriplesFactory.create(torch.as_tensor(t), num_entities=num_entities, num_relations=num_relations,
                                     create_inverse_triples=inverse)


def _nodepiece(train: CoreTriplesFactory, context: np.ndarray | None, dim: int, seed: int):
    """NodePiece as PyKEEN composes it (NodePieceRepresentation under an ERModel), with token
    vocabularies of its own. PyKEEN's NodePiece class reuses the interaction's relation table for
    relation tokens, but tokens index r / r + R (outgoing / incoming) while the interaction indexes
    2r / 2r + 1 (r / inverse of r): each vector then serves two unrelated roles, and on the test
    suite's graph the class did not learn where this does."""
    spec = SPECS["NodePiece"]
    known = train.mapped_triples.numpy()
    if context is not None and len(context):
        known = np.unique(np.concatenate([known, np.asarray(context, dtype=np.int64).reshape(-1, 3)]), axis=0)
    tok = _factory(known, train.num_entities, train.real_num_relations, inverse=True)
    # hubs, at most one entity in 16: on a small graph every entity would otherwise be its own
    # nearest anchor, and NodePiece a transductive embedding in disguise
    anchors = max(1, min(spec["anchors"], train.num_entities // 16))
    anchor_tokens = min(spec["anchor_tokens"], anchors)
    table = dict(shape=dim, initializer="xavier_uniform_")  # the scale of the transductive models' vectors
    with _quiet_tokenising():
        model = ERModel(
            triples_factory=tok, interaction=spec["interaction"], interaction_kwargs=spec["interaction_kwargs"],
            entity_representations=NodePieceRepresentation,
            entity_representations_kwargs=dict(
                triples_factory=tok, tokenizers=["AnchorTokenizer", "RelationTokenizer"],
                tokenizers_kwargs=[dict(selection="degree", selection_kwargs=dict(num_anchors=anchors),
                                        searcher=_NearestAnchors()), None],
                num_tokens=[anchor_tokens, spec["relation_tokens"]], token_representations_kwargs=[table, table]),
            relation_representations_kwargs=table,
            loss=spec["loss"], loss_kwargs=spec["loss_kwargs"], random_seed=seed)
    return model, dict(interaction=spec["interaction"], **spec["interaction_kwargs"], aggregation="mean",
                       relation_tokens=spec["relation_tokens"], anchors=anchors, anchor_tokens=anchor_tokens,
                       tokenised_on=len(known), context_triples=0 if context is None else len(context))


def _model(name: str, train: CoreTriplesFactory, context: np.ndarray | None, dim: int, seed: int):
    """(model, what to report about it)."""
    if name == "NodePiece":
        return _nodepiece(train, context, dim, seed)
    kw = dict(triples_factory=train, embedding_dim=dim, loss=SPECS[name]["loss"],
              loss_kwargs=SPECS[name]["loss_kwargs"], random_seed=seed)
    if name == "DistMult":
        return DistMult(**kw), {}
    if name == "TransE":
        return TransE(**kw, scoring_fct_norm=1), {"p": 1}
    # RotatE: dim real numbers per entity like the others, i.e. dim / 2 complex ones
    return RotatE(**{**kw, "embedding_dim": dim // 2}), {"complex_dim": dim // 2}


def train_kge(name: str, train: np.ndarray, num_entities: int, num_relations: int, *, budget_s: float,
              seed: int = 0, context: np.ndarray | None = None, dim: int = 64,
              max_epochs: int | None = None) -> KGEResult:
    """Train one PyKEEN model on `train` ((N, 3) head, relation, tail indices) for about `budget_s`
    seconds of wall time, setup included: training stops after the epoch that crosses the budget
    (at least one), or after `max_epochs` (for runs that must not depend on the machine's speed).
    Every one of `num_entities` entities gets a row, seen in `train` or not.

    What NodePiece sees. The tokenisation graph is `train` + `context` (deduplicated). In it, each
    entity's tokens are (a) up to 8 of its incident relations, sampled without replacement, r for
    an outgoing edge and a separate token for an incoming one, and (b) its 4 nearest anchors by
    undirected hop distance, the anchors being the 128 highest-degree entities (at most one in
    16); a missing token (fewer relations, no anchor in reach, no edge at all) is a learnt padding
    vector, so entities without any edge all share one representation. The entity vector is the
    mean of its token vectors. `context` enters only there: the loss sees the `train` triples and
    their inverses (which NodePiece trains on), against negatives that corrupt their heads or
    tails. So the caller must leave the triples it will evaluate out of `context`, or their
    relation and endpoints leak into the tokens.
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; one of {MODELS}")
    with _seeded(seed):
        start = perf_counter()
        factory = _factory(train, num_entities, num_relations, inverse=name == "NodePiece")
        model, extra = _model(name, factory, context, dim, seed)
        setup_s = perf_counter() - start
        # at least 16 steps an epoch: a small graph must still learn within a few epochs
        batch_size = max(1, min(COMMON["max_batch_size"], -(-len(factory.mapped_triples) // 16)))
        loop = SLCWATrainingLoop(model=model, triples_factory=factory, optimizer=COMMON["optimizer"],
                                 optimizer_kwargs=dict(lr=COMMON["lr"]), negative_sampler="basic",
                                 negative_sampler_kwargs=dict(num_negs_per_pos=COMMON["negatives"]),
                                 automatic_memory_optimization=False)
        budget = _Budget(start, budget_s)
        budget.epoch_start = perf_counter()
        loop.train(triples_factory=factory, num_epochs=max_epochs or MAX_EPOCHS, batch_size=batch_size,
                   use_tqdm=False, pin_memory=False, callbacks=budget)
        seconds = perf_counter() - start
    info = dict(dim=dim, **COMMON, batch_size=batch_size, loss=SPECS[name]["loss"], **SPECS[name]["loss_kwargs"],
                **extra, train_triples=len(factory.mapped_triples), setup_s=setup_s,
                last_epoch_s=budget.last_epoch_s, final_loss=budget.losses[-1])
    return KGEResult(name, len(budget.losses), seconds, budget_s, info, model.eval())
