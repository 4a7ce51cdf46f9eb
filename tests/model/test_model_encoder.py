import pytest
import torch
from leafy_fixtures import make_batch

from graphmer_core.model import GraphMEREncoder, GraphMERForPretraining, ModelConfig
from graphmer_core.model.config import roberta_like_param_count


def encode(cfg, batch, compact=True, seed=0):
    torch.manual_seed(seed)
    return GraphMEREncoder(cfg).eval()(batch, compact)


@pytest.mark.parametrize("density,root_pad,full", [(0.2, 0, False), (0.6, 3, False), (1.0, 0, True)])
def test_compact_leaves_equal_padded_layout(tiny, density, root_pad, full):
    batch = make_batch(tiny, B=3, R=16, density=density, root_pad=root_pad, full=full, seed=1)
    torch.manual_seed(0)
    enc = GraphMEREncoder(tiny).eval()
    c, p = enc(batch, compact=True), enc(batch, compact=False)
    n_real = batch.leaf_mask.flatten(1).sum(1)
    assert c.leaves.shape[1] == int(n_real.max()) < 7 * 16 or full
    real_roots = batch.roots_valid()
    torch.testing.assert_close(c.roots[real_roots], p.roots[real_roots], atol=1e-5, rtol=1e-5)
    padded_at_compact = p.leaves.gather(1, c.leaf_index[..., None].expand(-1, -1, tiny.hidden))
    torch.testing.assert_close(c.leaves[c.leaf_valid], padded_at_compact[c.leaf_valid], atol=1e-5, rtol=1e-5)
    assert torch.equal(c.leaf_valid.sum(1), n_real)


def test_full_leaves_share_one_bias_across_the_batch(tiny):
    from graphmer_core.model.attention import attention_bias

    batch = make_batch(tiny, B=3, R=8, full=True)
    enc = GraphMEREncoder(tiny)
    _, positions, valid, _ = enc.embed(batch)
    bias = attention_bias(positions, valid, 8, enc.slopes)
    assert bias.shape == (1, tiny.n_heads, 64, 64)


def test_compact_sequence_grows_with_real_leaves(tiny):
    sparse = make_batch(tiny, B=2, R=32, density=0.1, seed=2)
    x, _, _, _ = GraphMEREncoder(tiny).embed(sparse)
    assert x.shape[1] == 32 + int(sparse.leaf_mask.flatten(1).sum(1).max()) < 8 * 32


def test_hgat_changes_only_leaf_positions(tiny):
    batch = make_batch(tiny, B=2, R=16, density=0.5, seed=3)
    torch.manual_seed(0)
    enc = GraphMEREncoder(tiny).eval()
    x, _, valid, _ = enc.embed(batch, compact=False)
    R = batch.num_roots
    plain = torch.cat([enc.tok_emb(batch.root_ids), enc.tok_emb(batch.leaf_ids).flatten(1, 2)], 1)
    torch.testing.assert_close(x[:, :R], plain[:, :R], rtol=0, atol=0)  # roots untouched
    leaf_valid = valid[:, R:]
    torch.testing.assert_close(x[:, R:][~leaf_valid], plain[:, R:][~leaf_valid], rtol=0, atol=0)  # empty slots
    moved = (x[:, R:] - plain[:, R:]).norm(dim=-1)[leaf_valid]
    assert (moved > 0).all()


@pytest.mark.parametrize("switch", [{"attn_bias": "none"}, {"use_hgat": False}, {"norm": "layernorm"},
                                    {"mlp": "gelu"}, {"norm": "layernorm", "mlp": "gelu"}])
def test_each_switch_changes_the_output(tiny, switch):
    batch = make_batch(tiny, B=2, R=16, density=0.5, seed=4)
    a = encode(tiny, batch)
    b = encode(tiny.model_copy(update=switch), batch)
    assert not torch.allclose(a.roots, b.roots, atol=1e-4)


def test_gelu_layernorm_variant_is_parameter_matched(tiny):
    n = lambda cfg: sum(p.numel() for p in GraphMEREncoder(cfg).blocks.parameters())  # noqa: E731
    swiglu, gelu = n(tiny), n(tiny.model_copy(update={"norm": "layernorm", "mlp": "gelu"}))
    assert abs(swiglu - gelu) / swiglu < 0.05


def test_parameter_counts():
    with torch.device("meta"):
        tiny = GraphMERForPretraining(ModelConfig.tiny()).num_parameters()
        base_cfg = ModelConfig.base()
        base = GraphMERForPretraining(base_cfg).num_parameters()
    assert 0.5e6 < tiny < 1.5e6
    assert abs(base / roberta_like_param_count(base_cfg) - 1) < 0.05
    assert 80e6 < base - base_cfg.vocab_size * base_cfg.hidden < 95e6  # ~85M without the embedding table


def test_roberta_reference_count_matches_huggingface():
    transformers = pytest.importorskip("transformers")
    cfg = ModelConfig.tiny()
    rc = transformers.RobertaConfig(vocab_size=cfg.vocab_size, hidden_size=cfg.hidden,
                                    num_hidden_layers=cfg.n_layers, num_attention_heads=cfg.n_heads,
                                    intermediate_size=4 * cfg.hidden, max_position_embeddings=130,
                                    type_vocab_size=1)
    hf = sum(p.numel() for p in transformers.RobertaForMaskedLM(rc).parameters())
    assert hf == roberta_like_param_count(cfg, max_positions=130)


def graph_size(loss: torch.Tensor) -> int:
    seen, stack = set(), [loss.grad_fn]
    while stack:
        fn = stack.pop()
        if fn is None or fn in seen:
            continue
        seen.add(fn)
        stack.extend(f for f, _ in fn.next_functions)
    return len(seen)


def test_no_python_loop_over_tokens_leaves_or_triples(tiny):
    """Structural: the autograd graph has the same number of ops whatever the batch size, R,
    number of triples and leaves (a loop over any of them would add ops per item)."""
    torch.manual_seed(0)
    model = GraphMERForPretraining(tiny).train()
    sizes = set()
    for B, R, density, seed in [(2, 16, 0.2, 5), (3, 24, 0.6, 6), (4, 32, 0.9, 7)]:
        batch = make_batch(tiny, B=B, R=R, density=density, seed=seed)
        assert int((batch.relation_ids > 0).sum()) > 0
        sizes.add(graph_size(model(batch).loss))
    assert len(sizes) == 1, sizes


def test_runs_at_other_lengths(tiny):
    """No absolute positions: any R works with the same weights."""
    torch.manual_seed(0)
    enc = GraphMEREncoder(tiny).eval()
    for R in (8, 40):
        assert enc(make_batch(tiny, B=1, R=R, seed=R)).roots.shape == (1, R, tiny.hidden)


def test_batch_without_any_leaf(tiny):
    batch = make_batch(tiny, B=2, R=8, density=0.0, seed=11)
    assert not batch.leaf_mask.any()
    torch.manual_seed(0)
    model = GraphMERForPretraining(tiny)
    out = model(batch)
    assert out.encoder.leaves.shape == (2, 0, tiny.hidden)
    out.loss.backward()
    assert torch.isfinite(out.loss) and out.metrics["mnm_loss"] == 0
