"""Token streams of the source files, and where the KG's heads occur in them.

For each file: BPE ids, word starts (for whole-identifier MLM), newline tokens (windows are cut
at line starts), and the identifier word each token belongs to. A head occurs where its name is
written at a place the KG vouches for:

  - its definition: the first time its name appears from its start line on (after decorators or
    annotations), within its own span;
  - the evidence line of a triple it heads;
  - the evidence line of a triple whose tail it is: the resolver followed that reference to it.

Everything here is vectorised over all files at once with composite int64 keys.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from graphmer_core.data.sources import Source
from graphmer_core.data.tokenizer import IDENT, TokenTables, encoder, token_dtype
from graphmer_core.data.words import file_words, identifier_hashes
from graphmer_core.kg import ontology

# Relation vocabulary of every dataset and model: id 0 = no leaf, then the ontology's relations.
RELATIONS: tuple[str, ...] = ("<none>", *ontology.RELATION_NAMES)
KINDS: tuple[str, ...] = ontology.ENTITY_KINDS
MEMBER_KINDS = frozenset({ontology.METHOD, ontology.FIELD})
DEFINITION_LOOKAHEAD = 12  # lines after an entity's start line in which its name is looked for


@dataclass
class Streams:
    """All files' token streams, concatenated in file order."""

    tokens: np.ndarray  # (T,) uint16 where the vocabulary fits (token_dtype), else int32
    word_start: np.ndarray  # (T,) bool
    newline: np.ndarray  # (T,) bool: the token holds a line break
    word: np.ndarray  # (T,) int32 global word id of the identifier the token is part of, -1 = none
    file_offsets: np.ndarray  # (F+1,) int64
    word_hashes: np.ndarray  # (Wu,) int64 sorted: word id -> hash
    # every identifier word: file, global word id, line, first token (global), span in tokens
    w_file: np.ndarray
    w_id: np.ndarray
    w_line: np.ndarray
    w_tok: np.ndarray
    w_span: np.ndarray

    def word_id_of(self, hashes: np.ndarray) -> np.ndarray:
        """Global word ids of name hashes; -1 where no file contains that word."""
        if not len(self.word_hashes):
            return np.full(len(hashes), -1, dtype=np.int32)
        i = np.searchsorted(self.word_hashes, hashes).clip(max=len(self.word_hashes) - 1)
        return np.where(self.word_hashes[i] == hashes, i, -1).astype(np.int32)


BATCH_BYTES = 1 << 20  # files are encoded and annotated in batches of this many bytes: few numpy passes, and
# enough batches (57 on the default corpora) that both threads stay busy to the end


