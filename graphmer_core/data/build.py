"""The promoted KG -> a versioned, leak-checked dataset folder: splits, tokenizer, sequences.

Three stages, each its own Dagster asset, assembled in `datasets/.<version>.partial/` and renamed
to `datasets/<version>/` by the last one. `dataset_version` hashes the kg_version, the dataset
config and this package's code, so an unchanged KG and config rebuild nothing.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from graphmer_core.artifacts import code_digest, fsync_dir, sha256_json, write_json_atomic
from graphmer_core.data import store
from graphmer_core.data.annotate import (KINDS, RELATIONS, Entities, EntityRows, Streams, find_occurrences,
                                         load_entities, read_entities, tokenize_sources)
from graphmer_core.data.config import DatasetConfig
from graphmer_core.data.leafy_chain import cut_windows
from graphmer_core.data.leaks import SplitStream, check_leaks
from graphmer_core.data.sources import Sources, read_sources, unit_hash
from graphmer_core.data.splits import SPLITS, assign_splits, split_counts
from graphmer_core.data.tokenizer import NUM_SPECIAL, PAD_ID, encode, train_tokenizer
from graphmer_core.faults import crash_point
from graphmer_core.kg import store as kg_store
from graphmer_core.lake import Lake
from graphmer_core.memory import heap_reuse
from graphmer_core.parsing.batch import paused_gc

SCHEMA_VERSION = "1.0"
PACKAGE_ROOT = Path(__file__).resolve().parent.parent
SHARD_TOKENS = 1 << 24  # a new shard after this many tokens (whole files per shard)
CONTENT_CODE = tuple(f"data/{m}.py" for m in ("annotate", "build", "config", "leafy_chain", "leaks", "sources",
                                               "splits", "store", "tokenizer", "words")) + ("kg/ontology.py",)

Log = Callable[[str], None]


@functools.cache
def code_version() -> str:
    """The code a dataset's files depend on (not the loader, which reads them): change any of it and
    the version changes."""
    return code_digest(PACKAGE_ROOT, CONTENT_CODE)


def dataset_version(kg_version: str, config: DatasetConfig) -> str:
    return sha256_json({"kg": kg_version, "config": config.model_dump(mode="json"), "code": code_version()})[:16]


@dataclass
class Stage:
    """Where one dataset version is being (or has been) built."""

    lake: Lake
    config: DatasetConfig
    kg_dir: Path
    kg_manifest: dict
    version: str

    @property
    def final(self) -> Path:
        return self.lake.dataset_dir(self.version)

    @property
    def partial(self) -> Path:
        return self.lake.dataset_partial(self.version)

    @property
    def done(self) -> bool:
        return (self.final / store.MANIFEST).exists()

    def sources(self) -> Sources:
        roots = {c["name"]: c["root"] for c in self.kg_manifest["corpora"]}
        return read_sources(self.kg_dir, roots, self.config)


def open_stage(lake: Lake, config: DatasetConfig) -> Stage:
    """The dataset version the current KG and `config` call for."""
    kg_dir = lake.current_dir()
    if kg_dir is None:
        raise FileNotFoundError(f"no promoted KG under {lake.root}: run `graphmer build-kg` first")
    manifest = kg_store.verify(kg_dir)
    return Stage(lake, config, kg_dir, manifest, dataset_version(manifest["kg_version"], config))


@dataclass
class StageResult:
    version: str
    path: Path
    reused: bool
    info: dict = field(default_factory=dict)


def _locked(stage_fn):
    """Run a build stage under the lake's writer lock (each stage may be its own Dagster step)."""
    @functools.wraps(stage_fn)
    def locked(stage: Stage, *args, **kwargs):
        with stage.lake.lock(f"building dataset {stage.version}"):
            return stage_fn(stage, *args, **kwargs)
    return locked


# --- stage 1: splits --------------------------------------------------------------------------


