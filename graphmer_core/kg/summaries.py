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
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from graphmer_core.kg.resolution import ParsedFile, Resolved, decode_rows, encode_rows

# Facts a Java file exports, and the positions of line numbers in their rows (zeroed in the summary).
_JAVA_EXPORTED = {"types": (3, 4), "methods": (2, 3), "fields": (2, 3)}
_JAVA_ANNOTATIONS = {"types": 8, "methods": 8, "fields": 5}  # [[name, line], ...] in each row
# marshal's format 2 writes equal values as equal bytes. From format 3 on, the bytes also say which
# strings are interned and which objects are shared (by reference count), so a summary hashed in
# format 4 changed with what else the process held: 415 of the JDK's files were re-resolved in the
# first rebuild after a cold build, for values that had not changed.
CANONICAL = 2


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
    return hashlib.sha256(marshal.dumps(exported, CANONICAL)).hexdigest()


class JavaCorpus:
    """One Java corpus's index, its files resolved one at a time, each with the lookups its rows
    depend on (graphmer_core.kg.java.types): `resolve(path)` gives a file's rows and the keys of
    what it read of other files, `value(key)` what such a key reads in this index (compared with
    the value a cached file read to know whether it still holds).

    `resolve_all` resolves many files in forked workers that share this index: each warms the
    index's lazy memos on its own, so a worker resolves contiguous runs of paths (a package's files
    read the same types), and few files are resolved here (`POOL_MIN_FILES`)."""

    def __init__(self, corpus: str, files: list[ParsedFile], known: Any = None):
        """`known`: {path: (sha256, summary)} of an earlier build, reused for files of that content."""
        from graphmer_core.kg.java.emit import Resolver
        from graphmer_core.kg.java.model import LANG

        java = [f for f in files if f.language == LANG]
        known = known if isinstance(known, dict) else {}
        self.summaries = {}
        for f in java:
            hit = known.get(f.path)
            ok = isinstance(hit, tuple) and len(hit) == 2 and hit[0] == f.sha256 and isinstance(hit[1], str)
            self.summaries[f.path] = hit[1] if ok else java_summary(f)
        self.shas = {f.path: f.sha256 for f in java}
        self.r = Resolver(corpus, java)
        self.units = {unit.pf.path: unit for unit in self.r.files}

    def known(self) -> dict[str, tuple[str, str]]:
        """The summaries, for the next build's `known`."""
        return {path: (self.shas[path], summary) for path, summary in self.summaries.items()}

    def __enter__(self) -> JavaCorpus:
        return self

    def __exit__(self, *exc) -> None:
        self.r.release()

    def packages(self) -> Resolved:
        """The corpus's package entities (no file's rows)."""
        r = self.r
        every, r.files = r.files, []
        try:
            return r.run()
        finally:
            r.files = every

    def resolve(self, path: str) -> tuple[Resolved, frozenset[str]]:
        """A file's rows, standing alone (its external entities too, even where another file
        emitted them first, so that they can be reused beside any other files' rows; the KG
        builder deduplicates), and the lookup keys they depend on."""
        from graphmer_core.kg.java.emit import FileEmitter

        r = self.r
        r.ext_seen = set()
        r.out = Resolved()
        r.frame, r.deps = set(), set()
        FileEmitter(r, self.units[path]).emit()
        return r.out, r.reads()

    @staticmethod
    def pool_size(files: int, workers: int) -> int:
        """How many processes `resolve_all` should resolve so many files in, of `workers`: 1 (this
        one) for fewer than POOL_MIN_FILES, or where forking is not safe (`fork_context`)."""
        if workers < 2 or files < max(POOL_MIN_FILES, 2) or fork_context() is None:
            return 1
        return min(workers, files)

    def resolve_all(self, paths: list[str], workers: int) -> Iterator[tuple[str, Resolved, frozenset[str], tuple]]:
        """(path, rows, lookup keys, (encoded rows, key_names) or ()) of each path, in their order,
        as `resolve` gives them: here, or in `workers` (`pool_size`) forked processes, which send
        each file's rows encoded as the resolve cache stores them, so they are encoded once."""
        context = fork_context() if workers > 1 else None
        if context is None:
            _prefetch(self, paths)
            for path in paths:
                yield path, *self.resolve(path), ()
            return
        global _FORKED
        n = -(-len(paths) // (workers * RUNS_PER_WORKER))
        runs = [paths[i:i + n] for i in range(0, len(paths), n)]
        for stream in (sys.stdout, sys.stderr):  # a forked child flushes its copy of their buffers
            stream.flush()
        _FORKED = self
        try:
            with ProcessPoolExecutor(min(workers, len(runs)), mp_context=context, initializer=gc.disable) as pool:
                results = pool.map(_resolve_run, runs)  # forks every worker, at the first submit
                _FORKED = None
                for done in results:
                    for path, payload, names, errors, looked_up in marshal.loads(done):
                        yield path, decode_rows(payload, errors), looked_up, (payload, names)
        finally:
            _FORKED = None

    def value(self, key: str) -> str:
        """What a lookup key finds in this index: the summary of the file declaring the type found
        (its content, and where it is), "" for none; for a package, whether it exists."""
        kind, _, rest = key.partition("\0")
        if kind == "p":
            return "1" if dict.__contains__(self.r.pkg_types, rest) else ""
        if kind == "n":
            return "1" if rest in self.r.nested_names else ""
        if kind == "t":
            t = dict.get(self.r.types, rest)
        elif kind == "m":
            package, _, name = rest.partition("\0")
            members = dict.get(self.r.pkg_types, package)
            t = dict.get(members, name) if members is not None else None
        else:  # ANY (or a key of a newer format): never the same
            return "\0changed"
        return "" if t is None else self.summaries[t.file.pf.path]


POOL_MIN_FILES = 128  # fewer files are resolved here (forking, and each worker's warm-up of the memos, cost more)
RUNS_PER_WORKER = 4  # contiguous runs of paths per worker: balance against the memos each warms again
_FORKED: JavaCorpus | None = None  # the corpus the forked workers resolve in, inherited, never pickled
# Threads a fork may leave behind, since what they hold the workers never use (a lock a thread holds
# at the fork stays held in the child): the previous version's reader (store.Previous, in DuckDB and
# Arrow), tqdm's monitor of its bars, and in a Dagster step multiprocessing's queue feeder (of the
# step's events) and Dagster's termination handler, which waits for a signal.
FORK_SAFE_THREADS = ("graphmer-previous", "tqdm_monitor", "QueueFeederThread", "termination-handler")


def fork_context() -> mp.context.BaseContext | None:
    """fork, while this process runs no thread but this one and those of FORK_SAFE_THREADS; else
    None (resolve here). The index is this process's: a forkserver or spawned worker would have to
    build it again."""
    if "fork" not in mp.get_all_start_methods():
        return None
    me = threading.current_thread()
    if any(t is not me and not t.name.startswith(FORK_SAFE_THREADS) for t in threading.enumerate()):
        return None
    return mp.get_context("fork")


def _resolve_run(paths: list[str]) -> bytes:
    """In a forked worker: `resolve` of each path, the rows encoded as the resolve cache keeps them."""
    jc = _FORKED
    assert jc is not None, "resolve_all's workers are forked from the process that holds the corpus"
    _prefetch(jc, paths)
    out = []
    for path in paths:
        rows, looked_up = jc.resolve(path)
        out.append((path, *encode_rows(rows), rows.errors, looked_up))
    return marshal.dumps(out)


def _prefetch(jc: JavaCorpus, paths: list[str]) -> None:
    """The members and bodies of files about to be resolved, in a few queries (parsing.cache)."""
    from graphmer_core.parsing.cache import prefetch

    prefetch(jc.units[path].pf.facts for path in paths)
