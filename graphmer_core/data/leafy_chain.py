"""Leafy-chain sequences cut from token streams at load time, so the curriculum can change R.

A window is up to R consecutive tokens of one file, cut at line starts where one lies in the
window's second half; a file longer than R ends with a full window that overlaps its
predecessor, so no window is a stray `}`. Each head occurrence in a window gets one of its
triples, drawn afresh every step with weights that balance the relations: a triple of relation r
is drawn with weight 1 / (number of placed triples of r), so `contains` and `calls` do not drown
`raises` or `implements`. The tail's name tokens fill the root's leaf slots (left-aligned).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import numpy as np

L = 7  # leaf slots per root: model.config.LEAVES_PER_ROOT (not imported: building data needs no torch)


def cut_windows(file_offsets: np.ndarray, newline: np.ndarray, R: int) -> tuple[np.ndarray, np.ndarray]:
    """(starts, ends) int64 of every window of every file, in file order. All files advance together,
    one window per round, so the Python loop runs as many times as the longest file has windows."""
    a, b = np.asarray(file_offsets[:-1], np.int64), np.asarray(file_offsets[1:], np.int64)
    line_starts = np.flatnonzero(newline) + 1  # the token after a line break starts a line
    short = np.flatnonzero((b > a) & (b - a <= R))
    long = np.flatnonzero(b - a > R)
    starts, ends = [a[short]], [b[short]]
    s, prev = a.copy(), a.copy()  # where each file's next window starts; its latest window's start
    active = long
    while active.size:
        if active.size <= FEW_FILES:  # a few long files left: window by window, in Python
            for f in active.tolist():
                starts_f, ends_f = _chain(line_starts, int(s[f]), int(b[f]), R)
                starts.append(starts_f)
                ends.append(ends_f)
                prev[f] = starts_f[-1]
            break
        here = s[active]
        j = np.searchsorted(line_starts, here + R, side="right") - 1
        at = line_starts[j.clip(min=0)] if len(line_starts) else here
        e = np.where((j >= 0) & (at > here + R // 2), at, here + R)
        starts.append(here)
        ends.append(e)
        prev[active], s[active] = here, e
        active = active[b[active] - e > R]
    # a full last window, moved forward to a line start if one is near, unless it adds nothing
    last = b[long] - R
    j = np.searchsorted(line_starts, last, side="left")
    near = j < len(line_starts)
    at = line_starts[j.clip(max=max(len(line_starts) - 1, 0))] if len(line_starts) else last
    last = np.where(near & (at < last + R // 2), at, last)
    keep = last > prev[long]
    starts.append(last[keep])
    ends.append(b[long][keep])
    starts_, ends_ = np.concatenate(starts), np.concatenate(ends)
    order = np.argsort(starts_, kind="stable")  # files are disjoint ranges: start order is file order
    return starts_[order].astype(np.int64), ends_[order].astype(np.int64)


FEW_FILES = 8  # below this many files still in the chain, numpy's per-call cost exceeds a Python loop's


def _chain(line_starts: np.ndarray, here: int, end: int, R: int) -> tuple[np.ndarray, np.ndarray]:
    """The rest of one file's chain of windows from `here` (end - here > R), as the rounds of
    cut_windows would cut it: each window ends at the last line start in its second half, else after
    R tokens, until what is left fits in R. Only the file's own line starts can qualify."""
    lo, hi = np.searchsorted(line_starts, [here, end])
    ls = line_starts[lo:hi].tolist()
    out_s, out_e = [], []
    while True:
        j = bisect.bisect_right(ls, here + R) - 1
        e = ls[j] if j >= 0 and ls[j] > here + R // 2 else here + R
        out_s.append(here)
        out_e.append(e)
        here = e
        if end - e <= R:
            return np.array(out_s, dtype=np.int64), np.array(out_e, dtype=np.int64)


@dataclass
class TripleIndex:
    """The placed triples of one split, sorted by head, with relation-balanced draw weights."""

    head_offsets: np.ndarray  # (E+1,) int64: triples of entity h are [head_offsets[h], head_offsets[h+1])
    relation: np.ndarray  # (N,) int64
    tail: np.ndarray  # (N,) int64
    cum_weight: np.ndarray  # (N,) float64 running sum of the draw weights
    row: np.ndarray  # (N,) int64 row in the dataset's triples table

    @classmethod
    def build(cls, head: np.ndarray, relation: np.ndarray, tail: np.ndarray, row: np.ndarray,
              num_entities: int, num_relations: int) -> TripleIndex:
        order = np.lexsort((row, head))
        head, relation, tail, row = head[order], relation[order], tail[order], row[order]
        counts = np.bincount(relation, minlength=num_relations).astype(np.float64)
        weight = 1.0 / np.maximum(counts, 1.0)
        offsets = np.searchsorted(head, np.arange(num_entities + 1))
        return cls(offsets.astype(np.int64), relation.astype(np.int64), tail.astype(np.int64),
                   np.cumsum(weight[relation]), row.astype(np.int64))

    def draw(self, heads: np.ndarray, u: np.ndarray) -> np.ndarray:
        """One triple index per head (each head must have at least one), drawn by weight; u ~ U[0,1)."""
        lo, hi = self.head_offsets[heads], self.head_offsets[heads + 1]
        before = np.where(lo > 0, self.cum_weight[(lo - 1).clip(min=0)], 0.0)
        total = self.cum_weight[hi - 1] - before
        pick = np.searchsorted(self.cum_weight, before + u * total, side="right")
        return pick.clip(lo, hi - 1)


