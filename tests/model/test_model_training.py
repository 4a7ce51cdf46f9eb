import torch
from leafy_fixtures import make_batch

from graphmer_core.model import GraphMERForPretraining


def test_mlm_plus_mnm_loss_halves_on_a_fixed_batch(tiny):
    torch.manual_seed(0)
    batch = make_batch(tiny, B=4, R=16, density=0.4, seed=10)
    model = GraphMERForPretraining(tiny).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    first = None
    for _ in range(300):
        opt.zero_grad()
        out = model(batch)
        tokens = out.metrics["mlm_loss"] + out.metrics["mnm_loss"]
        first = tokens.item() if first is None else first
        if tokens.item() < first / 2:
            break
        out.loss.backward()
        opt.step()
    assert tokens.item() < first / 2, (first, tokens.item())
    assert all(torch.isfinite(v) for v in out.metrics.values())


def test_metrics_leave_out_what_had_nothing_to_score(tiny):
    batch = make_batch(tiny, B=2, R=16, density=0.5, seed=15)
    batch.mlm_targets = None  # MNM only
    batch = batch.measured(tiny.ignore_index)
    torch.manual_seed(0)
    out = GraphMERForPretraining(tiny)(batch)
    assert not {"mlm_loss", "mlm_acc", "mlm_n"} & out.metrics.keys() and "mlm" not in out.terms
    assert out.metrics["mnm_n"] == batch.sizes.mnm > 0 and "mnm_acc" in out.metrics
    assert out.metrics["triples_n"] == (batch.mnm_targets != tiny.ignore_index).any(-1).sum()
    assert all(t.requires_grad for t in out.terms.values())

    batch.mnm_targets = torch.full_like(batch.mnm_targets, tiny.ignore_index)  # nothing masked at all
    out = GraphMERForPretraining(tiny)(batch.measured(tiny.ignore_index))
    assert out.metrics["mnm_n"] == 0 and out.metrics["triples_n"] == 0
    assert not {"mnm_loss", "mnm_acc", "contrastive"} & out.metrics.keys()
    assert {"antisymmetry", "acyclicity"} <= out.metrics.keys()  # they score every triple, masked or not
    assert torch.isfinite(out.loss)