@_locked
@paused_gc()  # the sources are large acyclic lists: the cyclic collector only burns time on them
def stage_splits(stage: Stage, sources: Sources | None = None) -> StageResult:
    if stage.done:
        return StageResult(stage.version, stage.final / store.SPLITS_FILE, True,
                           {"files": stage_manifest(stage)["files"]})
    sources = sources or stage.sources()
    if not sources.files:
        raise ValueError(f"KG {stage.kg_dir.name} has no usable source files for this dataset config "
                         f"({len(sources.skipped)} skipped)")
    table = assign_splits(sources.files, stage.config)
    shutil.rmtree(stage.partial, ignore_errors=True)  # new splits: anything staged after them is stale
    stage.partial.mkdir(parents=True)
    store.write_parquet(table, stage.partial / store.SPLITS_FILE)
    store.record_staged(stage.partial, store.SPLITS_FILE)
    write_json_atomic(stage.partial / "skipped.json", sources.skipped)
    return StageResult(stage.version, stage.partial / store.SPLITS_FILE, False,
                       {"files": split_counts(table), "skipped": len(sources.skipped)})


def stage_manifest(stage: Stage) -> dict:
    return json.loads((stage.final / store.MANIFEST).read_text())


def _staged_splits(stage: Stage) -> pa.Table:
    if not (stage.partial / store.SPLITS_FILE).exists():
        raise FileNotFoundError(f"no splits staged for dataset {stage.version}: run data_splits first")
    return pq.read_table(store.verify_staged(stage.partial, store.SPLITS_FILE))


def _by_split(sources: Sources, splits: pa.Table) -> np.ndarray:
    """(F,) split name of each source file (sources and splits share the (corpus, path) order)."""
    names = splits.column("split").to_pylist()
    keys = list(zip(splits.column("corpus").to_pylist(), splits.column("path").to_pylist(), strict=True))
    if keys != [(f.corpus, f.path) for f in sources.files]:
        raise ValueError("staged splits do not match the KG's files: rebuild the dataset from data_splits")
    return np.array(names)


# --- stage 2: tokenizer -----------------------------------------------------------------------


def tokenizer_sample(sources: Sources, split_of: np.ndarray, cap: int) -> tuple[list[str], int]:
    """Training-split texts in hash order (spread over every corpus) until `cap` bytes."""
    train = [f for f, s in zip(sources.files, split_of, strict=True) if s == "train"]
    train.sort(key=lambda f: unit_hash("tokenizer", f.corpus, f.path))
    texts, used = [], 0
    for f in train:
        if used >= cap:
            break
        texts.append(f.text)
        used += len(f.text.encode())
    return texts, used


@_locked
@paused_gc()
def stage_tokenizer(stage: Stage, sources: Sources | None = None) -> StageResult:
    if stage.done:
        m = stage_manifest(stage)
        return StageResult(stage.version, stage.final / store.TOKENIZER_FILE, True, m["tokenizer"])
    sources = sources or stage.sources()
    split_of = _by_split(sources, _staged_splits(stage))
    texts, used = tokenizer_sample(sources, split_of, stage.config.tokenizer_sample_bytes)
    if not texts:
        raise ValueError("the training split is empty: no text to learn a tokenizer from")
    t = time.perf_counter()
    tok = train_tokenizer(texts, stage.config.vocab_size)
    path = stage.partial / store.TOKENIZER_FILE
    tok.save(str(path))
    info = {"vocab_size": tok.get_vocab_size(), "requested_vocab_size": stage.config.vocab_size,
            "sample_bytes_cap": stage.config.tokenizer_sample_bytes, "sample_bytes": used,
            "sample_files": len(texts), "train_s": round(time.perf_counter() - t, 2),
            "sha256": store.record_staged(stage.partial, store.TOKENIZER_FILE), "special_tokens": NUM_SPECIAL}
    write_json_atomic(stage.partial / "tokenizer_info.json", info)
    return StageResult(stage.version, path, False, info)


# --- stage 3: sequences -----------------------------------------------------------------------


@dataclass
class KgRows:
    """The KG's entities and triples as the sequences stage reads them; token-free, so the CLI
    reads them while the tokenizer trains."""

    entities: EntityRows
    triples: pa.Table


def read_kg(kg_dir: Path, sources: Sources) -> KgRows:
    entities = read_entities(kg_dir, sources.files)
    return KgRows(entities, kg_triples(kg_dir, entities))


