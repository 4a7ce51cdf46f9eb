"""Identifier words in source bytes, with 64-bit polynomial hashes computed by numpy.

A word is a maximal run of identifier bytes (letters, digits, '_', any non-ASCII byte). The same
hash of an entity's name, computed in Python, finds where the name occurs in a file and whether a
tail's name is visible in a window, without a Python loop over the millions of words of a corpus.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from graphmer_core.data.tokenizer import IDENT

_BASE = 1099511628211  # odd, so invertible modulo 2^64
_MASK = (1 << 64) - 1
_INV = pow(_BASE, -1, 1 << 64)


def name_hash(name: str) -> int:
    """The hash `file_words` gives a word spelling `name` (as an int64 bit pattern)."""
    h, p = 0, 1
    for b in name.encode():
        h = (h + (b + 1) * p) & _MASK
        p = (p * _BASE) & _MASK
    return h - (1 << 64) if h >= 1 << 63 else h


def is_identifier(name: str) -> bool:
    data = name.encode()
    return bool(data) and bool(IDENT[np.frombuffer(data, dtype=np.uint8)].all())


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
    ident = IDENT[buf]
    prev = np.concatenate([[False], ident[:-1]])
    nxt = np.concatenate([ident[1:], [False]])
    start = np.flatnonzero(ident & ~prev)
    end = np.flatnonzero(ident & ~nxt) + 1
    # hash = sum (byte + 1) * B^k over a word's bytes: powers up to the longest word, one reduceat
    lengths = end - start
    k = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    with np.errstate(over="ignore"):
        n = int(lengths.max(initial=1))
        powers = np.concatenate([[np.uint64(1)], np.cumprod(np.full(n - 1, _BASE, dtype=np.uint64))])
        terms = (buf[ident].astype(np.uint64) + 1) * powers[k]
    h = np.add.reduceat(terms, np.cumsum(lengths) - lengths) if len(lengths) else np.zeros(0, np.uint64)
    return Words(start.astype(np.int64), end.astype(np.int64), h.view(np.int64))


def span_hashes(buf: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """(N,) int64 hash of each byte span buf[start:end], equal to name_hash of its text."""
    with np.errstate(over="ignore"):
        powers = np.cumprod(np.full(len(buf), _BASE, dtype=np.uint64))
        powers = np.concatenate([[np.uint64(1)], powers[:-1]])  # B^k
        inv = np.cumprod(np.full(len(buf), _INV, dtype=np.uint64))
        inv = np.concatenate([[np.uint64(1)], inv[:-1]])  # B^-k
        prefix = np.concatenate([[np.uint64(0)], np.cumsum((buf.astype(np.uint64) + 1) * powers)])
        h = (prefix[end] - prefix[start]) * inv[start.clip(max=max(len(buf) - 1, 0))]
    return h.view(np.int64)
