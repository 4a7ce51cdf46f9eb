import pytest
import torch
from leafy_fixtures import make_batch

from graphmer_core.model import LEAVES_PER_ROOT, GraphMEREncoder, GraphMERForPretraining, LeafyBatch, ModelConfig
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
    leaves = enc.tok_emb(batch.leaf_ids) + enc.slot_emb  # (B, R, 7, D): token + slot identity
    plain = torch.cat([enc.tok_emb(batch.root_ids), leaves.flatten(1, 2)], 1)
    torch.testing.assert_close(x[:, :R], plain[:, :R], rtol=0, atol=0)  # roots untouched
    leaf_valid = valid[:, R:]
    torch.testing.assert_close(x[:, R:][~leaf_valid], plain[:, R:][~leaf_valid], rtol=0, atol=0)  # empty slots
    moved = (x[:, R:] - plain[:, R:]).norm(dim=-1)[leaf_valid]
    assert (moved > 0).all()


@pytest.mark.parametrize("switch", [{"attn_bias": "none"}, {"rope": False}, {"use_hgat": False}, {"norm": "layernorm"},
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
    assert torch.isfinite(out.loss) and out.terms["mnm"] == 0
    assert out.metrics["mnm_n"] == 0 and "mnm_loss" not in out.metrics and "mnm_acc" not in out.metrics
    assert "contrastive" not in out.metrics and out.metrics["triples_n"] == 0  # no triple, nothing scored
    assert out.metrics["mlm_n"] > 0 and "mlm_acc" in out.metrics


def plain_batch(root_ids: torch.Tensor, leaf_ids: torch.Tensor | None = None, rel: int = 1) -> LeafyBatch:
    """One sequence of the given roots; leaf_ids (7,) hang from root 0 when given."""
    R = root_ids.shape[0]
    leaves = torch.zeros(1, R, LEAVES_PER_ROOT, dtype=torch.long)
    relation = torch.zeros(1, R, dtype=torch.long)
    if leaf_ids is not None:
        leaves[0, 0], relation[0, 0] = leaf_ids, rel
    return LeafyBatch(root_ids[None], leaves, leaves != 0, relation, torch.ones(1, R, dtype=torch.long)).validate()


@pytest.mark.parametrize("rope", [True, False])
def test_reversing_the_roots_changes_the_state_at_the_mask(tiny, rope):
    """`a [MASK] b` and `b [MASK] a`: graph distance is symmetric, so only rotary positions tell them apart."""
    enc = GraphMEREncoder(tiny.model_copy(update={"rope": rope})).eval()
    a, b = 17, 42
    fwd = enc(plain_batch(torch.tensor([a, 3, b]))).roots[0, 1]
    rev = enc(plain_batch(torch.tensor([b, 3, a]))).roots[0, 1]
    assert torch.allclose(fwd, rev, atol=1e-5) != rope


def test_slots_of_a_fully_masked_block_get_distinct_states(tiny):
    enc = GraphMEREncoder(tiny).eval()
    out = enc(plain_batch(torch.tensor([17, 42, 9]), torch.full((LEAVES_PER_ROOT,), 3)))
    leaves = out.leaves[0]  # (7, D): every slot holds [MASK], one hop from the root and from each other
    gaps = (leaves[:, None] - leaves[None]).norm(dim=-1) + torch.eye(LEAVES_PER_ROOT)
    assert (gaps > 1e-3).all()
    with torch.no_grad():
        enc.slot_emb.zero_()  # without slot identity they collapse to one state
    leaves = enc(plain_batch(torch.tensor([17, 42, 9]), torch.full((LEAVES_PER_ROOT,), 3))).leaves[0]
    torch.testing.assert_close(leaves, leaves[:1].expand_as(leaves))


def test_meta_device_init_then_load_state_dict_is_the_same_model(tiny):
    """Nothing derived from the config lives in buffers that to_empty would leave uninitialised."""
    batch = make_batch(tiny, B=2, R=16, density=0.6, seed=12)
    torch.manual_seed(0)
    ref = GraphMERForPretraining(tiny).eval()
    with torch.device("meta"):
        model = GraphMERForPretraining(tiny)
    model.to_empty(device="cpu").load_state_dict(ref.state_dict())
    a, b = ref(batch), model.eval()(batch)
    assert a.metrics.keys() == b.metrics.keys() and {"antisymmetry", "acyclicity"} <= a.metrics.keys()
    for k in a.metrics:
        torch.testing.assert_close(a.metrics[k], b.metrics[k], msg=k)


def test_zero_head_span_is_caught_by_the_debug_switch_and_harmless_without(tiny):
    batch = make_batch(tiny, B=2, R=16, density=0.6, seed=13)
    batch.head_span = torch.zeros_like(batch.head_span)
    torch.manual_seed(0)
    out = GraphMERForPretraining(tiny)(batch)
    assert torch.isfinite(out.encoder.leaves).all() and torch.isfinite(out.loss)
    with pytest.raises(ValueError, match="head_span"):
        GraphMERForPretraining(tiny.model_copy(update={"validate_batches": True}))(batch)


def test_grouped_matmul_equals_per_row_products():
    from graphmer_core.model.hgat import grouped_matmul

    g = torch.Generator().manual_seed(0)
    x, W = torch.randn(150, 8, generator=g), torch.randn(5, 8, 6, generator=g)
    group = torch.cat([torch.full((100,), 3), torch.randint(0, 3, (50,), generator=g)])  # group 4 empty, 3 > chunk
    group = group[torch.randperm(150, generator=g)]
    expected = torch.stack([x[m] @ W[group[m]] for m in range(150)])
    torch.testing.assert_close(grouped_matmul(x, group, W, chunk=16), expected)


def test_hgat_follows_the_formula(tiny):
    """t_i' = t_i + sum_j alpha_ij W_r h_j, alpha = softmax_j LeakyReLU(a_r . [W_r t_i ; W_r h_j]),
    over the head span's tokens, checked leaf by leaf against a plain loop."""
    batch = make_batch(tiny, B=2, R=12, density=0.5, seed=16)
    torch.manual_seed(0)
    enc = GraphMEREncoder(tiny).eval()
    x, _, valid, leaf_index = enc.embed(batch)
    R = batch.num_roots
    roots = enc.tok_emb(batch.root_ids)
    leaves = enc.tok_emb(batch.leaf_ids.flatten(1).gather(1, leaf_index)) + enc.slot_emb[leaf_index % 7]
    W, a = enc.hgat.W, enc.hgat.a
    for b, n in valid[:, R:].nonzero().tolist():
        i = int(leaf_index[b, n]) // 7
        r, span = int(batch.relation_ids[b, i]), int(batch.head_span[b, i])
        heads = roots[b, i:min(i + span, R)] @ W[r]  # (S, D)
        t = leaves[b, n] @ W[r]
        alpha = torch.nn.functional.leaky_relu(t @ a[r, 0] + heads @ a[r, 1], 0.2).softmax(0)
        torch.testing.assert_close(x[b, R + n], leaves[b, n] + alpha @ heads, atol=1e-5, rtol=1e-4)
