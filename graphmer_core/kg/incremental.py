"""Resolved rows cached between builds, so a rebuild re-resolves what a change reaches.

Java, per file: a file's entities and triples are cached under (resolver code version, corpus,
path, content sha256, the hash of its corpus's Java summaries: graphmer_core.kg.summaries). An edit
that leaves every summary unchanged (a method body) re-resolves that file alone; one that changes a
summary (a signature, a renamed class, a changed import, an added or deleted file) re-resolves
every Java file of that corpus. That key is coarser than "the summaries this file read", and
correct: Java resolution reaches other files through imports, same-package names and whole
hierarchies, so which summaries a file read is not recorded yet. Java corpora are resolved each
on its own, so a change in one never re-resolves another.

Python, per group: the points-to fixpoint lets values flow between all files of all Python corpora
of a build (a return value inferred from a function body reaches its callers' receivers), so a
file's result cannot be bounded by summaries yet. All Python corpora of a build are cached as one
entry under the code version, package roots and every file's (corpus, path, sha256): any change
re-resolves them all (mode "corpus" in the manifest), an unchanged group is reused whole.

Entries live in a `ParseCache` store (one SQLite file, payloads checked by their sha256) under
`cache/resolve/`; rows are marshalled tuples.
"""

from __future__ import annotations

import hashlib
import marshal
import os
from dataclasses import dataclass, field
from typing import Any

from graphmer_core.kg.resolution import ParsedFile, Resolved
from graphmer_core.kg.summaries import corpus_summary, java_summary, resolve_java_files
from graphmer_core.parsing.cache import ParseCache


def _key(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _pack(r: Resolved) -> bytes:
    return marshal.dumps({"entities": r.entities, "triples": r.triples})


def _unpack(facts: dict[str, Any]) -> Resolved:
    return Resolved(entities=facts["entities"], triples=facts["triples"])


@dataclass
class ResolveStats:
    """What a build re-resolved, per (language, corpus): the manifest's `resolve` section."""

    groups: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, label: str, mode: str, files: int, resolved: int) -> None:
        self.groups[label] = {"mode": mode, "files": files, "resolved": resolved, "reused": files - resolved}

    @property
    def resolved(self) -> int:
        return sum(g["resolved"] for g in self.groups.values())

    @property
    def reused(self) -> int:
        return sum(g["reused"] for g in self.groups.values())

    def as_dict(self) -> dict[str, Any]:
        return {"resolved_files": self.resolved, "reused_files": self.reused,
                "groups": dict(sorted(self.groups.items()))}


class ResolveCache:
    """Resolution through the cache: passed to `resolution.resolve(cache=...)`."""

    def __init__(self, root: str | os.PathLike, code_version: str):
        self.store = ParseCache(root)
        self.code = code_version
        self.stats = ResolveStats()

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> ResolveCache:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _get(self, kind: str, key: str) -> Resolved | None:
        facts = self.store.get(kind, key)
        return None if facts is None else _unpack(facts)

    def resolve_corpus(self, module: Any, language: str, corpus: str, files: list[ParsedFile]) -> Resolved:
        """One corpus of a language resolved on its own (files in path order)."""
        if language != "java":
            return self._whole(module.resolve, (corpus, files), language, {corpus: files}, None)
        total = corpus_summary(java_summary(f) for f in files)
        kind = f"java-resolved:{self.code}"
        keys = {f.path: _key(corpus, f.path, f.sha256, total) for f in files}
        cached: dict[str, Resolved] = {}
        for path, key in keys.items():
            hit = self._get(kind, key)
            if hit is not None:
                cached[path] = hit
        todo = {f.path for f in files} - cached.keys()
        packages, fresh = resolve_java_files(corpus, files, todo)
        if fresh:
            self.store.put_many((kind, keys[p], _pack(r)) for p, r in fresh.items())
        self.stats.add(f"java:{corpus}", "per_file", len(files), len(todo))
        out = packages
        for f in files:  # the order of a cold build
            out.extend(cached.get(f.path) or fresh[f.path])
        return out

    def resolve_together(self, module: Any, language: str, by_corpus: dict[str, list[ParsedFile]],
                         package_roots: dict[str, Any] | None) -> Resolved:
        """All corpora of a language resolved together: cached as one entry (see the docstring)."""
        return self._whole(lambda: module.resolve_corpora(by_corpus, package_roots=package_roots), (),
                           language, by_corpus, package_roots)

    def _whole(self, fn, args, language, by_corpus, package_roots) -> Resolved:
        roots = repr(sorted((c, package_roots.get(c)) for c in by_corpus)) if package_roots else ""
        key = _key(roots, *(f"{c}\t{f.path}\t{f.sha256}" for c, fs in sorted(by_corpus.items()) for f in fs))
        kind = f"{language}-resolved:{self.code}"
        n = sum(len(fs) for fs in by_corpus.values())
        label = f"{language}:{'+'.join(sorted(by_corpus))}"
        hit = self._get(kind, key)
        if hit is not None:
            self.stats.add(label, "corpus", n, 0)
            return hit
        out = fn(*args)
        self.store.put_many([(kind, key, _pack(out))])
        self.stats.add(label, "corpus", n, n)
        return out
