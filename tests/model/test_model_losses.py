import pytest
import torch
import torch.nn.functional as F
from leafy_fixtures import make_batch

from graphmer_core.model import GraphMERForPretraining
from graphmer_core.model.heads import TripleScorer
from graphmer_core.model.losses import acyclicity_loss, antisymmetry_loss, info_nce


def optimise(params, loss_fn, steps=200, lr=0.05):
    opt = torch.optim.Adam(params, lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        loss_fn().backward()
        opt.step()


def test_info_nce_ranks_positive_first():
    torch.manual_seed(0)
    q = torch.randn(16, 8, requires_grad=True)
    keys = torch.randn(16, 8, requires_grad=True)

    def scores():
        s = F.normalize(q, dim=-1) @ F.normalize(keys, dim=-1).T  # (16, 16), positives on the diagonal
        off = ~torch.eye(16, dtype=torch.bool)
        return s.diagonal(), s[off].view(16, 15)

    before = info_nce(*scores()).item()
    optimise([q, keys], lambda: info_nce(*scores()))
    pos, neg = scores()
    assert info_nce(pos, neg).item() < 0.2 * before
    assert (pos[:, None] > neg).all()


def test_info_nce_ignores_invalid_negatives():
    pos, neg = torch.zeros(2), torch.tensor([[0.0, 5.0], [0.0, 5.0]])
    valid = torch.tensor([[True, False], [True, False]])
    assert info_nce(pos, neg, 0.07, valid).item() == pytest.approx(torch.log(torch.tensor(2.0)).item())


def test_antisymmetry_alone_separates_the_pairs(tiny):
    torch.manual_seed(0)
    scorer = TripleScorer(tiny)
    ents = torch.randn(10, tiny.hidden, requires_grad=True)
    h, t = torch.arange(0, 5), torch.arange(5, 10)
    rel = torch.ones(5, dtype=torch.long)
    margin = tiny.antisymmetry_margin

    def gap():
        return scorer(ents[h], rel, ents[t]) - scorer(ents[t], rel, ents[h])

    violated = lambda: (gap() < margin).float().mean().item()  # noqa: E731
    assert violated() == 1.0
    loss = lambda: antisymmetry_loss(scorer(ents[h], rel, ents[t]), scorer(ents[t], rel, ents[h]), margin)  # noqa: E731
    optimise([ents, *scorer.parameters()], loss, steps=100, lr=0.01)
    assert violated() == 0.0 and loss().item() == 0.0


def test_acyclicity_alone_breaks_a_planted_three_cycle(tiny):
    torch.manual_seed(0)
    scorer = TripleScorer(tiny)
    ents = torch.randn(3, tiny.hidden, requires_grad=True)
    h, t = torch.tensor([0, 1, 2]), torch.tensor([1, 2, 0])  # A -> B -> C -> A
    rel = torch.full((3,), 2)
    edge = torch.full((3,), 0.5, requires_grad=True)  # predicted edges: p = sigmoid(0.5 / 0.07) ~ 1
    margin, temp = tiny.acyclicity_margin, tiny.temperature

    def loss():
        return acyclicity_loss(edge, scorer.order_potential(ents[h], rel), scorer.order_potential(ents[t], rel),
                               margin, temp)

    before = loss().item()
    assert (torch.sigmoid(edge / temp) > 0.5).all() and before > 0
    optimise([edge, ents, scorer.order], loss, steps=300, lr=0.05)
    predicted = torch.sigmoid(edge / temp) > 0.5
    assert loss().item() < 0.05 * before
    assert not predicted.all()  # the cycle lost an edge
    phi_h, phi_t = scorer.order_potential(ents[h], rel), scorer.order_potential(ents[t], rel)
    assert (phi_t - phi_h > 0)[predicted].all()  # the kept edges climb the order


@pytest.mark.parametrize("switch", ["contrastive", "antisymmetry", "acyclicity"])
def test_each_regularizer_switch_changes_the_loss(tiny, switch):
    batch = make_batch(tiny, B=2, R=16, density=0.8, seed=8)
    losses = []
    for on in (True, False):
        torch.manual_seed(0)
        out = GraphMERForPretraining(tiny.model_copy(update={switch: on})).eval()(batch)
        losses.append(out.loss.item())
        assert (switch in out.metrics) == on
    assert losses[0] != pytest.approx(losses[1])


def test_given_negatives_are_used(tiny):
    batch = make_batch(tiny, B=2, R=16, density=0.8, seed=9)
    torch.manual_seed(0)
    model = GraphMERForPretraining(tiny).eval()
    in_batch = model(batch).metrics["contrastive"]
    batch.neg_tail_ids = torch.randint(5, tiny.vocab_size, (2, 16, 3, 7))
    given = model(batch).metrics["contrastive"]
    assert in_batch.item() != pytest.approx(given.item())


def test_empty_negatives_and_copies_of_the_positive_are_dropped(tiny):
    batch = make_batch(tiny, B=2, R=16, density=0.8, seed=9)
    torch.manual_seed(0)
    model = GraphMERForPretraining(tiny).eval()
    negs = torch.randint(5, tiny.vocab_size, (2, 16, 2, 7))
    batch.neg_tail_ids = negs
    clean = model(batch).metrics["contrastive"]
    unmasked = torch.where(batch.mnm_targets != tiny.ignore_index, batch.mnm_targets, batch.leaf_ids)
    positive = unmasked.masked_fill(~batch.leaf_mask, tiny.pad_token_id)
    batch.neg_tail_ids = torch.cat([negs, positive[:, :, None], torch.zeros_like(negs[:, :, :1])], dim=2)
    assert model(batch).metrics["contrastive"].item() == pytest.approx(clean.item(), rel=1e-5)


def test_default_weights_keep_auxiliary_gradients_below_mlm_and_mnm(tiny):
    """At initialisation no auxiliary term may drive the blocks harder than MLM or MNM."""
    for seed in range(3):
        torch.manual_seed(seed)
        model = GraphMERForPretraining(tiny)
        norms = model.term_grad_norms(model(make_batch(tiny, B=8, R=64, density=0.3, seed=seed)))
        assert set(norms) == {"mlm", "mnm", "contrastive", "antisymmetry", "acyclicity"}
        top = max(norms["mlm"], norms["mnm"])
        assert all(norms[k] < top for k in ("contrastive", "antisymmetry", "acyclicity")), norms


def test_term_grad_norms_leave_the_step_untouched(tiny):
    batch = make_batch(tiny, B=2, R=16, density=0.8, seed=14)
    grads = []
    for measure in (False, True):
        torch.manual_seed(0)
        model = GraphMERForPretraining(tiny).eval()
        out = model(batch)
        if measure:
            norms = model.term_grad_norms(out)
            assert all(p.grad is None for p in model.parameters()) and norms["mlm"] > 0
        out.loss.backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None]))
    assert torch.equal(*grads)