def kg_triples(kg_dir: Path, entities: EntityRows) -> pa.Table:
    """Every KG triple as entity indices and relation ids, with its evidence (corpus, path, line)."""
    t = pq.read_table(kg_dir / "triples.parquet", columns=["head_id", "relation", "tail_id", "corpus", "path", "line"])
    ids = entities.table.column("entity_id")
    head = pc.index_in(t.column("head_id"), value_set=ids)
    tail = pc.index_in(t.column("tail_id"), value_set=ids)
    rel = pc.index_in(t.column("relation"), value_set=pa.array(RELATIONS))
    keep = pc.and_(pc.and_(pc.is_valid(head), pc.is_valid(tail)), pc.is_valid(rel))
    return pa.table({"head": head, "relation": rel, "tail": tail, "corpus": t.column("corpus"),
                     "path": t.column("path"), "line": t.column("line")}).filter(keep)


def tail_tokens(tok, entities: Entities, max_tokens: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(E, 7) leaf tokens, (E,) length (0 = too long or empty to be a leaf), (E,) spelling id."""
    ids = encode(tok, entities.display)
    E = len(ids)
    out = np.full((E, 7), PAD_ID, dtype=np.int32)
    length = np.array([len(x) for x in ids], dtype=np.int64)
    fits = (length > 0) & (length <= max_tokens)
    for i in np.flatnonzero(fits):
        out[i, :length[i]] = ids[i]
    # each spelling's rank among the distinct spellings (UTF-8 byte order is code point order)
    shown = pa.array(entities.display, pa.string())
    distinct = pc.unique(shown)
    spelling = pc.index_in(shown, value_set=distinct.take(pc.sort_indices(distinct))).to_numpy()
    return out, np.where(fits, length, 0), spelling


@_locked
@paused_gc()
@heap_reuse()
def stage_sequences(stage: Stage, sources: Sources | None = None, log: Log | None = None,
                    kg: KgRows | None = None, after_tokenize: Callable[[], object] | None = None) -> StageResult:
    """Tokenize, annotate, write shards and tables, run the leak check, write the manifest and
    rename the folder into place. A leak raises LeakError and nothing is renamed. `after_tokenize`
    is called once the sources are tokenized (what follows leaves a core idle)."""
    if stage.done:
        return StageResult(stage.version, stage.final, True, stage_manifest(stage))
    log = log or (lambda _: None)
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def tick(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[f"{name}_s"] = round(now - clock, 3)
        clock = now

    sources = sources or stage.sources()
    splits = _staged_splits(stage)
    split_of = _by_split(sources, splits)
    tok_path = stage.partial / store.TOKENIZER_FILE
    if not tok_path.exists():
        raise FileNotFoundError(f"no tokenizer staged for dataset {stage.version}: run tokenizer first")
    from graphmer_core.data.tokenizer import load_tokenizer

    tok = load_tokenizer(store.verify_staged(stage.partial, store.TOKENIZER_FILE))
    tok.encode_special_tokens = True  # a literal "[MASK]" in source is text, not the mask token
    files = sources.files
    tick("read")
    log(f"tokenizing {len(files):,} files")
    streams = tokenize_sources(tok, files)
    tick("tokenize")
    if after_tokenize is not None:
        after_tokenize()

    kg = kg or read_kg(stage.kg_dir, sources)
    entities, triples = load_entities(kg.entities, streams), kg.triples
    tokens7, tail_len, spelling = tail_tokens(tok, entities, stage.config.max_tail_tokens)
    tick("entities")

    file_split = np.array([SPLITS.index(s) for s in split_of], dtype=np.int8)
    home = np.where(entities.file >= 0, file_split[entities.file.clip(min=0)], -1).astype(np.int8)
    head = triples.column("head").to_numpy().astype(np.int64)
    tail = triples.column("tail").to_numpy().astype(np.int64)
    rel = triples.column("relation").to_numpy().astype(np.int64)
    in_data = home[head] >= 0  # the head is defined in a dataset file
    fits = tail_len[tail] > 0
    usable = in_data & fits
    data_triples = triples.filter(pa.array(usable))
    occ = find_occurrences(streams, entities, data_triples, files, home, file_split)
    has_occ = np.zeros(len(entities.kind), dtype=bool)
    has_occ[occ.entity] = True
    placed = usable & has_occ[head]
    tick("occurrences")
    log(f"{len(occ.pos):,} head occurrences; {int(placed.sum()):,} of {len(head):,} KG triples placed")
    # the in-window shares are numpy sorts and searches (no GIL): they run beside the shards and the
    # leak check
    pool = ThreadPoolExecutor(1)
    in_window = pool.submit(_in_window_shares, streams, occ, entities, head, rel, tail, placed,
                            stage.config.leak_check_roots)
    pool.shutdown(wait=False)

    # tables
    store.write_parquet(pa.table({
        "entity_id": entities.table.column("entity_id"), "kind": entities.table.column("kind"),
        "display": entities.display, "search": entities.search, "file": entities.file,
        "name_word": entities.name_word, "tail_len": tail_len.astype(np.int8),
        "tail_tokens": pa.FixedSizeListArray.from_arrays(pa.array(tokens7.reshape(-1)), 7),
        "spelling": spelling.astype(np.int64), "kind_id": entities.kind,
    }), stage.partial / store.ENTITIES_FILE)
    store.write_parquet(pa.table({
        "head": head[in_data].astype(np.int32), "relation": rel[in_data].astype(np.int16),
        "tail": tail[in_data].astype(np.int32), "split": home[head[in_data]],
        "usable": fits[in_data], "placed": placed[in_data],
    }), stage.partial / store.TRIPLES_FILE)

    # shards, one split at a time
    (stage.partial / "shards").mkdir(exist_ok=True)
    shard_names: dict[str, list[str]] = {}
    split_streams: dict[str, SplitStream] = {}
    occ_file = np.searchsorted(streams.file_offsets, occ.pos, side="right") - 1
    names = [f"{f.corpus}:{f.path}" for f in files]
    for si, split in enumerate(SPLITS):
        fidx = np.flatnonzero(file_split == si)
        shard_names[split] = []
        if not len(fidx):
            continue
        written = _write_split(stage, split, fidx, streams, occ, occ_file)
        shard_names[split] = [name for name, _ in written]
        # the leak check reads the arrays just written (no second gather of the split's tokens)
        tokens, newline = ((written[0][1]["tokens"], written[0][1]["newline"]) if len(written) == 1 else
                           (np.concatenate([a["tokens"] for _, a in written]),
                            np.concatenate([a["newline"] for _, a in written])))
        split_streams[split] = SplitStream(tokens, newline, _offsets(streams.file_offsets, fidx),
                                           [names[i] for i in fidx])
    tick("shards")

    report = check_leaks(split_streams, stage.config.leak_check_roots)
    tick("leak_check")
    report.raise_if_leaking()

    stats = _sequence_stats(stage, streams, split_streams, file_split, occ, occ_file, entities, head, rel,
                            tail, in_data, fits, placed, tokens7, in_window.result())
    tick("stats")
    tok_info = json.loads((stage.partial / "tokenizer_info.json").read_text())
    skipped = json.loads((stage.partial / "skipped.json").read_text())
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "dataset_version": stage.version,
        "kg_version": stage.kg_manifest["kg_version"],
        "code_version": code_version(),
        "config": stage.config.model_dump(mode="json"),
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "corpora": stage.kg_manifest["corpora"],
        "relations": list(RELATIONS),
        "kinds": list(KINDS),
        "tokenizer": tok_info,
        "files": split_counts(splits),
        "skipped_files": skipped,
        "header_lines_stripped": int(pc.sum(splits.column("header_lines")).as_py() or 0),
        "shards": {s: [f"shards/{n}" for n in v] for s, v in shard_names.items()},
        "leak_check": report.summary(),
        "timings": timings,
        **stats,
    }
    crash_point("dataset.shards")  # every shard and table written, no manifest, not renamed
    for scratch in ("skipped.json", "tokenizer_info.json", store.STAGED):
        (stage.partial / scratch).unlink()
    manifest["files_sha256"] = store.stamp(stage.partial)
    write_json_atomic(stage.partial / store.MANIFEST, manifest)
    fsync_dir(stage.partial)
    shutil.rmtree(stage.final, ignore_errors=True)
    os.replace(stage.partial, stage.final)
    fsync_dir(stage.final.parent)
    return StageResult(stage.version, stage.final, False, manifest)


def _ranges(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Concatenated aranges [s, e) for each pair."""
    lengths = ends - starts
    return np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(lengths.sum())


def _offsets(file_offsets: np.ndarray, fidx: np.ndarray) -> np.ndarray:
    lengths = file_offsets[fidx + 1] - file_offsets[fidx]
    return np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)


