"""Extracting a corpus's files on every core, through the parse cache."""

from __future__ import annotations

import gc
import multiprocessing as mp
import os
import threading
from contextlib import contextmanager
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace

from graphmer_core.artifacts import sha256_bytes
from graphmer_core.corpus.index import FileRecord
from graphmer_core.parsing import ParsedFile, extractor, extractor_version
from graphmer_core.parsing.cache import ParseCache

# Below this many files a pool costs more than it saves.
POOL_MIN_FILES = 48

_caches: dict[str, ParseCache] = {}


def _cache(root: str | None) -> ParseCache | None:
    if root is None:
        return None
    if root not in _caches:
        _caches[root] = ParseCache(root)
    return _caches[root]


def _extract_one(task: tuple[str, str, str, str | None]) -> tuple[dict | None, bool, str | None]:
    """Facts of one file not found in the cache: (facts or None, reparsed, failure reason)."""
    abspath, language, sha, cache_root = task
    try:
        with open(abspath, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        return None, True, f"unreadable: {exc.strerror or exc}"
    if sha256_bytes(data) != sha:
        return None, True, "changed during the build: rebuild to pick up the new content"
    try:
        facts = extractor(language)(data)
    except Exception as exc:  # noqa: BLE001 -- an extractor bug must not sink the corpus: record it per file
        return None, True, f"extractor error: {type(exc).__name__}: {exc}"
    cache = _cache(cache_root)
    if cache is not None:
        cache.put(extractor_version(language), sha, facts)
    return facts, True, None


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
) -> ParseOutcome:
    """Extract facts for every usable record; per-file failures become statuses, never exceptions."""
    cache = None if cache_dir is None else ParseCache(cache_dir)
    results: dict[tuple[str, str], tuple[dict | None, bool, str | None]] = {}
    todo: list[FileRecord] = []
    out = ParseOutcome()
    with paused_gc():
        # Cache hits are read here: cheaper than shipping their facts back from a worker.
        for r in records:
            if r.status != "ok":
                continue
            facts = None if cache is None else cache.get(extractor_version(r.language), r.sha256)
            if facts is None:
                todo.append(r)
            else:
                results[(r.corpus, r.path)] = (facts, False, None)
        tasks = [(r.abspath, r.language, r.sha256, None if cache_dir is None else str(cache_dir)) for r in todo]
        workers = workers or default_workers()

        def collect(it):
            for i, (rec, res) in enumerate(zip(todo, it, strict=True), 1):
                results[(rec.corpus, rec.path)] = res
                if progress and (i % 200 == 0 or i == len(todo)):
                    progress(i, len(todo))

        if workers > 1 and len(tasks) >= POOL_MIN_FILES:
            with ProcessPoolExecutor(workers, mp_context=_pool_context(), initializer=gc.disable) as pool:
                chunk = max(1, min(64, len(tasks) // (workers * 8)))
                collect(pool.map(_extract_one, tasks, chunksize=chunk))
        else:
            collect(map(_extract_one, tasks))

    for rec in records:
        res = results.get((rec.corpus, rec.path))
        if res is None:
            out.records.append(rec)
            continue
        facts, reparsed, reason = res
        out.reparsed += reparsed
        out.cache_hits += not reparsed
        if facts is None:
            out.records.append(replace(rec, status="failed", reason=reason))
            continue
        errors = int(facts.get("errors", 0) or 0)
        if errors:
            rec = replace(rec, status="partial",
                          reason=f"{errors} syntax error node(s); facts kept for the rest of the file")
        out.records.append(rec)
        out.parsed.append(ParsedFile(rec.corpus, rec.path, rec.language, rec.sha256, facts))
    return out
