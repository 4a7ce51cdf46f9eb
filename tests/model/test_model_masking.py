import pytest
import torch

from graphmer_core.model.masking import mask_leaf_blocks, mask_roots, replace_80_10_10, span_mask_roots

MASK, V = 3, 1000


def words_batch(B=64, R=128, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, V, (B, R), generator=g)
    real = torch.arange(R) < torch.randint(R // 2, R + 1, (B, 1), generator=g)  # right padding
    word_start = torch.rand(B, R, generator=g) < 0.5  # identifiers of ~2 tokens
    word_start[:, 0] = True
    return ids, real, word_start


def test_span_masking_rate_whole_words_and_no_padding():
    ids, real, ws = words_batch()
    g = torch.Generator().manual_seed(1)
    rates, runs = [], []
    word = torch.cumsum(ws.long(), 1) - 1
    first = torch.cummax(torch.where(ws, torch.arange(128), 0), dim=1).values  # first token of each word
    for _ in range(30):
        sel = span_mask_roots(ids, real, ws, generator=g)
        assert not (sel & ~real).any()
        assert torch.equal(sel, sel.gather(1, first) & real)  # a word is all in or all out
        rates.append(sel.sum().item() / real.sum().item())
        # masked words per contiguous run of masked words
        wsel = torch.zeros(64, 129, dtype=torch.bool).scatter_(1, word.clamp(min=0), sel)[:, :128]
        starts = (wsel & ~torch.nn.functional.pad(wsel, (1, 0))[:, :-1]).sum().item()
        runs.append(wsel.sum().item() / max(starts, 1))
    mean = sum(rates) / len(rates)
    assert abs(mean - 0.15) < 0.01, mean
    assert 2.0 < sum(runs) / len(runs) < 8.0  # spans of several identifiers (Geometric(0.2), cap 7)


def test_mask_roots_80_10_10_and_targets():
    ids, real, ws = words_batch(B=256)
    g = torch.Generator().manual_seed(2)
    out, tgt = mask_roots(ids, real, ws, mask_id=MASK, vocab_size=V, generator=g, random_low=5)
    sel = tgt != -100
    assert torch.equal(tgt[sel], ids[sel]) and torch.equal(out[~sel], ids[~sel])
    n = sel.sum().item()
    frac_mask = (out[sel] == MASK).sum().item() / n
    frac_same = (out[sel] == ids[sel]).sum().item() / n
    assert abs(frac_mask - 0.8) < 0.02 and abs(frac_same - 0.1) < 0.02
    assert abs(1 - frac_mask - frac_same - 0.1) < 0.02


def test_leaf_block_masking_rate_whole_blocks_never_padding():
    g = torch.Generator().manual_seed(3)
    B, R = 64, 128
    n = torch.randint(0, 8, (B, R), generator=g)
    leaf_mask = torch.arange(7) < n[..., None]
    ids = torch.randint(5, V, (B, R, 7), generator=g).masked_fill(~leaf_mask, 0)
    blocks = leaf_mask.any(-1)
    rates = []
    for _ in range(20):
        out, tgt = mask_leaf_blocks(ids, leaf_mask, mask_id=MASK, vocab_size=V, generator=g)
        sel = tgt != -100
        assert not (sel & ~leaf_mask).any()
        chosen = sel.any(-1)
        assert torch.equal(sel, chosen[..., None] & leaf_mask)  # whole blocks
        rates.append(chosen[blocks].float().mean().item())
    assert abs(sum(rates) / len(rates) - 0.15) < 0.01


def test_seeded_and_reproducible():
    ids, real, ws = words_batch(B=4)
    a = mask_roots(ids, real, ws, mask_id=MASK, vocab_size=V, generator=torch.Generator().manual_seed(7))
    b = mask_roots(ids, real, ws, mask_id=MASK, vocab_size=V, generator=torch.Generator().manual_seed(7))
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


def test_replace_leaves_unselected_alone():
    ids = torch.arange(10)
    out, tgt = replace_80_10_10(ids, torch.zeros(10, dtype=torch.bool), mask_id=MASK, vocab_size=V,
                                generator=torch.Generator().manual_seed(0))
    assert torch.equal(out, ids) and (tgt == -100).all()


def test_random_replacement_never_draws_a_special_token():
    ids = torch.randint(5, 8, (4096,), generator=torch.Generator().manual_seed(4))
    out, tgt = replace_80_10_10(ids, torch.ones_like(ids, dtype=torch.bool), mask_id=MASK, vocab_size=8,
                                generator=torch.Generator().manual_seed(5))
    replaced = out[(out != MASK) & (out != ids)]
    assert replaced.numel() > 100 and (replaced >= 5).all()
    assert ((out == MASK) | (out >= 5)).all()
    with pytest.raises(ValueError, match="random_low"):
        replace_80_10_10(ids, ids > 0, mask_id=MASK, vocab_size=8, generator=torch.Generator(), random_low=0)


def test_short_sequences_still_get_a_target():
    B, R = 64, 16
    g = torch.Generator().manual_seed(6)
    ids = torch.randint(5, V, (B, R), generator=g)
    real = torch.arange(R) < torch.randint(1, 6, (B, 1), generator=g)  # 1 to 5 real tokens: budget < 1
    for _ in range(10):
        sel = span_mask_roots(ids, real, generator=g)
        assert sel.any(1).all() and not (sel & ~real).any()
