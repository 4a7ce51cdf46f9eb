"""Extracting a corpus's files on every core, through the parse cache."""

from __future__ import annotations

import functools
import gc
import multiprocessing as mp
import os
import threading
from contextlib import contextmanager, nullcontext
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace

from graphmer_core.corpus.index import FileRecord
from graphmer_core.corpus.reading import read_source
from graphmer_core.errors import GraphmerError
from graphmer_core.parsing import ParsedFile, extractor, extractor_version
from graphmer_core.parsing.cache import Facts, ParseCache, Rests, encode
from graphmer_core.parsing.depth import MAX_DEPTH, TooDeep, max_depth_setting

# Below this many files a pool costs more than it saves.
POOL_MIN_FILES = 48
# Cache entries are committed in batches this large, while the workers go on parsing (one batch at
# the end would wait alone); a crash keeps the work of all batches before it.
COMMIT_EVERY = 128


def _extract(task: tuple[str, str, str, int, int]) -> tuple[dict | None, str | None, str | None]:
    """Facts of one file not found in the cache: (facts, None, None), or (None, status, reason).

    The file is read as the index read it (non-blocking, regular files only, at most the size
    indexed), so a file swapped for a FIFO or grown huge since cannot hang the build."""
    abspath, language, sha, size, max_depth = task
    got = read_source(abspath, size)
    if got.data is None or got.sha256 != sha:
        if got.sha256 is not None or got.size > size:
            return None, "failed", "changed during the build: rebuild to pick up the new content"
        return None, got.status, got.reason  # unreadable now, or no longer a regular file
    try:
        return extractor(language)(got.data, max_depth=max_depth), None, None
    except TooDeep as exc:
        return None, "skipped", str(exc)
    except Exception as exc:  # noqa: BLE001 -- an extractor bug must not sink the corpus: record it per file
        return None, "failed", f"extractor error: {type(exc).__name__}: {exc}"


def _extract_encoded(task: tuple[str, str, str, int, int]
                     ) -> tuple[tuple[bytes, bytes] | None, str | None, str | None]:
    """`_extract` for a pool worker: the facts travel back as the cache's encoded payload, which
    is needed anyway and cheaper to send than the pickled facts."""
    facts, status, reason = _extract(task)
    return (None, status, reason) if facts is None else (encode(facts), None, None)


@contextmanager
def paused_gc():
    """Facts are large acyclic trees of lists: the cyclic collector only burns time on them."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@dataclass
class ParseOutcome:
    parsed: list[ParsedFile] = field(default_factory=list)
    records: list[FileRecord] = field(default_factory=list)  # the index, statuses updated
    reparsed: int = 0
    cache_hits: int = 0


def _pool_context() -> mp.context.BaseContext:
    """fork is cheapest but unsafe once other threads run (a Dagster step has some): then forkserver."""
    if threading.active_count() == 1 and "fork" in mp.get_all_start_methods():
        return mp.get_context("fork")
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["graphmer_core.parsing.batch"])
    return ctx


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def parse_files(
    records: list[FileRecord],
    cache_dir: str | os.PathLike | None = None,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    max_depth: int | None = None,
) -> ParseOutcome:
    """Extract facts for every usable record; per-file failures become statuses, never exceptions.

    A file whose syntax tree nests deeper than `max_depth` (default `$GRAPHMER_MAX_SYNTAX_DEPTH`,
    else `depth.MAX_DEPTH`) is `skipped`, its reason naming the bound."""
    max_depth = max_depth_setting() if max_depth is None else max_depth
    with ParseCache(cache_dir) if cache_dir is not None else nullcontext() as cache, paused_gc():
        results = _extract_all(records, cache, workers or default_workers(), progress, max_depth)
    out = ParseOutcome()
    for rec in records:
        res = results.get((rec.corpus, rec.path))
        if res is None:
            out.records.append(rec)
            continue
        facts, reparsed, status, reason = res
        out.reparsed += reparsed
        out.cache_hits += not reparsed
        if facts is None:
            out.records.append(replace(rec, status=status, reason=reason))
            continue
        errors = int(facts.get("errors", 0) or 0)
        if errors:
            rec = replace(rec, status="partial",
                          reason=f"{errors} syntax error node(s); facts kept for the rest of the file")
        out.records.append(rec)
        out.parsed.append(ParsedFile(rec.corpus, rec.path, rec.language, rec.sha256, facts))
    return out


def to_parse(records: list[FileRecord], cache_dir: str | os.PathLike) -> int:
    """How many of the usable records the parse cache does not hold: the files a build will parse."""
    usable = [r for r in records if r.status == "ok"]
    with ParseCache(cache_dir) as cache:
        held = {lang: cache.cached(cache_version(lang, max_depth_setting())) for lang in {r.language for r in usable}}
    return sum(r.sha256 not in held[r.language] for r in usable)


def _cached(head: bytes | None, rests: Rests | None, sha: str) -> Facts | None:
    """A cached file's facts; None for a miss, or a head of another shape (parsed again)."""
    if head is None:
        return None
    try:
        return Facts(head, rests, sha)
    except (ValueError, EOFError, TypeError):
        return None