def tokenize_sources(tok, files: list[Source]) -> Streams:
    """Encode and annotate the files batch by batch (files joined by a newline, which no identifier
    crosses), so the numpy work is a few passes, not one per file. Batches run on a thread per
    core (the encoders and numpy's large-array work release the GIL), and so does the merge: each
    batch finds its own distinct words and fills its slice of the output arrays."""
    from concurrent.futures import ThreadPoolExecutor

    tables = TokenTables.of(tok)
    run = encoder(tok, [f.text for f in files]).run
    bounds, lo = [], 0
    while lo < len(files):
        hi, size = lo, 0
        while hi < len(files) and (hi == lo or size < BATCH_BYTES):
            size += len(files[hi].text)
            hi += 1
        bounds.append((lo, hi))
        lo = hi

    def batch(lo_hi: tuple[int, int]) -> dict:
        lo, hi = lo_hi
        ids = run([f.text for f in files[lo:hi]])
        part = _annotate(files[lo:hi], ids, tables, lo)
        part["uniq"], part["w_local"] = np.unique(part["w_hash"], return_inverse=True)
        return {**part, "counts": [len(x) for x in ids]}

    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        parts = list(pool.map(batch, bounds))
        uniq = np.unique(np.concatenate([p["uniq"] for p in parts])) if parts else np.zeros(0, np.int64)
        T = np.cumsum([0] + [len(p["tokens"]) for p in parts])
        W = np.cumsum([0] + [len(p["w_hash"]) for p in parts])
        out = Streams(
            tokens=np.empty(T[-1], token_dtype(tok.get_vocab_size())), word_start=np.empty(T[-1], bool),
            newline=np.empty(T[-1], bool), word=np.empty(T[-1], np.int32),
            file_offsets=np.concatenate([[0], np.cumsum([n for p in parts for n in p["counts"]])]).astype(np.int64),
            word_hashes=uniq, w_file=np.empty(W[-1], np.int32), w_id=np.empty(W[-1], np.int32),
            w_line=np.empty(W[-1], np.int64), w_tok=np.empty(W[-1], np.int64), w_span=np.empty(W[-1], np.int64))

        def fill(k: int) -> None:
            p, t, w = parts[k], slice(T[k], T[k + 1]), slice(W[k], W[k + 1])
            w_id = np.searchsorted(uniq, p["uniq"]).astype(np.int32)[p["w_local"]]
            out.tokens[t], out.word_start[t], out.newline[t] = p["tokens"], p["word_start"], p["newline"]
            out.word[t] = np.where(p["tok_word"] >= 0, w_id[p["tok_word"]] if len(w_id) else -1, -1)
            out.w_file[w], out.w_id[w], out.w_line[w], out.w_span[w] = p["w_file"], w_id, p["w_line"], p["w_span"]
            np.add(p["w_tok"], T[k], out=out.w_tok[w])
            parts[k] = None  # this batch's arrays are copied: free them while the others fill

        list(pool.map(fill, range(len(parts))))
    return out


def _annotate(files: list[Source], ids_per_file: list[np.ndarray], tables: TokenTables, file_base: int) -> dict:
    """One batch's token arrays and identifier words (w_tok relative to the batch's first token)."""
    datas = [f.text.encode() for f in files]
    sizes = np.array([len(d) for d in datas], dtype=np.int64)
    joined = b"\n".join(datas)
    buf = np.frombuffer(joined, dtype=np.uint8)
    spaced = np.frombuffer(b" " + joined, dtype=np.uint8)  # spaced[b] is the byte before b (a space at 0)
    fstart = np.concatenate([[0], np.cumsum(sizes + 1)[:-1]])  # byte offset of each file in buf
    ids = np.concatenate(ids_per_file) if ids_per_file else np.zeros(0, np.int32)
    counts = np.array([len(x) for x in ids_per_file], dtype=np.int64)
    tok_file = np.repeat(np.arange(len(files)), counts)
    blen = tables.byte_len[ids].astype(np.int64)
    ends = np.cumsum(blen)
    spelled = np.diff(np.concatenate([[0], ends])[np.concatenate([[0], np.cumsum(counts)])])  # bytes per file
    if (bad := np.flatnonzero(spelled != sizes)).size:
        f = files[bad[0]]
        raise RuntimeError(f"{f.corpus}:{f.path}: tokens do not spell the file back (byte-level BPE broken?)")
    starts = ends - blen + tok_file  # each earlier file adds its bytes and one separator
    core = starts + tables.lead_ws[ids]  # first non-space byte of each token
    # a token continues a word when it starts with an identifier byte glued to one before it
    continues = tables.starts_ident[ids] & IDENT[spaced[core]]
    words = file_words(buf.tobytes())
    # sorted lookups as running counts over the bytes (a cumsum and a gather beat a binary search)
    tok_at = _count_before(len(buf), starts)  # tok_at[b + 1] - 1: the token holding byte b
    word_at = _count_before(len(buf), words.start)
    wi = word_at[core + 1] - 1  # the word holding each token's first byte, if any starts at or before it
    inside = (wi >= 0) & (core < words.end[wi.clip(min=0)]) if len(words.start) else np.zeros(len(ids), bool)
    t0 = tok_at[words.start + 1] - 1  # a word's first and last token
    t1 = tok_at[words.end] - 1
    w_file = np.searchsorted(fstart, words.start, side="right") - 1
    lines_before = _count_before(len(buf), np.flatnonzero(buf == 10))
    header = np.array([f.header_lines for f in files], dtype=np.int64)
    line = (lines_before[words.start] - lines_before[fstart][w_file]
            + header[w_file] + 1)  # 1-based, in the file before its header was stripped
    return {"tokens": ids, "word_start": ~continues, "newline": tables.newline[ids],
            "tok_word": np.where(inside, wi, -1), "w_hash": words.hash, "w_file": w_file + file_base,
            "w_line": line, "w_tok": t0, "w_span": t1 - t0 + 1}


