"""Byte-level BPE for code, trained with Hugging Face `tokenizers` on the training split only.

Byte-level BPE is lossless (indentation and newlines stay), so a token's text is a fixed string of
bytes and a file's token texts concatenate back to the file. That gives offsets for free: per-id
tables (byte length, leading whitespace, first byte, newline) turn a token-id stream into
identifier boundaries with numpy, without asking the tokenizer for offsets.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

SPECIAL_TOKENS = ("[PAD]", "[CLS]", "[SEP]", "[MASK]", "[UNK]")  # ids 0..4, in this order
PAD_ID, CLS_ID, SEP_ID, MASK_ID, UNK_ID = range(len(SPECIAL_TOKENS))
NUM_SPECIAL = len(SPECIAL_TOKENS)


def train_tokenizer(texts: Iterable[str], vocab_size: int):
    """A byte-level BPE (GPT-2 pre-tokenisation, no prefix space) learned from `texts`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer)
    for i, name in enumerate(SPECIAL_TOKENS):
        if tok.token_to_id(name) != i:
            raise RuntimeError(f"special token {name} got id {tok.token_to_id(name)}, expected {i}")
    return tok


def load_tokenizer(path: Path):
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(path))


def _byte_decoder() -> dict[str, int]:
    """The inverse of GPT-2's bytes -> printable characters map used by byte-level BPE."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs, strict=True)}


# Byte classes: identifier bytes (letters, digits, '_', and every byte of a non-ASCII character).
IDENT = np.zeros(256, dtype=bool)
IDENT[[*range(48, 58), *range(65, 91), *range(97, 123), 95, *range(128, 256)]] = True
WHITESPACE = np.zeros(256, dtype=bool)
WHITESPACE[[9, 10, 11, 12, 13, 32]] = True


@dataclass(frozen=True)
class TokenTables:
    """Per token id: its bytes' length, leading whitespace bytes, first non-whitespace byte, and
    whether it holds a newline. Special tokens have length 0."""

    byte_len: np.ndarray  # (V,) int32
    lead_ws: np.ndarray  # (V,) int32
    first: np.ndarray  # (V,) int16, -1 if the token is all whitespace
    newline: np.ndarray  # (V,) bool
    token_bytes: list[bytes]

    @functools.cached_property
    def starts_ident(self) -> np.ndarray:
        """(V,) bool: the token's first byte is an identifier byte (no whitespace before it)."""
        return (self.first >= 0) & IDENT[self.first.clip(0, 255)] & (self.lead_ws == 0)

    @classmethod
    def of(cls, tok) -> TokenTables:
        dec = _byte_decoder()
        vocab = tok.get_vocab()
        V = tok.get_vocab_size()
        raw = [b""] * V
        for s, i in vocab.items():
            if i >= NUM_SPECIAL:
                raw[i] = bytes(dec[c] for c in s)
        byte_len = np.array([len(b) for b in raw], dtype=np.int32)
        lead = np.array([len(b) - len(b.lstrip(b" \t\n\r\x0b\x0c")) for b in raw], dtype=np.int32)
        first = np.array([b[k] if k < len(b) else -1 for b, k in zip(raw, lead, strict=True)], dtype=np.int16)
        newline = np.array([b"\n" in b for b in raw], dtype=bool)
        return cls(byte_len, lead, first, newline, raw)

    def decode_bytes(self, ids: np.ndarray) -> bytes:
        return b"".join(self.token_bytes[i] for i in ids)


GPT2_SPLIT = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
PROBE_BYTES = 1 << 20  # texts both encoders must agree on before tiktoken encodes the rest:
PROBE_TEXTS = 2048  # at most this much, and this many
_fast: dict[tuple, tuple[object, object]] = {}  # (id, specials as text) -> (tokenizer, encoding or None)


def fast_encoding(tok):
    """The same BPE as a `tiktoken` encoding (ranks = token ids, which `BpeTrainer` hands out in merge
    order; GPT-2's split pattern), ~3x faster than `tokenizers`' encoder on code. None when `tok` is
    not the plain byte-level BPE `train_tokenizer` makes, or when a literal special token in the text
    would be read as the special token."""
    import json

    key = (id(tok), tok.encode_special_tokens)
    if key in _fast and _fast[key][0] is tok:
        return _fast[key][1]
    spec = json.loads(tok.to_str())
    pre = spec.get("pre_tokenizer") or {}
    plain = (spec["model"].get("type") == "BPE" and spec.get("normalizer") is None
             and pre.get("type") == "ByteLevel" and pre.get("use_regex", True) and not pre.get("add_prefix_space")
             and tok.encode_special_tokens and len(spec.get("added_tokens", [])) == NUM_SPECIAL)
    enc = None
    if plain:
        import tiktoken

        dec = _byte_decoder()
        ranks = {bytes(dec[c] for c in s): i for s, i in tok.get_vocab().items() if i >= NUM_SPECIAL}
        # one special token that is never allowed: `encode_to_numpy` then scans for it with a plain
        # literal search (with none, its special-token loop tries an empty pattern at every character)
        enc = tiktoken.Encoding(f"graphmer-{id(tok)}", pat_str=GPT2_SPLIT, mergeable_ranks=ranks,
                                special_tokens={NEVER_SPECIAL: max(ranks.values()) + 1})
    _fast[key] = (tok, enc)
    return enc


