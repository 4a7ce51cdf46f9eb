"""Windows cut for all files at once equal the per-file rule; tiktoken encodes as `tokenizers` does."""

from __future__ import annotations

import numpy as np
import pytest

from graphmer_core.data import store
from graphmer_core.data.leafy_chain import cut_windows
from graphmer_core.data.tokenizer import encode, fast_encoding, train_tokenizer


def windows_file_by_file(file_offsets: np.ndarray, newline: np.ndarray, R: int):
    """The rule, one file and one window at a time: cut at a line start in the second half of the
    window, and end a long file with a full window (moved to a near line start) if it adds tokens."""
    line_starts = np.flatnonzero(newline) + 1
    starts, ends = [], []
    for a, b in zip(file_offsets[:-1].tolist(), file_offsets[1:].tolist(), strict=True):
        if 0 < b - a <= R:
            starts.append(a)
            ends.append(b)
        if b - a <= R:
            continue
        s = a
        while b - s > R:
            inside = [x for x in line_starts.tolist() if x <= s + R]
            e = inside[-1] if inside and inside[-1] > s + R // 2 else s + R
            starts.append(s)
            ends.append(e)
            s = e
        last = b - R
        after = [x for x in line_starts.tolist() if x >= last]
        if after and after[0] < last + R // 2:
            last = after[0]
        if last > starts[-1]:
            starts.append(last)
            ends.append(b)
    return starts, ends


@pytest.mark.parametrize("seed", range(40))
def test_windows_of_all_files_at_once_equal_the_file_by_file_rule(seed):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(0, 300, rng.integers(1, 12))
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    newline = rng.random(int(offsets[-1])) < rng.choice([0.0, 0.03, 0.2, 0.6])
    R = int(rng.choice([8, 16, 64]))
    starts, ends = cut_windows(offsets, newline, R)
    assert (starts.tolist(), ends.tolist()) == windows_file_by_file(offsets, newline, R)


def test_tiktoken_gives_the_tokenizers_ids_on_real_code(email_dataset):
    ds = store.open_dataset(email_dataset.path)
    tok = ds.tokenizer()
    tok.encode_special_tokens = True
    roots = {c["name"]: c["root"] for c in ds.manifest["corpora"]}
    paths = ds.splits_table.select(["corpus", "path"]).to_pylist()
    texts = [open(f"{roots[p['corpus']]}/{p['path']}", encoding="utf-8").read() for p in paths]
    texts.append("x = '[MASK]'  # a literal special token is text\n" * 3)
    assert fast_encoding(tok) is not None
    fast = encode(tok, texts)
    assert [x.tolist() for x in fast] == [e.ids for e in tok.encode_batch_fast(texts)]


def test_a_tokenizer_that_reads_special_tokens_is_not_given_to_tiktoken():
    tok = train_tokenizer(["def f(x):\n    return x\n"] * 20, 300)
    tok.encode_special_tokens = False
    assert fast_encoding(tok) is None
    text = "a = '[MASK]'\n" * 100
    assert encode(tok, [text])[0].tolist() == tok.encode(text).ids


def test_name_hashes_match_the_words_found_in_source():
    from graphmer_core.data.words import file_words, identifier_hashes, name_hash

    names = ["parse", "", "a.b", "héllo", "x1_y", "<init>", "List", "a b", "_"]
    want = [name_hash(n) if n and all(c.isalnum() or c == "_" or ord(c) > 127 for c in n) else 0 for n in names]
    assert identifier_hashes(names).tolist() == want
    words = file_words("def parse(x1_y): return héllo.List\n".encode())
    assert {name_hash(n) for n in ("parse", "x1_y", "héllo", "List")} <= set(words.hash.tolist())


def test_names_encoded_joined_keep_each_names_own_ids(email_dataset):
    """The entity names of a real KG, plus texts at the edges of GPT-2's split (whitespace at either
    end, carriage returns, contractions, digits, non-ASCII, empty), joined for one tiktoken call,
    give exactly the ids each gets alone from `tokenizers`."""
    import pyarrow.parquet as pq

    from graphmer_core.data.tokenizer import _encode_joined

    ds = store.open_dataset(email_dataset.path)
    tok = ds.tokenizer()
    tok.encode_special_tokens = True
    names = pq.read_table(ds.dir / store.ENTITIES_FILE, columns=["display"]).column("display").to_pylist()
    edges = ["", " lead", "  two", "trail ", "trail  ", "cr\r", "\rcr", "it's", "'s", "s", "x1 2", "ünï",
             "a\tb", "tab\t", "\u00a0nbsp", "nbsp\u00a0", "\u2028", "x = [MASK]", "[CLS]", "a\nb", "z",
             "<|graphmer: not a token|>", "s = '<|graphmer: not a token|>'\n"]
    texts = names + edges + names[:50]
    enc = fast_encoding(tok)
    joined = _encode_joined(enc, texts)
    assert [x.tolist() for x in joined] == [e.ids for e in tok.encode_batch_fast(texts)]
    assert [x.dtype for x in joined] == [np.dtype(np.int32)] * len(texts)
