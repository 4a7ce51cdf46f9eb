"""Mixed precision: the attention mask in the query's dtype, and no NaN from empty names in fp16.
CPU autocast exercises the same code paths as CUDA's; the CUDA-only checks skip visibly without one."""

import pytest
import torch
from leafy_fixtures import make_batch

from graphmer_core.model import GraphMEREncoder, GraphMERForPretraining

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (none on this machine)")


def attention_inputs(enc: GraphMEREncoder) -> list[tuple[torch.dtype, ...]]:
    """Record, at each layer's attention, the dtypes of q (as autocast makes it), the bias and rope."""
    seen = []

    def hook(attn, args):
        x, bias, rope = args
        seen.append((attn.qkv(x).dtype, bias.dtype, rope[0].dtype))

    for block in enc.blocks:
        block.attn.register_forward_pre_hook(hook)
    return seen


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_bias_and_rotary_tables_have_the_query_dtype_under_autocast(tiny, dtype):
    batch = make_batch(tiny, B=2, R=16, density=0.5, seed=1)
    enc = GraphMEREncoder(tiny)
    seen = attention_inputs(enc)
    with torch.autocast("cpu", dtype=dtype):
        enc(batch)
    assert seen and all(s == (dtype, dtype, dtype) for s in seen), seen
    with torch.no_grad():
        enc(batch)  # no autocast: all float32
    assert seen[-1] == (torch.float32,) * 3


def test_fp16_step_with_an_all_padding_negative_row_is_finite(tiny):
    batch = make_batch(tiny, B=2, R=16, density=0.8, seed=9)
    batch.neg_tail_ids = torch.randint(5, tiny.vocab_size, (2, 16, 3, 7))
    batch.neg_tail_ids[:, :, 1] = tiny.pad_token_id  # every triple has one empty negative
    torch.manual_seed(0)
    model = GraphMERForPretraining(tiny)
    with torch.autocast("cpu", dtype=torch.float16):
        out = model(batch)
    out.loss.backward()
    assert torch.isfinite(out.loss) and "contrastive" in out.metrics
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


@cuda
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_cuda_memory_efficient_kernel_takes_the_mask(tiny, dtype):
    from torch.nn.attention import SDPBackend, sdpa_kernel

    batch = make_batch(tiny, B=2, R=16, density=0.5, seed=2).to("cuda")
    model = GraphMERForPretraining(tiny).cuda()
    with torch.autocast("cuda", dtype=dtype), sdpa_kernel(SDPBackend.EFFICIENT_ATTENTION):
        out = model(batch)
    out.loss.backward()
    assert torch.isfinite(out.loss)


@cuda
def test_cuda_training_step_has_no_host_sync(tiny):
    """With sizes measured where the batch is made, forward and backward never wait on the GPU."""
    batch = make_batch(tiny, B=2, R=16, density=0.5, seed=3).to("cuda")
    assert batch.sizes is not None
    model = GraphMERForPretraining(tiny).cuda()
    model(batch)  # first call: lazy CUDA initialisation may sync
    torch.cuda.set_sync_debug_mode("error")
    try:
        with torch.autocast("cuda", dtype=torch.bfloat16):
            out = model(batch)
        out.loss.backward()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert torch.isfinite(out.loss)
