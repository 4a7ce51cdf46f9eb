"""Syntax facts of a corpus -> entities and triples, dispatched per language.

Each language has a resolver: the package `graphmer_core.kg.<language>` where there is one, else
the module `graphmer_core.kg.resolve_<language>`, with
`resolve(corpus: str, files: list[ParsedFile]) -> Resolved`.
"""

from __future__ import annotations

import importlib
import marshal
import zlib
from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from graphmer_core.kg import schemas
from graphmer_core.kg.ontology import EXTERNAL_KINDS
from graphmer_core.parsing import ParsedFile

if TYPE_CHECKING:
    from graphmer_core.kg.incremental import ResolveCache

__all__ = ["EXTERNAL_CORPUS", "BuildRows", "Cached", "ParsedFile", "Resolved", "resolve", "resolver_errors",
           "with_resolver_errors"]

# The `corpus` of external entities (a corpus name cannot contain "<" or ">").
EXTERNAL_CORPUS = "<external>"


@dataclass
class Resolved:
    """Row tuples in the column order of `schemas.ENTITIES` / `schemas.TRIPLES` (without kg_version):
    tuples, not dicts, because a large corpus has hundreds of thousands and each column is built
    from them.

    Entities may repeat (e.g. one external referenced from many files) and triples may repeat
    (several evidence lines); the KG builder keeps one row per entity_id and per
    (head_id, relation, tail_id), with the first evidence by (path, line).
    """

    entities: list[tuple] = field(default_factory=list)
    triples: list[tuple] = field(default_factory=list)
    # (corpus, path, message): facts a resolver could not resolve (an unexpected exception in one
    # file's or call's), left out while the rest goes on; see `resolver_errors`
    errors: list[tuple[str, str, str]] = field(default_factory=list)

    def extend(self, other: Resolved) -> None:
        self.entities.extend(other.entities)
        self.triples.extend(other.triples)
        self.errors.extend(other.errors)

    def entity_dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(schemas.ENTITIES.names, r, strict=True)) for r in self.entities]

    def triple_dicts(self) -> list[dict[str, Any]]:
        names = schemas.TRIPLES.names[:-1]  # all but kg_version
        return [dict(zip(names, r, strict=True)) for r in self.triples]


@dataclass
class Cached:
    """One source's rows reused from the resolve cache, decoded only if read (`load`): a rebuild
    only counts most of its rows. `names` holds the crc32 of every entity id and triple head among
    them (`key_names`), so a rebuild knows which sources it must decode for the keys it patches."""

    load: Callable[[], Resolved]
    names: bytes
    entities: int
    triples: int


def key_names(rows: Resolved) -> bytes:
    """The crc32 of every entity id and triple head among `rows`, as sorted uint32."""
    ids = {e[0] for e in rows.entities}
    ids.update(t[0] for t in rows.triples)
    return array("I", sorted(map(_crc, ids))).tobytes()


def encode_rows(rows: Resolved) -> tuple[bytes, bytes]:
    """A source's rows as the resolve cache keeps them (graphmer_core.kg.incremental), and their
    `key_names`."""
    return marshal.dumps((rows.entities, rows.triples)), key_names(rows)


def decode_rows(payload: bytes, errors: list[tuple[str, str, str]] | None = None) -> Resolved:
    """`encode_rows`'s payload as rows again."""
    entities, triples = marshal.loads(payload)
    return Resolved(entities, triples, errors or [])


def _crc(text: str) -> int:
    return zlib.crc32(text.encode("utf-8", "surrogatepass"))


