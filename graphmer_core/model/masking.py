"""Masking for MLM (whole-identifier spans on roots) and MNM (whole leaf blocks), on batch tensors.

Span masking partitions each sequence's identifiers into consecutive segments with lengths
Geometric(p) capped at max_span (in identifiers, SpanBERT style), then takes segments in random
order until the token budget (rate x real roots) is met, so spans never overlap and the realised
rate stays on budget; a sequence whose budget is under half a segment still gets its first segment,
so short windows are never left without an MLM target. Chosen tokens get 80% [MASK], 10% a random
regular token (ids from `random_low`, default 5: never PAD, CLS, SEP, MASK or UNK), 10% unchanged.
All of it is vectorized over the batch and driven by one seeded torch.Generator.
"""

from __future__ import annotations

import torch
from torch import Tensor


RANDOM_LOW = 5  # the first regular token id (ModelConfig.num_special_tokens)


def replace_80_10_10(ids: Tensor, selected: Tensor, *, mask_id: int, vocab_size: int,
                     generator: torch.Generator, random_low: int = RANDOM_LOW,
                     ignore_index: int = -100) -> tuple[Tensor, Tensor]:
    """ids, selected (same shape) -> (corrupted ids, targets with ignore_index where not selected).
    Random replacements are drawn from [random_low, vocab_size): regular tokens only."""
    if not 0 < random_low < vocab_size:
        raise ValueError(f"random_low={random_low} must be in 1..vocab_size-1: id 0 and the other special "
                         "tokens must never be drawn as random replacements")
    u = torch.rand(ids.shape, generator=generator, device=ids.device)
    rand_tok = torch.randint(random_low, vocab_size, ids.shape, generator=generator, device=ids.device)
    out = torch.where(selected & (u < 0.8), torch.full_like(ids, mask_id), ids)
    out = torch.where(selected & (u >= 0.8) & (u < 0.9), rand_tok, out)
    return out, torch.where(selected, ids, torch.full_like(ids, ignore_index))


def span_mask_roots(root_ids: Tensor, root_mask: Tensor, word_start: Tensor | None = None, *,
                    generator: torch.Generator, rate: float = 0.15, p: float = 0.2,
                    max_span: int = 7) -> Tensor:
    """Choose roots to mask. root_ids (B, R); root_mask (B, R) True = maskable real token;
    word_start (B, R) True at the first token of each identifier (None: every token is one).
    Returns selected (B, R) bool covering whole identifiers, ~rate of the real tokens."""
    B, R = root_ids.shape
    dev = root_ids.device
    if word_start is None:
        word_start = root_mask
    word_start = word_start & root_mask
    word = torch.cumsum(word_start.long(), dim=1) - 1  # (B, R) identifier index of each token
    real = root_mask & (word >= 0)  # tokens before the first word start count as no word
    word = word.clamp(min=0)
    # segment lengths (in identifiers) ~ Geometric(p) on {1, 2, ...}, capped: inverse CDF
    u = torch.rand(B, R, generator=generator, device=dev).clamp(min=1e-12)
    lengths = (torch.floor(torch.log(u) / torch.log1p(torch.tensor(-p))) + 1).clamp(max=max_span).long()
    seg_end = torch.cumsum(lengths, dim=1)  # (B, R) exclusive end word of each segment
    word_seg = torch.searchsorted(seg_end, torch.arange(R, device=dev).expand(B, R).contiguous(), right=True)
    tok_seg = word_seg.gather(1, word)  # (B, R) segment of each token
    seg_tokens = torch.zeros(B, R, device=dev, dtype=torch.long).scatter_add_(1, tok_seg, real.long())
    # random segment order; take segments while the budget is not exceeded by more than half one
    prio = torch.rand(B, R, generator=generator, device=dev).masked_fill(seg_tokens == 0, 2.0)
    order = torch.argsort(prio, dim=1)
    sizes = seg_tokens.gather(1, order)
    before = torch.cumsum(sizes, dim=1) - sizes
    budget = rate * real.sum(1, keepdim=True)
    first = torch.arange(R, device=dev) == 0  # the first segment in random order: at least one target
    take_sorted = ((before + sizes / 2 <= budget) | first) & (sizes > 0)
    take = torch.zeros_like(take_sorted).scatter_(1, order, take_sorted)  # (B, R) per segment
    return take.gather(1, tok_seg) & real


def mask_roots(root_ids: Tensor, root_mask: Tensor, word_start: Tensor | None = None, *,
               mask_id: int, vocab_size: int, generator: torch.Generator, rate: float = 0.15,
               p: float = 0.2, max_span: int = 7, random_low: int = RANDOM_LOW,
               ignore_index: int = -100) -> tuple[Tensor, Tensor]:
    """Span-mask roots -> (corrupted root ids (B, R), mlm targets (B, R))."""
    sel = span_mask_roots(root_ids, root_mask, word_start, generator=generator, rate=rate, p=p,
                          max_span=max_span)
    return replace_80_10_10(root_ids, sel, mask_id=mask_id, vocab_size=vocab_size, generator=generator,
                            random_low=random_low, ignore_index=ignore_index)


def mask_leaf_blocks(leaf_ids: Tensor, leaf_mask: Tensor, *, mask_id: int, vocab_size: int,
                     generator: torch.Generator, prob: float = 0.15, random_low: int = RANDOM_LOW,
                     ignore_index: int = -100) -> tuple[Tensor, Tensor]:
    """MNM: each non-empty leaf block (B, R, 7) is chosen with probability `prob` and all its real
    tail tokens become targets -> (corrupted leaf ids, mnm targets), both (B, R, 7)."""
    block = leaf_mask.any(-1) & (torch.rand(leaf_mask.shape[:2], generator=generator,
                                            device=leaf_ids.device) < prob)  # (B, R)
    sel = block[..., None] & leaf_mask
    return replace_80_10_10(leaf_ids, sel, mask_id=mask_id, vocab_size=vocab_size, generator=generator,
                            random_low=random_low, ignore_index=ignore_index)