def _count_before(n: int, marks: np.ndarray) -> np.ndarray:
    """(n+2,) how many of the distinct byte offsets `marks` (< n) lie before each offset 0..n+1."""
    out = np.zeros(n + 2, dtype=np.int32)
    out[marks + 1] = 1
    return np.cumsum(out, dtype=np.int64) if n >= 1 << 31 else np.cumsum(out, out=out)


# --- entities ---------------------------------------------------------------------------------


@dataclass
class Entities:
    table: pa.Table  # entity_id, kind, name, qualified_name, corpus, path, start_line, end_line
    kind: np.ndarray  # (E,) int16 index into KINDS
    display: list[str]  # the leaf text: `Class.member` for members, else the name
    search: list[str]  # the identifier written where it occurs (`<init>` -> its class name)
    file: np.ndarray  # (E,) int32 index of its defining source file, -1 if not a selected file
    name_word: np.ndarray  # (E,) int32 global word id of `search`, -1 if it occurs nowhere


def display_and_search(kind: str, name: str, qualified_name: str) -> tuple[str, str]:
    parts = qualified_name.split(".")
    parent = parts[-2] if len(parts) >= 2 else ""
    search = parent if name == "<init>" and parent else name
    member = kind in MEMBER_KINDS or (kind in ontology.EXTERNAL_KINDS and parent[:1].isupper())
    display = f"{parent}.{name}" if member and parent else name
    return display, search


@dataclass
class EntityRows:
    """What the KG says of its entities, before any token stream exists (read while the tokenizer
    trains)."""

    table: pa.Table
    kind: np.ndarray
    display: list[str]
    search: list[str]
    file: np.ndarray
    search_hash: np.ndarray  # (E,) identifier_hashes of `search`, 0 where it is not one word


def read_entities(kg_dir, files: list[Source]) -> EntityRows:
    table = pq.read_table(kg_dir / "entities.parquet", columns=[
        "entity_id", "kind", "name", "qualified_name", "corpus", "path", "start_line", "end_line"])
    kinds = table.column("kind").to_pylist()
    names = table.column("name").to_pylist()
    quals = table.column("qualified_name").to_pylist()
    shown = [display_and_search(k, n, q) for k, n, q in zip(kinds, names, quals, strict=True)]
    kind_id = {k: i for i, k in enumerate(KINDS)}
    search = [s for _, s in shown]
    return EntityRows(
        table=table, kind=np.array([kind_id[k] for k in kinds], dtype=np.int16),
        display=[d for d, _ in shown], search=search,
        file=file_index(table.column("corpus"), table.column("path"), files),
        search_hash=identifier_hashes(search),
    )


def load_entities(rows: EntityRows, streams: Streams) -> Entities:
    word = streams.word_id_of(rows.search_hash)
    word[rows.search_hash == 0] = -1
    return Entities(table=rows.table, kind=rows.kind, display=rows.display, search=rows.search, file=rows.file,
                    name_word=word)


def file_index(corpus: pa.ChunkedArray, path: pa.ChunkedArray, files: list[Source]) -> np.ndarray:
    """(N,) int32 index of each (corpus, path) among `files`, -1 where it is not one of them."""
    keys = pc.binary_join_element_wise(corpus, path, "\0")
    known = pa.array([f"{f.corpus}\0{f.path}" for f in files], pa.string())
    return pc.index_in(keys, value_set=known).fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int32)


# --- occurrences ------------------------------------------------------------------------------


@dataclass
class Occurrences:
    pos: np.ndarray  # (O,) int64 global token position of the head's first token, sorted
    span: np.ndarray  # (O,) int16 head length in tokens
    entity: np.ndarray  # (O,) int32


