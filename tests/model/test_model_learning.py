"""Small synthetic tasks the encoder must learn on CPU in a few hundred steps. Each one fails when
the property it needs is missing: direction along the roots, identity of leaf slots, antisymmetry
scored in one space."""

import pytest
import torch

from graphmer_core.model import LEAVES_PER_ROOT, GraphMERForPretraining, LeafyBatch, ModelConfig

MASK, IGN, V = 3, -100, 64


def small(**kw) -> ModelConfig:
    return ModelConfig.tiny(vocab_size=V, hidden=64, n_heads=4, ffn_hidden=128, dropout=0.0, **kw)


def tokens_only(**kw) -> ModelConfig:
    return small(contrastive=False, antisymmetry=False, acyclicity=False, **kw)


def train(cfg: ModelConfig, make, steps: int, lr: float = 3e-3) -> GraphMERForPretraining:
    torch.manual_seed(0)
    model = GraphMERForPretraining(cfg).train()
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    g = torch.Generator().manual_seed(0)
    for _ in range(steps):
        opt.zero_grad()
        model(make(g)).loss.backward()
        opt.step()
    return model.eval()


def no_leaves(root_ids: torch.Tensor, **kw) -> LeafyBatch:
    B, R = root_ids.shape
    z = torch.zeros(B, R, LEAVES_PER_ROOT, dtype=torch.long)
    return LeafyBatch(root_ids, z, z.bool(), torch.zeros(B, R, dtype=torch.long), torch.ones(B, R, dtype=torch.long),
                      **kw).validate(IGN, V)


def left_neighbour(g: torch.Generator, B: int = 32, R: int = 16) -> LeafyBatch:
    """One [MASK] per sequence; its target is the token on its left (its right is as random)."""
    ids = torch.randint(5, 21, (B, R), generator=g)
    rows, p = torch.arange(B), torch.randint(1, R - 1, (B,), generator=g)
    targets = torch.full((B, R), IGN)
    targets[rows, p] = ids[rows, p - 1]
    return no_leaves(ids.index_put((rows, p), torch.tensor(MASK)), mlm_targets=targets)


def test_left_neighbour_is_learned_and_holds_at_longer_R(one_thread):
    model = train(tokens_only(), left_neighbour, steps=150)
    with torch.no_grad():
        for R in (16, 64):  # trained at 16: rotary phases and the bias carry over to 4x the length
            acc = model(left_neighbour(torch.Generator().manual_seed(1), B=256, R=R)).metrics["mlm_acc"]
            assert acc >= 0.95, (R, acc)


def tails_of(n_tail: int):
    def make(g: torch.Generator, B: int = 16, R: int = 8) -> LeafyBatch:
        """Half the roots are heads (8 kinds) with a relation (3 kinds) and a fully masked tail of
        n_tail tokens, slot k of it a function of (head, relation, k)."""
        roots = torch.randint(13, V, (B, R), generator=g)
        has = torch.rand(B, R, generator=g) < 0.5
        has[:, 0] = True
        roots = torch.where(has, torch.randint(5, 13, (B, R), generator=g), roots)
        rel = torch.randint(1, 4, (B, R), generator=g) * has
        k = torch.arange(LEAVES_PER_ROOT)
        tail = 5 + (roots[..., None] * 3 + rel[..., None] * 7 + k * 11) % 50  # (B, R, 7)
        mask = (k < n_tail) & has[..., None]
        return LeafyBatch(roots, torch.where(mask, MASK, 0), mask, rel, torch.ones(B, R, dtype=torch.long),
                          mnm_targets=torch.where(mask, tail, IGN)).validate(IGN, V)
    return make


@pytest.mark.parametrize("n_tail", [2, 7])
def test_fully_masked_tails_are_learned_slot_by_slot(one_thread, n_tail):
    make = tails_of(n_tail)
    model = train(tokens_only(relation_dropout=0.0), make, steps=150)
    with torch.no_grad():
        acc = model(make(torch.Generator().manual_seed(1), B=128)).metrics["mnm_acc"]
    assert acc >= 0.95, acc


def toy_kg(n_entities: int = 12, n_edges: int = 12) -> tuple[list[torch.Tensor], list[tuple[int, int]]]:
    """Entities with distinct 1-2 token names; edges a -> b with a < b (a DAG, so antisymmetric)."""
    g = torch.Generator().manual_seed(0)
    names: dict[tuple[int, ...], None] = {}
    while len(names) < n_entities:
        names[tuple(torch.randint(5, V, (int(torch.randint(1, 3, (1,), generator=g)),), generator=g).tolist())] = None
    edges: set[tuple[int, int]] = set()
    while len(edges) < n_edges:
        a, b = sorted(torch.randperm(n_entities, generator=g)[:2].tolist())
        edges.add((a, b))
    return [torch.tensor(n) for n in names], sorted(edges)


def kg_batches(names, edges):
    def make(g: torch.Generator, B: int = 16, R: int = 8) -> LeafyBatch:
        """Each sequence: filler roots with one edge's head name, its tail name in the leaves."""
        roots = torch.randint(5, V, (B, R), generator=g)
        leaf_ids = torch.zeros(B, R, LEAVES_PER_ROOT, dtype=torch.long)
        rel, span = torch.zeros(B, R, dtype=torch.long), torch.ones(B, R, dtype=torch.long)
        for i in range(B):
            h, t = edges[int(torch.randint(len(edges), (1,), generator=g))]
            p = int(torch.randint(0, R - 2, (1,), generator=g))
            roots[i, p:p + len(names[h])] = names[h]
            leaf_ids[i, p, :len(names[t])] = names[t]
            rel[i, p], span[i, p] = 1, len(names[h])
        return LeafyBatch(roots, leaf_ids, leaf_ids != 0, rel, span).validate(IGN, V)
    return make


def direction_gaps(model: GraphMERForPretraining, names, edges) -> torch.Tensor:
    """score(h, r, t) - score(t, r, h) per edge, in the space antisymmetry scores both directions."""
    def encode(which: list[int]) -> torch.Tensor:
        ids = torch.zeros(len(which), LEAVES_PER_ROOT, dtype=torch.long)
        for i, e in enumerate(which):
            ids[i, :len(names[e])] = names[e]
        return model.names(ids, ids != 0, model.encoder.tok_emb.weight)

    h, t = encode([a for a, _ in edges]), encode([b for _, b in edges])
    rel = torch.ones(len(edges), dtype=torch.long)
    return (model.scorer(h, rel, t) - model.scorer(t, rel, h)).detach()


def test_antisymmetry_separates_the_two_directions_on_a_toy_kg(one_thread):
    names, edges = toy_kg()
    gaps = {}
    for w in (0.0, small().antisymmetry_weight):
        cfg = small(antisymmetric_relation_ids=(1,), antisymmetry_weight=w)
        gaps[w] = direction_gaps(train(cfg, kg_batches(names, edges), steps=100), names, edges)
    off, on = gaps.values()
    assert on.mean() > off.mean() + 0.15, (off.mean(), on.mean())
    assert (on > 0).float().mean() >= 0.9
