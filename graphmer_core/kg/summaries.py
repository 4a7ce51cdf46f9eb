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
from collections.abc import Iterable
from typing import Any

from graphmer_core.kg.resolution import ParsedFile, Resolved

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


def pack(rows: Resolved) -> bytes:
    """A file's rows as the cache stores them."""
    return marshal.dumps({"entities": rows.entities, "triples": rows.triples})


def unpack(payload: dict[str, Any]) -> Resolved:
    return Resolved(entities=payload["entities"], triples=payload["triples"])


def resolve_java_files(corpus: str, files: list[ParsedFile], todo: set[str]
                       ) -> tuple[Resolved, dict[str, tuple[Resolved, bytes]]]:
    """(the corpus's package entities, {path: (that file's rows, packed)}) for the files in
    `todo`, each against the index of all of `files`. Each file's rows stand alone (its external
    entities too, even where another file emitted them first), so they can be cached and reused
    beside any other files' rows; duplicates go where the KG builder deduplicates rows.

    One process: emitting on a fork pool that shared this index measured slower on two cores
    (each worker recomputes the index's lazy memos, and the rows cross processes packed)."""
    from graphmer_core.kg.java.emit import FileEmitter, Resolver
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
            per_file: dict[str, tuple[Resolved, bytes]] = {}
            for unit in every:
                if unit[0].pf.path in todo:
                    r.ext_seen = set()  # this file's externals, whoever emitted them first
                    r.out = Resolved()
                    FileEmitter(r, *unit).emit()
                    per_file[unit[0].pf.path] = (r.out, pack(r.out))
            return packages, per_file
        finally:
            r.release()
    finally:
        if paused:
            gc.enable()