class BuildRows:
    """Every source's rows in the order the build concatenates them: resolved in this build
    (Resolved) or reused from the resolve cache (Cached). `whole()` decodes them all; `rows_for`
    only the sources that may hold some of the given keys, all that a patched rebuild reads."""

    def __init__(self, parts: Iterable[Resolved | Cached | BuildRows] = ()) -> None:
        self.parts: list[Resolved | Cached] = []
        self.errors: list[tuple[str, str, str]] = []
        for part in parts:
            self.extend(part)

    def extend(self, other: Resolved | Cached | BuildRows) -> None:
        if isinstance(other, BuildRows):
            self.parts.extend(other.parts)
            self.errors.extend(other.errors)
        else:
            self.parts.append(other)
            if isinstance(other, Resolved):
                self.errors.extend(other.errors)

    def counts(self) -> tuple[int, int]:
        """How many entity rows and triple rows, nothing decoded."""
        entities = triples = 0
        for p in self.parts:
            entities += p.entities if isinstance(p, Cached) else len(p.entities)
            triples += p.triples if isinstance(p, Cached) else len(p.triples)
        return entities, triples

    def whole(self) -> Resolved:
        return self._rows(range(len(self.parts)))

    def rows_for(self, entity_ids: Iterable[str], heads: Iterable[str]) -> Resolved:
        """The rows of every source that may hold one of these entity ids or a triple with one of
        these heads (crc32 matches, so a few more): every row of those keys, in build order."""
        import numpy as np

        want = np.array(sorted({_crc(k) for k in (*entity_ids, *heads)}), dtype=np.uint32)
        cached = [i for i, p in enumerate(self.parts) if isinstance(p, Cached)]
        names = np.frombuffer(b"".join(self.parts[i].names for i in cached), dtype=np.uint32)
        owner = np.repeat(np.array(cached, dtype=np.int64), [len(self.parts[i].names) // 4 for i in cached])
        hit = set(owner[np.isin(names, want)].tolist())
        return self._rows(i for i, p in enumerate(self.parts) if not isinstance(p, Cached) or i in hit)

    def _rows(self, indices: Iterable[int]) -> Resolved:
        out = Resolved(errors=list(self.errors))
        for i in indices:
            part = self.parts[i]
            if isinstance(part, Cached):
                part = part.load()
            out.entities.extend(part.entities)
            out.triples.extend(part.triples)
        out.entities = externals(out.entities)
        return out


def externals(entities: list[tuple]) -> list[tuple]:
    """An external symbol is one entity whatever corpora refer to it: its corpus is its own, so
    the entity row no longer depends on which corpus happened to be resolved first."""
    return [e[:5] + (EXTERNAL_CORPUS,) + e[6:] if e[1] in EXTERNAL_KINDS else e for e in entities]


def resolver_module(language: str):
    name = f"graphmer_core.kg.{language}"
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name != name:
            raise
        return importlib.import_module(f"graphmer_core.kg.resolve_{language}")


def resolve(files: list[ParsedFile], package_roots: dict[str, list[tuple[str, str]] | None] | None = None,
            cache: ResolveCache | None = None) -> Resolved | BuildRows:
    """Resolve every corpus and language in `files`: on its own, or, where the language's resolver
    has `resolve_corpora`, all corpora of that language together (internal ids may then cross
    corpora, each edge labelled as such). `package_roots`: corpus -> the Python package roots it
    declares (graphmer_core.corpus.layout; None or absent: detected from the paths). `cache`
    (graphmer_core.kg.incremental) reuses what earlier builds resolved, with the same rows: then
    the rows come as BuildRows, the reused ones still in the cache."""
    groups: dict[tuple[str, str], list[ParsedFile]] = {}
    for f in files:
        groups.setdefault((f.corpus, f.language), []).append(f)
    out = Resolved() if cache is None else BuildRows()
    together: dict[str, dict[str, list[ParsedFile]]] = {}
    for (corpus, language), group in sorted(groups.items()):
        module = resolver_module(language)
        group = sorted(group, key=lambda f: f.path)
        if hasattr(module, "resolve_corpora"):  # links references across the corpora of a build
            together.setdefault(language, {})[corpus] = group
        elif cache is not None:
            out.extend(cache.resolve_corpus(module, language, corpus, group))
        else:
            out.extend(module.resolve(corpus, group))
    for language, by_corpus in sorted(together.items()):
        module = resolver_module(language)
        if cache is not None:
            out.extend(cache.resolve_together(module, language, by_corpus, package_roots))
        else:
            out.extend(module.resolve_corpora(by_corpus, package_roots=package_roots))
    if isinstance(out, Resolved):
        out.entities = externals(out.entities)
    return out


def resolver_errors(errors: list[tuple[str, str, str]], shown: int = 5) -> dict[str, Any]:
    """The manifest's `resolver_errors`: how many, and the first few as `corpus:path: message`."""
    return {"count": len(errors), "first": [f"{c}:{p}: {m}" for c, p, m in errors[:shown]]}


def with_resolver_errors(records: list, errors: list[tuple[str, str, str]]) -> list:
    """File records (graphmer_core.corpus.index.FileRecord) with those a resolver failed on marked
    `partial`, the reason naming the first failure and how many there were."""
    by_file: dict[tuple[str, str], list[str]] = {}
    for corpus, path, message in errors:
        by_file.setdefault((corpus, path), []).append(message)
    if not by_file:
        return records
    out = []
    for r in records:
        found = by_file.get((r.corpus, r.path))
        if found and r.status in ("ok", "partial"):
            more = f" (+{len(found) - 1} more)" if len(found) > 1 else ""
            reason = f"resolver: {found[0]}{more}"
            r = replace(r, status="partial", reason=f"{r.reason}; {reason}" if r.reason else reason)
        out.append(r)
    return out
