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