def _write_split(stage: Stage, split: str, fidx: np.ndarray, streams: Streams, occ, occ_file
                 ) -> list[tuple[str, dict[str, np.ndarray]]]:
    """Write one split's files as shards of whole files; returns each shard's name and arrays."""
    lengths = streams.file_offsets[fidx + 1] - streams.file_offsets[fidx]
    shard_of = (np.cumsum(lengths) - lengths) // SHARD_TOKENS
    written = []
    for k in np.unique(shard_of):
        part = fidx[shard_of == k]
        sel = _ranges(streams.file_offsets[part], streams.file_offsets[part + 1])
        offsets = _offsets(streams.file_offsets, part)
        o = np.isin(occ_file, part)
        # an occurrence's place in the shard: its offset in its file plus where that file starts here
        local = occ.pos[o] - streams.file_offsets[occ_file[o]] + offsets[np.searchsorted(part, occ_file[o])]
        name = f"{split}-{int(k):05d}.safetensors"
        arrays = {
            "tokens": streams.tokens[sel], "word_start": streams.word_start[sel], "newline": streams.newline[sel],
            "word": streams.word[sel], "file_offsets": offsets,
            "file_row": part.astype(np.int64), "occ_pos": local.astype(np.int64), "occ_span": occ.span[o],
            "occ_entity": occ.entity[o],
        }
        store.write_shard(arrays, stage.partial / "shards" / name)
        written.append((name, arrays))
    return written


