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
