"""What one file exports to the resolution of the others, hashed; per-file resolution of Java.

A Java file's summary is its package, imports and declarations (types with their supertypes and
annotations, methods with their signatures and flags, fields with their types) with every line
number zeroed: what other files' resolution reads of it (the imports too, since a supertype or a
parameter type written in this file is named through them). Method bodies (calls, locals, news,
lambdas, ...) are not in it, so an edit inside a body, even one that moves lines, leaves the
summary unchanged.
"""

from __future__ import annotations

import gc
import hashlib
import marshal
import multiprocessing as mp
import threading
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from graphmer_core.kg.resolution import ParsedFile, Resolved
from graphmer_core.parsing.batch import POOL_MIN_FILES

# Facts a Java file exports, and the positions of line numbers in their rows (zeroed in the summary).
_JAVA_EXPORTED = {"types": (3, 4), "methods": (2, 3), "fields": (2, 3)}
_JAVA_ANNOTATIONS = {"types": 8, "methods": 8, "fields": 5}  # [[name, line], ...] in each row


def _unlined(key: str, row: list) -> list:
    row = list(row)
    for i in _JAVA_EXPORTED[key]:
        row[i] = 0
    a = _JAVA_ANNOTATIONS[key]
    if len(row) > a:
        row[a] = [[an[0], 0] for an in row[a]]
    return row


def java_summary(pf: ParsedFile) -> str:
    """sha256 of what a Java file exports (see the module docstring)."""
    facts = pf.facts
    exported = [pf.path, facts.get("package", "") or "",
                [[name, static, on_demand] for name, static, on_demand, _line in facts.get("imports", ())]]
    exported += [[_unlined(key, row) for row in facts.get(key, ())] for key in _JAVA_EXPORTED]
    return hashlib.sha256(marshal.dumps(exported)).hexdigest()


def corpus_summary(summaries: Iterable[str]) -> str:
    """One hash of the summaries of a corpus's files (in path order)."""
    h = hashlib.sha256()
    for s in summaries:
        h.update(s.encode())
    return h.hexdigest()


# The resolver a pool worker emits from: set before the pool forks, so each worker inherits the
# corpus's index instead of building its own.
_FORKED: dict[str, Any] = {}


def pack(rows: Resolved) -> bytes:
    """A file's rows as the cache stores them (and a pool worker sends them back)."""
    return marshal.dumps({"entities": rows.entities, "triples": rows.triples})


def unpack(payload: dict[str, Any]) -> Resolved:
    return Resolved(entities=payload["entities"], triples=payload["triples"])


def _emit(r: Any, unit: tuple) -> Resolved:
    """One file's rows, standing alone: its external entities too, even where another file
    emitted them first (the emitter's `ext_seen` is reset per file)."""
    from graphmer_core.kg.java.emit import FileEmitter

    r.ext_seen = set()
    r.out = Resolved()
    FileEmitter(r, *unit).emit()
    return r.out


def _emit_forked(indexes: list[int]) -> list[bytes]:
    r = _FORKED["resolver"]
    return [pack(_emit(r, r.files[i])) for i in indexes]


def resolve_java_files(corpus: str, files: list[ParsedFile], todo: set[str], workers: int = 1
                       ) -> tuple[Resolved, dict[str, tuple[Resolved, bytes]]]:
    """(the corpus's package entities, {path: (that file's rows, packed)}) for the files in
    `todo`, each against the index of all of `files`, on `workers` forked processes where there
    are enough files (and fork is safe). Each file's rows stand alone, so they can be cached and
    reused beside any other files' rows; duplicates go where the KG builder deduplicates rows."""
    from graphmer_core.kg.java.emit import Resolver
    from graphmer_core.kg.java.model import LANG

    paused = gc.isenabled()
    gc.disable()  # as java.resolve: millions of acyclic tuples, no garbage cycles
    try:
        r = Resolver(corpus, [f for f in files if f.language == LANG])
        try:
            every = r.files
            r.files = []
            packages = r.run()  # the package entities alone: no file to emit
            r.files = every
            chosen = [i for i, (f, _t, _m) in enumerate(every) if f.pf.path in todo]
            per_file: dict[str, tuple[Resolved, bytes]] = {}
            # fork only: the workers inherit the index (a Dagster step runs threads: then serial)
            if (workers > 1 and len(chosen) >= POOL_MIN_FILES and threading.active_count() == 1
                    and "fork" in mp.get_all_start_methods()):
                payloads = _emit_pool(r, chosen, workers)
            else:
                payloads = None
            for n, i in enumerate(chosen):
                path = every[i][0].pf.path
                if payloads is None:
                    rows = _emit(r, every[i])
                    per_file[path] = (rows, pack(rows))
                else:
                    per_file[path] = (unpack(marshal.loads(payloads[n])), payloads[n])
            return packages, per_file
        finally:
            r.release()
    finally:
        if paused:
            gc.enable()


def _emit_pool(r: Any, chosen: list[int], workers: int) -> list[bytes]:
    """Each chosen file's packed rows, emitted by forked workers that share the parent's index."""
    _FORKED["resolver"] = r
    try:
        per = max(1, len(chosen) // (workers * 4))
        chunks = [chosen[k:k + per] for k in range(0, len(chosen), per)]
        with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork"), initializer=gc.disable) as pool:
            return [p for part in pool.map(_emit_forked, chunks) for p in part]
    finally:
        _FORKED.clear()