def _sequence_stats(stage, streams, split_streams, file_split, occ, occ_file, entities, head, rel, tail,
                    in_data, fits, placed, tokens7, in_window) -> dict:
    """What the manifest reports about windows and triples (the check R's windows)."""
    R = stage.config.leak_check_roots
    per_split: dict[str, dict] = {}
    for si, split in enumerate(SPLITS):
        s = split_streams.get(split)
        if s is None:
            per_split[split] = {"files": 0, "tokens": 0, "windows": 0, "occurrences": 0}
            continue
        starts, _ = cut_windows(s.file_offsets, s.newline, R)
        per_split[split] = {"files": len(s.file_names), "tokens": int(len(s.tokens)), "windows": int(len(starts)),
                            "occurrences": int((file_split[occ_file] == si).sum())}

    # triples per relation and split: in the dataset, usable as a leaf, placed
    home = np.where(entities.file >= 0, file_split[entities.file.clip(min=0)], -1)
    triples_by: dict[str, dict] = {}
    for r_id, r_name in enumerate(RELATIONS[1:], start=1):
        m = rel == r_id
        row = {"kg": int(m.sum())}
        for si, split in enumerate(SPLITS):
            ms = m & in_data & (home[head] == si)
            row[split] = {"triples": int(ms.sum()), "tail_too_long": int((ms & ~fits).sum()),
                          "placed": int((ms & placed).sum())}
        row["placed"] = int((m & placed).sum())
        row["placed_share_of_kg"] = round(row["placed"] / row["kg"], 4) if row["kg"] else None
        triples_by[r_name] = row

    total = len(head)
    return {
        "splits": per_split,
        "triples": triples_by,
        "triples_total": {"kg": total, "in_dataset_files": int(in_data.sum()), "placed": int(placed.sum()),
                          "placed_share_of_kg": round(float(placed.sum()) / total, 4) if total else None,
                          "placed_share_of_dataset": round(float(placed.sum()) / max(int(in_data.sum()), 1), 4)},
        "in_window_share": in_window,
        "token_id_range": {"min": int(streams.tokens.min(initial=0)), "max": int(streams.tokens.max(initial=0)),
                           "leaf_max": int(tokens7.max(initial=0))},
    }