def _again(cache: ParseCache, version: str, rec: FileRecord, max_depth: int) -> bytes:
    """A cached file's rest, lost or damaged since its head was read: its facts made again (and
    cached again)."""
    facts, status, reason = _extract(_task(rec, max_depth))
    if facts is None:
        raise GraphmerError(f"{rec.corpus}:{rec.path}: its cached facts are damaged and it cannot be parsed "
                            f"again ({status}: {reason})")
    payload = encode(facts)
    cache.put_many([(version, rec.sha256, payload)])
    return payload[1]


def cache_version(language: str, max_depth: int) -> str:
    """The parse cache's key for a language's facts: its extractor's version, and the depth bound
    they passed where it is not the default one. A file checked under one bound is no evidence
    under a lower one, so facts are never served across bounds."""
    version = extractor_version(language)
    return version if max_depth == MAX_DEPTH else f"{version}@depth{max_depth}"


def _task(r: FileRecord, max_depth: int) -> tuple[str, str, str, int, int]:
    return r.abspath, r.language, r.sha256, r.size_bytes, max_depth


def _extract_all(records, cache: ParseCache | None, workers: int, progress, max_depth: int) -> dict:
    """(corpus, path) -> (facts | None, reparsed, status, reason) of every usable record."""
    results: dict[tuple[str, str], tuple[dict | None, bool, str | None, str | None]] = {}
    todo: list[FileRecord] = []
    usable = [r for r in records if r.status == "ok"]
    versions = {lang: cache_version(lang, max_depth) for lang in {r.language for r in usable}}
    held: dict[str, dict[str, bytes]] = {}  # cache version -> sha256 -> head: hits read here, in one process
    rests: dict[str, Rests] = {}  # cache version -> where the hits' rests are read, when they are
    if cache is not None:
        for lang, version in versions.items():
            held[version] = cache.get_many(version, (r.sha256 for r in usable if r.language == lang))
            rests[version] = Rests(cache, version)
    for r in usable:
        version = versions[r.language]
        facts = _cached(held.get(version, {}).get(r.sha256), rests.get(version), r.sha256)
        if facts is None:
            todo.append(r)
        else:  # each file its own Facts, as parsed
            rests[version].fallback[r.sha256] = functools.partial(_again, cache, version, r, max_depth)
            results[(r.corpus, r.path)] = (facts, False, None, None)
    if workers > 1 and len(todo) >= POOL_MIN_FILES:
        # Largest files first, so the last chunks are small and no worker idles at the end.
        todo.sort(key=lambda r: -r.size_bytes)
        pool = ProcessPoolExecutor(workers, mp_context=_pool_context(), initializer=gc.disable)
        chunk = max(1, min(64, len(todo) // (workers * 8)))
        encoded = pool.map(_extract_encoded, [_task(r, max_depth) for r in todo], chunksize=chunk)
        done = ((None if p is None else Facts(*p), p, status, reason) for p, status, reason in encoded)
    else:
        pool = None
        extracted = (_extract(_task(r, max_depth)) for r in todo)
        done = ((f, None if f is None or cache is None else encode(f), status, reason)
                for f, status, reason in extracted)
    pending: list[tuple[str, str, tuple[bytes, bytes]]] = []
    try:
        for i, (rec, (facts, payload, status, reason)) in enumerate(zip(todo, done, strict=True), 1):
            results[(rec.corpus, rec.path)] = (facts, True, status, reason)
            if payload is not None and cache is not None:
                pending.append((cache_version(rec.language, max_depth), rec.sha256, payload))
                if len(pending) >= COMMIT_EVERY:
                    cache.put_many(pending)
                    pending.clear()
            if progress and (i % 200 == 0 or i == len(todo)):
                progress(i, len(todo))
        if cache is not None and pending:
            cache.put_many(pending)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    return results
