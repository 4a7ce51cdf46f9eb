"""Identifier words in source bytes, with 64-bit polynomial hashes computed by numpy.

A word is a maximal run of identifier bytes (letters, digits, '_', any non-ASCII byte). The same
hash of an entity's name, computed in Python, finds where the name occurs in a file and whether a
tail's name is visible in a window, without a Python loop over the millions of words of a corpus.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from graphmer_core.data.tokenizer import IDENT

HASH_BASE = 1099511628211  # the polynomial hashes' base (words here, windows in leaks.py); odd: invertible mod 2^64
_MASK = (1 << 64) - 1
_INV = pow(HASH_BASE, -1, 1 << 64)


def name_hash(name: str) -> int:
    """The hash `file_words` gives a word spelling `name` (as an int64 bit pattern)."""
    h, p = 0, 1
    for b in name.encode():
        h = (h + (b + 1) * p) & _MASK
        p = (p * HASH_BASE) & _MASK
    return h - (1 << 64) if h >= 1 << 63 else h


def identifier_hashes(names: list[str]) -> np.ndarray:
    """(N,) `name_hash` of each name that is one identifier word, 0 for the others; one numpy pass."""
    data = [n.encode() for n in names]
    lengths = np.array([len(d) for d in data], dtype=np.int64)
    start = np.cumsum(lengths + 1) - lengths - 1  # names joined by one separator byte
    buf = np.frombuffer(b"\0".join(data), dtype=np.uint8)
    if not len(buf):
        return np.zeros(len(names), dtype=np.int64)
    non_ident = np.concatenate([[0], np.cumsum(~IDENT[buf])])
    word = (lengths > 0) & (non_ident[start + lengths] == non_ident[start])
    return np.where(word, span_hashes(buf, start, start + lengths), 0)


@dataclass(frozen=True)
class Words:
    start: np.ndarray  # (W,) int64 byte offset of each word
    end: np.ndarray  # (W,) int64 exclusive
    hash: np.ndarray  # (W,) int64


def file_words(text: bytes) -> Words:
    buf = np.frombuffer(text, dtype=np.uint8)
    if not len(buf):
        e = np.zeros(0, dtype=np.int64)
        return Words(e, e, e)
    # +1 where a run of identifier bytes starts, -1 one past where it ends
    edge = np.diff(IDENT[buf].view(np.int8), prepend=np.int8(0), append=np.int8(0))
    start = np.flatnonzero(edge == 1)
    end = np.flatnonzero(edge == -1)
    return Words(start, end, span_hashes(buf, start, end))


_POWERS: tuple[np.ndarray, np.ndarray] = (np.ones(1, dtype=np.uint64), np.ones(1, dtype=np.uint64))  # B^k, B^-k


def _powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    """B^k and B^-k for k < n (at least), computed once and grown by doubling; replaced as one
    tuple, so threads hashing at once never see one grown and the other not."""
    global _POWERS
    powers = _POWERS
    if len(powers[0]) < n:
        size = max(n, 2 * len(powers[0]))
        grown = []
        with np.errstate(over="ignore"):
            for base in (HASH_BASE, _INV):
                p = np.empty(size, dtype=np.uint64)
                p[0] = 1
                np.cumprod(np.full(size - 1, base, dtype=np.uint64), out=p[1:])
                grown.append(p)
        powers = _POWERS = (grown[0], grown[1])
    return powers


def span_hashes(buf: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """(N,) int64 hash of each byte span buf[start:end], equal to name_hash of its text."""
    powers, inv = _powers(len(buf) + 1)
    with np.errstate(over="ignore"):
        prefix = np.zeros(len(buf) + 1, dtype=np.uint64)
        np.cumsum((buf.astype(np.uint64) + 1) * powers[:len(buf)], out=prefix[1:])
        h = (prefix[end] - prefix[start]) * inv[start]
    return h.view(np.int64)