def _in_window_shares(streams, occ, entities, head, rel, tail, placed, R) -> dict[str, float | None]:
    """Per relation: of the (head occurrence, triple) pairs at R, the share whose tail name is one
    of the window's words (the tail could be copied rather than recalled)."""
    starts, ends = cut_windows(streams.file_offsets, streams.newline, R)
    if not len(starts) or not len(occ.pos):
        return {}
    # each occurrence's window (the first that holds it) and every placed triple of its head
    order = np.argsort(head[placed], kind="stable")
    ph, pr, pt = head[placed][order], rel[placed][order], tail[placed][order]
    lo, hi = np.searchsorted(ph, occ.entity), np.searchsorted(ph, occ.entity, side="right")
    counts = hi - lo
    pair_occ = np.repeat(np.arange(len(occ.pos)), counts)
    pair_t = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts) + np.repeat(lo, counts)
    win = (np.searchsorted(starts, occ.pos, side="right") - 1)[pair_occ]
    tail_word = entities.name_word[pt[pair_t]].astype(np.int64)
    # does the tail's word start inside the window? (word id, position) keys of the words some
    # pair looks for, sorted once
    wanted = np.zeros(len(streams.word_hashes) + 1, dtype=bool)
    wanted[tail_word[tail_word >= 0]] = True
    w = wanted[streams.w_id]
    keys = np.sort((streams.w_id[w].astype(np.int64) << 40) | streams.w_tok[w])
    first = np.searchsorted(keys, (tail_word << 40) | starts[win])
    hit = (tail_word >= 0) & (first < len(keys))
    hit[hit] = keys[first[hit]] < ((tail_word[hit] << 40) | ends[win][hit])
    pairs = np.bincount(pr[pair_t], minlength=len(RELATIONS))
    hits = np.bincount(pr[pair_t], weights=hit, minlength=len(RELATIONS))
    return {r: round(float(hits[i] / pairs[i]), 4) if pairs[i] else None
            for i, r in enumerate(RELATIONS) if i}


# --- the whole build (CLI path) ---------------------------------------------------------------


def build_dataset(lake: Lake, config: DatasetConfig, log: Log | None = None,
                  gates: bool = True) -> StageResult:
    """All three stages, then the gates (unless told not to). Reuses a finished version. GX is
    imported in a worker process (in a thread, its ~3 s of pure-Python import would hold the GIL)
    started once the sources are tokenized: before, every stage keeps both cores busy; after, the
    annotation, shards and leak check run on one and leave the other to the import."""
    with lake.lock("graphmer build-dataset"), paused_gc():
        return _build_dataset(lake, config, log, gates)


def _build_dataset(lake: Lake, config: DatasetConfig, log: Log | None, gates: bool) -> StageResult:
    from graphmer_core.kg.quality import LazyGx

    stage = open_stage(lake, config)
    t = time.perf_counter()
    needs_gx = gates and store.read_gates(stage.final) is None
    with LazyGx() as gx:
        if stage.done:
            result = StageResult(stage.version, stage.final, True, stage_manifest(stage))
        else:
            sources = stage.sources()
            stage_splits(stage, sources)
            if log:
                log(f"dataset {stage.version}: splits done, training the tokenizer")
            with ThreadPoolExecutor(1) as pool:  # the BPE trainer releases the GIL: read the KG meanwhile
                kg = pool.submit(read_kg, stage.kg_dir, sources)
                stage_tokenizer(stage, sources)
                kg = kg.result()
            result = stage_sequences(stage, sources, log, kg, after_tokenize=gx.start if needs_gx else None)
        if needs_gx:
            from graphmer_core.data.gates import enforce_dataset_gates

            gx.start()
            enforce_dataset_gates(stage.final, gx.worker)
    result.info = {**result.info, "build_s": round(time.perf_counter() - t, 2)}
    return result
