"""The loader: seeded batches, type-consistent negatives, and batches the model trains on."""

from __future__ import annotations

import numpy as np
import torch

from graphmer_core.data import store
from graphmer_core.data.loader import BatchSpec, SplitView, StepBatches, eval_batches, step_loader
from graphmer_core.kg import ontology
from graphmer_core.model import GraphMERForPretraining, ModelConfig

SPEC = BatchSpec(batch_size=4, negatives_ratio=0.5, negatives_k=3, seed=7)


def same(a, b) -> bool:
    return all(torch.equal(getattr(a.leafy, f), getattr(b.leafy, f)) for f in
               ("root_ids", "leaf_ids", "mlm_targets", "mnm_targets", "relation_ids", "neg_tail_ids"))


def test_same_seed_same_batches_other_seed_other_masks(email_dataset):
    ds = store.open_dataset(email_dataset.path)
    a = StepBatches(SplitView(ds, "train", 64, SPEC))
    b = StepBatches(SplitView(ds, "train", 64, SPEC))
    c = StepBatches(SplitView(ds, "train", 64, BatchSpec(**{**SPEC.__dict__, "seed": 8})))
    for step in (0, 5, len(a) + 1):  # the last one in the second epoch
        assert same(a[step], b[step])
        assert not torch.equal(a[step].leafy.mlm_targets, c[step].leafy.mlm_targets)
    assert not torch.equal(a[0].window, a[len(a)].window)  # a new epoch reshuffles
    # the same batch whether built in this process or by a worker, in any order
    loaded = list(step_loader(a.view, 3, 6, workers=2))
    assert all(same(x, a[s]) for x, s in zip(loaded, range(3, 6), strict=True))


def test_ranks_read_disjoint_windows(email_dataset):
    ds = store.open_dataset(email_dataset.path)
    view = SplitView(ds, "train", 64, SPEC)
    r0, r1 = StepBatches(view, rank=0, world=2), StepBatches(view, rank=1, world=2)
    for step in range(5):
        assert not set(r0.window_ids(step)) & set(r1.window_ids(step))


def test_negatives_are_of_the_range_kind_and_never_true(email_dataset):
    """Property over many draws: every negative's kind is in the relation's range, it is never the
    true tail nor any known tail of (head, relation), and never spelled like the true tail."""
    ds = store.open_dataset(email_dataset.path)
    view = SplitView(ds, "train", 64, SPEC)
    sampler = view.negatives
    kinds = ds.column("entities", "kind_id")
    spelling = ds.column("entities", "spelling")
    t = ds.triples
    head, rel, tail = (t.column(c).to_numpy().astype(np.int64) for c in ("head", "relation", "tail"))
    true = set(zip(head.tolist(), rel.tolist(), tail.tolist(), strict=True))
    rng = np.random.default_rng(0)
    checked = 0
    for _ in range(30):
        pick = rng.choice(len(head), 200)
        neg = sampler.sample(head[pick], rel[pick], tail[pick], 5, rng)
        for (h, r, tl), row in zip(zip(head[pick], rel[pick], tail[pick], strict=True), neg, strict=True):
            allowed = ontology.RELATIONS[ds.relations[r]].range
            for n in row[row >= 0].tolist():
                assert ds.kinds[kinds[n]] in allowed
                assert (int(h), int(r), n) not in true and n != tl
                assert spelling[n] != spelling[tl]
                checked += 1
            assert len(set(row[row >= 0].tolist())) == (row >= 0).sum()  # no repeats
    assert checked > 10_000


def test_batches_validate_and_train_the_model(email_dataset):
    ds = store.open_dataset(email_dataset.path)
    view = SplitView(ds, "train", 64, SPEC)
    cfg = ModelConfig.tiny(vocab_size=ds.vocab_size, num_relations=len(ds.relations))
    torch.manual_seed(0)
    model = GraphMERForPretraining(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    steps = StepBatches(view)
    losses, negatives = [], 0
    for step in range(30):
        batch = steps[step]
        batch.leafy.validate(cfg.ignore_index, cfg.vocab_size, cfg.num_relations)
        if batch.leafy.neg_tail_ids is not None:
            negatives += int((batch.leafy.neg_tail_ids > 0).any(-1).any(-1).sum())
        out = model(batch.leafy)
        assert torch.isfinite(out.loss)
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        losses.append(out.metrics["mlm_loss"].item())
    assert np.mean(losses[-5:]) < np.mean(losses[:5])
    assert negatives > 10


def test_eval_batches_are_fixed(email_dataset):
    ds = store.open_dataset(email_dataset.path)
    view = SplitView(ds, "valid", 64, SPEC)
    a, b = list(eval_batches(view, limit=12)), list(eval_batches(view, limit=12))
    assert len(a) == 3 and all(same(x, y) for x, y in zip(a, b, strict=True))


def test_max_samples_and_type_consistency_change_the_batches(email_dataset):
    ds = store.open_dataset(email_dataset.path)
    full = SplitView(ds, "train", 64, SPEC)
    capped = SplitView(ds, "train", 64, BatchSpec(**{**SPEC.__dict__, "max_samples": 40}))
    assert len(capped) == 40 < len(full)
    assert set(zip(capped.starts, capped.ends, strict=True)) <= set(zip(full.starts, full.ends, strict=True))
    loose = SplitView(ds, "train", 64, BatchSpec(**{**SPEC.__dict__, "type_consistent": False}))
    kinds = ds.column("entities", "kind_id")
    t = ds.triples
    head, rel, tail = (t.column(c).to_numpy().astype(np.int64) for c in ("head", "relation", "tail"))
    calls = ds.relations.index("calls")
    pick = np.flatnonzero(rel == calls)[:200]
    rng = np.random.default_rng(0)
    strict = full.negatives.sample(head[pick], rel[pick], tail[pick], 5, rng)
    any_kind = loose.negatives.sample(head[pick], rel[pick], tail[pick], 5, rng)
    allowed = ontology.RELATIONS["calls"].range
    assert all(ds.kinds[kinds[n]] in allowed for n in strict[strict >= 0])
    assert any(ds.kinds[kinds[n]] not in allowed for n in any_kind[any_kind >= 0])