def locate(streams: Streams, q_file: np.ndarray, q_word: np.ndarray, q_lo: np.ndarray,
           q_hi: np.ndarray) -> np.ndarray:
    """For each query (file, word id, first line, last line): the index into the word table of
    the first occurrence of that word in that file within those lines, or -1."""
    n_files = int(streams.file_offsets.shape[0])
    n_words = len(streams.word_hashes) + 1
    n_lines = int(max(streams.w_line.max(initial=0), q_hi.max(initial=0))) + 2
    bits = [int(n).bit_length() for n in (n_files, n_words, n_lines)]
    if sum(bits) > 62:
        raise ValueError(f"corpus too large for 62-bit occurrence keys (files, words, lines bits = {bits})")
    fb, lb = bits[1] + bits[2], bits[2]

    def key(f, w, line):
        return (f.astype(np.int64) << fb) | (w.astype(np.int64) << lb) | line.astype(np.int64)

    ok = q_word >= 0
    # only the words some query looks for; the word table is in stream order, so a stable sort by
    # key keeps equal keys (a word repeated on a line) in position order
    wanted = np.zeros(n_words, dtype=bool)
    wanted[q_word[ok]] = True
    sub = np.flatnonzero(wanted[streams.w_id])
    wk = key(streams.w_file[sub], streams.w_id[sub], streams.w_line[sub])
    perm = np.argsort(wk, kind="stable")
    order, wk = sub[perm], wk[perm]
    lo_key = key(q_file, q_word.clip(min=0), q_lo)
    hi_key = key(q_file, q_word.clip(min=0), q_hi)
    i = np.searchsorted(wk, lo_key)
    found = ok & (i < len(wk))
    found[found] = wk[i[found]] <= hi_key[found]
    return np.where(found, order[i.clip(max=max(len(order) - 1, 0))], -1)


def find_occurrences(streams: Streams, entities: Entities, triples: pa.Table, files: list[Source],
                     home_split: np.ndarray, file_split: np.ndarray) -> Occurrences:
    """Where each head with triples in the dataset occurs, in files of its own split only (a test
    entity's triples never appear in a training window, even where a training file calls it)."""
    t = triples
    head, tail = t.column("head").to_numpy(), t.column("tail").to_numpy()
    ev_file = file_index(t.column("corpus"), t.column("path"), files)
    ev_line = t.column("line").fill_null(0).to_numpy().astype(np.int64)
    is_head = np.zeros(len(entities.kind), dtype=bool)
    is_head[head] = True

    table = entities.table
    start = table.column("start_line").fill_null(0).to_numpy().astype(np.int64)
    end = table.column("end_line").fill_null(0).to_numpy().astype(np.int64)
    defined = np.flatnonzero(is_head & (entities.file >= 0) & (entities.name_word >= 0))
    ev = ev_file >= 0
    as_head = np.flatnonzero(ev)
    as_tail = np.flatnonzero(ev & is_head[tail])
    q_entity = np.concatenate([defined, head[as_head], tail[as_tail]])
    q_file = np.concatenate([entities.file[defined], ev_file[as_head], ev_file[as_tail]])
    q_lo = np.concatenate([start[defined], ev_line[as_head], ev_line[as_tail]])
    q_hi = np.concatenate([np.minimum(np.maximum(end[defined], start[defined]), start[defined] + DEFINITION_LOOKAHEAD),
                           ev_line[as_head], ev_line[as_tail]])
    q_word = entities.name_word[q_entity]
    hit = locate(streams, q_file, q_word, q_lo, q_hi)
    keep = hit >= 0
    keep[keep] = file_split[q_file[keep]] == home_split[q_entity[keep]]
    pos, span, ent = streams.w_tok[hit[keep]], streams.w_span[hit[keep]], q_entity[keep]
    # one head per token: the first query wins (definitions come first)
    pos_u, first = np.unique(pos, return_index=True)
    return Occurrences(pos_u, span[first].astype(np.int16), ent[first].astype(np.int32))