@dataclass
class Window:
    """Root-level arrays of a batch of windows."""

    root_ids: np.ndarray  # (B, R) int64, PAD beyond the window
    root_mask: np.ndarray  # (B, R) bool
    word_start: np.ndarray  # (B, R) bool
    word: np.ndarray  # (B, R) int32 identifier word id, -1 = none


def window_arrays(tokens: np.ndarray, word_start: np.ndarray, word: np.ndarray, starts: np.ndarray,
                  ends: np.ndarray, R: int, pad_id: int = 0) -> Window:
    idx = starts[:, None] + np.arange(R)[None, :]
    valid = idx < ends[:, None]
    idx = np.where(valid, idx, 0)
    return Window(np.where(valid, tokens[idx], pad_id).astype(np.int64), valid,
                  word_start[idx] & valid, np.where(valid, word[idx], -1))


def occurrences_in(occ_pos: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(window index, occurrence index) of every occurrence inside each window."""
    lo, hi = np.searchsorted(occ_pos, starts), np.searchsorted(occ_pos, ends)
    counts = hi - lo
    win = np.repeat(np.arange(len(starts)), counts)
    occ = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts) + np.repeat(lo, counts)
    return win, occ


def words_in_windows(word: np.ndarray, win: np.ndarray, tail_word: np.ndarray) -> np.ndarray:
    """(N,) bool: tail_word[n] is one of the identifier words of window win[n]. word (B, R)."""
    b = np.broadcast_to(np.arange(word.shape[0])[:, None], word.shape)
    has = word >= 0
    keys = np.unique((b[has].astype(np.int64) << 32) | word[has].astype(np.int64))
    q = (win.astype(np.int64) << 32) | tail_word.astype(np.int64)
    i = np.searchsorted(keys, q).clip(max=max(len(keys) - 1, 0))
    return (tail_word >= 0) & (len(keys) > 0) & (keys[i] == q if len(keys) else False)


@dataclass
class Leaves:
    """Leaf-level arrays of a batch: one triple at each root where a head occurs."""

    leaf_ids: np.ndarray  # (B, R, 7) int64
    leaf_mask: np.ndarray  # (B, R, 7) bool
    relation_ids: np.ndarray  # (B, R) int64, 0 = none
    head_span: np.ndarray  # (B, R) int64
    head: np.ndarray  # (B, R) int64 entity index, -1 = none
    tail: np.ndarray  # (B, R) int64 entity index, -1 = none
    triple: np.ndarray  # (B, R) int64 row in the dataset's triples table, -1 = none
    in_window: np.ndarray  # (B, R) bool: the tail's name is among the window's words


def attach(window: Window, starts: np.ndarray, ends: np.ndarray, occ_pos: np.ndarray, occ_span: np.ndarray,
           occ_entity: np.ndarray, triples: TripleIndex, tail_tokens: np.ndarray, tail_len: np.ndarray,
           name_word: np.ndarray, rng: np.random.Generator, pad_id: int = 0) -> Leaves:
    B, R = window.root_ids.shape
    win, occ = occurrences_in(occ_pos, starts, ends)
    heads = occ_entity[occ].astype(np.int64)
    placed = triples.head_offsets[heads + 1] > triples.head_offsets[heads]
    win, occ, heads = win[placed], occ[placed], heads[placed]
    pick = triples.draw(heads, rng.random(len(heads)))
    rel, tail = triples.relation[pick], triples.tail[pick]
    r = occ_pos[occ] - starts[win]

    out = Leaves(
        leaf_ids=np.full((B, R, L), pad_id, dtype=np.int64), leaf_mask=np.zeros((B, R, L), dtype=bool),
        relation_ids=np.zeros((B, R), dtype=np.int64), head_span=np.zeros((B, R), dtype=np.int64),
        head=np.full((B, R), -1, dtype=np.int64), tail=np.full((B, R), -1, dtype=np.int64),
        triple=np.full((B, R), -1, dtype=np.int64), in_window=np.zeros((B, R), dtype=bool))
    mask = np.arange(L)[None, :] < tail_len[tail][:, None]
    out.leaf_ids[win, r] = np.where(mask, tail_tokens[tail], pad_id)
    out.leaf_mask[win, r] = mask
    out.relation_ids[win, r] = rel
    out.head_span[win, r] = np.minimum(occ_span[occ], ends[win] - occ_pos[occ])
    out.head[win, r], out.tail[win, r], out.triple[win, r] = heads, tail, triples.row[pick]
    out.in_window[win, r] = words_in_windows(window.word, win, name_word[tail])
    return out
