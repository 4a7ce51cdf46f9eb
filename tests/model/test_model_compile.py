import torch
from leafy_fixtures import make_batch

from graphmer_core.model import GraphMERForPretraining


def test_compiled_training_step_has_no_graph_break(tiny):
    """fullgraph=True raises on any graph break. aot_eager traces forward and backward as inductor
    would, without its code generation (minutes on this CPU)."""
    torch._dynamo.reset()
    batch = make_batch(tiny, B=2, R=16, density=0.5, seed=0)
    assert batch.sizes is not None  # measured by validate, as the collate does
    torch.manual_seed(0)
    model = GraphMERForPretraining(tiny.model_copy(update={"dropout": 0.0, "relation_dropout": 0.0}))
    compiled = torch.compile(model, backend="aot_eager", fullgraph=True)
    out = compiled(batch)
    norms = model.term_grad_norms(out)
    out.loss.backward()
    assert set(norms) == set(out.terms) and all(n == n for n in norms.values())
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    eager = model(batch)
    torch.testing.assert_close(out.loss, eager.loss)
    assert out.metrics.keys() == eager.metrics.keys()
