import pytest
import torch

from leafy_fixtures import make_batch


def test_valid_batch_passes(tiny):
    b = make_batch(tiny, B=2, R=8, root_pad=2)
    assert b.batch_size == 2 and b.num_roots == 8


@pytest.mark.parametrize("field,value,msg", [
    ("root_ids", lambda b: b.root_ids.int(), "root_ids must have dtype"),
    ("leaf_ids", lambda b: b.leaf_ids[:, :, :5], "leaf_ids must have shape"),
    ("leaf_mask", lambda b: b.leaf_mask.long(), "leaf_mask must have dtype torch.bool"),
    ("relation_ids", lambda b: torch.zeros_like(b.relation_ids), "a root has leaves iff"),
    ("head_span", lambda b: torch.zeros_like(b.head_span), "head_span must be >= 1"),
    ("mlm_targets", lambda b: torch.zeros_like(b.mlm_targets), "mlm_targets set on padding"),
    ("mnm_targets", lambda b: torch.zeros_like(b.mnm_targets), "mnm_targets set on padding"),
])
def test_invalid_batches_name_the_field(tiny, field, value, msg):
    b = make_batch(tiny, B=2, R=8, density=0.5, root_pad=2)
    setattr(b, field, value(b))
    with pytest.raises(ValueError, match=msg):
        b.validate(tiny.ignore_index, tiny.vocab_size, tiny.num_relations)


def test_relation_out_of_vocabulary(tiny):
    b = make_batch(tiny, B=1, R=8, density=1.0)
    b.relation_ids = b.relation_ids + tiny.num_relations
    with pytest.raises(ValueError, match="relation_ids must be <"):
        b.validate(num_relations=tiny.num_relations)


def test_validate_measures_the_sizes_the_forward_needs(tiny):
    b = make_batch(tiny, B=3, R=16, density=0.5, root_pad=2, seed=4)
    ign = tiny.ignore_index
    assert b.sizes == b.measure(ign)
    assert b.sizes.leaves == int(b.leaf_mask.flatten(1).sum(1).max())
    assert b.sizes.triples == int((b.relation_ids > 0).sum())
    assert (b.sizes.mlm, b.sizes.mnm) == (int((b.mlm_targets != ign).sum()), int((b.mnm_targets != ign).sum()))
    assert b.to("cpu").sizes == b.sizes


def test_stale_sizes_are_caught(tiny):
    b = make_batch(tiny, B=2, R=8, density=0.5, seed=5)
    b.mlm_targets = torch.full_like(b.mlm_targets, tiny.ignore_index)  # targets changed after measuring
    with pytest.raises(ValueError, match="sizes .* do not match"):
        b.validate(tiny.ignore_index)


def test_leaf_blocks_must_be_left_aligned(tiny):
    b = make_batch(tiny, B=1, R=8, density=1.0, seed=6, targets=False)
    b.leaf_mask[0, 0] = torch.tensor([False, True, True, False, False, False, False])
    with pytest.raises(ValueError, match="left-aligned"):
        b.validate()