class Encoder(NamedTuple):
    run: Callable[[list[str]], list[np.ndarray]]  # texts -> int32 ids of each
    one_thread: bool  # `run` works on the calling thread (callers spread it over threads themselves)


def encoder(tok, texts: list[str]) -> Encoder:
    """How to encode texts like `texts`: tiktoken's encoder (one thread per call, GIL released) when
    it gives `tok`'s ids on a probe of them (evenly spread, at most PROBE_BYTES and PROBE_TEXTS);
    else `tok`'s batch encoder, which spreads over every core by itself."""
    enc = fast_encoding(tok)
    if enc is not None and texts:
        total = sum(len(t) for t in texts)
        probe = texts[::max(1, round(total / PROBE_BYTES), len(texts) // PROBE_TEXTS)]
        if [e.ids for e in tok.encode_batch_fast(probe)] == [_ids(enc, t).tolist() for t in probe]:
            return Encoder(functools.partial(_encode_joined, enc), True)
        _fast[(id(tok), tok.encode_special_tokens)] = (tok, None)
    return Encoder(lambda part: [np.asarray(e.ids, dtype=np.int32) for e in tok.encode_batch_fast(part)], False)


NEVER_SPECIAL = "<|graphmer: not a token|>"


def token_dtype(vocab_size: int) -> np.dtype:
    """The narrowest dtype of a token stream: uint16 for vocabularies up to 65,536 (the profiles'
    8k-32k), half the bytes to copy, write and hash of int32."""
    return np.dtype(np.uint16 if vocab_size <= 1 << 16 else np.int32)


def _ids(enc, text: str) -> np.ndarray:
    """tiktoken's ids of `text` as int32, straight from its buffer (no list of Python ints, which
    is built holding the GIL). NEVER_SPECIAL is not allowed, so where it is written it is text, as
    in encode_ordinary."""
    return enc.encode_to_numpy(text, disallowed_special=()).view(np.int32)


def _encode_joined(enc, texts: list[str]) -> list[np.ndarray]:
    """tiktoken ids of each text. Texts with no line break that do not start with whitespace are
    encoded as one string joined by newlines: GPT-2's split never joins a newline to the next
    text's first piece or to the previous text's last, so each text keeps its own ids, and one call
    replaces thousands (names: ~2.5x faster). Checked: the joins must give exactly one newline id per
    separator, else each text is encoded alone."""
    out: list[np.ndarray | None] = [None] * len(texts)
    joinable = [i for i, t in enumerate(texts) if t and "\n" not in t and not t[0].isspace()]
    if len(joinable) > 1:
        ids = _ids(enc, "\n".join(texts[i] for i in joinable))
        cuts = np.flatnonzero(ids == enc.encode_single_token(b"\n"))
        if len(cuts) == len(joinable) - 1:
            bounds = zip([0, *(cuts + 1).tolist()], [*cuts.tolist(), len(ids)], strict=True)
            for i, (a, b) in zip(joinable, bounds, strict=True):
                out[i] = ids[a:b]
    return [_ids(enc, t) if ids is None else ids
            for t, ids in zip(texts, out, strict=True)]


def encode(tok, texts: list[str]) -> list[np.ndarray]:
    """Token ids of each text (int32), on every core: a one-thread encoder gets runs of texts of
    about equal size per thread (not a task per text)."""
    from concurrent.futures import ThreadPoolExecutor

    run, one_thread = encoder(tok, texts)
    if not one_thread:
        return run(texts)
    threads = os.cpu_count() or 1
    sizes = np.cumsum([len(t) for t in texts])
    cuts = np.searchsorted(sizes, np.linspace(0, sizes[-1], 4 * threads + 1)[1:-1], side="right")
    runs = [texts[a:b] for a, b in zip([0, *cuts], [*cuts, len(texts)], strict=True) if b > a]
    with ThreadPoolExecutor(threads) as pool:
        return [ids for part in pool.map(run, runs) for ids in part]
