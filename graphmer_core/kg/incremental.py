"""Resolved rows cached between builds, so a rebuild re-resolves what a change reaches.

Java, per file: a file's entities and triples are cached under (resolver code version, corpus,
path, content sha256) with the lookups they depend on: every lookup its resolution made in the
corpus's index of declarations (a type by qualified name, a type by package and simple name, a
package, a member type's name; found or not), its own and those of the memos it used, whichever file filled them
(graphmer_core.kg.java.types). A lookup's value is the summary of the file declaring what it found
("" for nothing): that file's package, imports and declarations without line numbers
(graphmer_core.kg.summaries). A rebuild re-evaluates each lookup some cached file made against the
new index, and reuses a file whose lookups all find what they found: an edit inside a method body
re-resolves that file alone; a signature edit, a renamed class, a changed import, an added or a
deleted file re-resolve the files whose lookups reach the files changed, one round (a file's rows
depend on the other files' summaries, never on their rows). The lookups are one table per corpus
(`LookupTable`: each key once, with the value it had in the last build; keys no file uses any more
are dropped once they are most of it), each file's entry the indices of its keys. Java corpora are
resolved each on its own, so a change in one never re-resolves another.

Python, per group: the points-to fixpoint lets values flow between all files of all Python corpora
of a build (a return value inferred from a function body reaches its callers' receivers), so a
file's result cannot be bounded by summaries yet. All Python corpora of a build are cached as one
entry under the code version, package roots and every file's (corpus, path, sha256): any change
re-resolves them all (mode "corpus" in the manifest), an unchanged group is reused whole.

The code version in each key covers parsing/ and the resolution modules of kg/ (all but
NOT_RESOLUTION), so an edit of the gates or the store keeps the cache. Entries live in one file
under `cache/resolve/` (RowStore), each checked by its sha256. A source's entry holds what its
reuse is decided on, with the crc32 of its rows' entity ids and triple heads and their counts; its
rows, marshalled tuples, are the entry beside it (key + ROWS). A rebuild checks every reused
source's rows but decodes only those that may hold a key it patches (resolution.BuildRows): a
one-file rebuild of java.base decoded 3,090 files' rows to read one file's.
"""

from __future__ import annotations

import functools
import hashlib
import marshal
import mmap
import os
import threading
import uuid
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graphmer_core.artifacts import code_digest
from graphmer_core.kg.resolution import BuildRows, Cached, ParsedFile, Resolved, decode_rows, encode_rows
from graphmer_core.kg.java.types import ANY
from graphmer_core.kg.summaries import JavaCorpus
from graphmer_core.parsing.batch import paused_gc
from graphmer_core.parsing.cache import FORMAT, prefetch


PACKAGE_ROOT = Path(__file__).resolve().parent.parent
# Modules of kg/ that resolution does not run: editing them keeps the cached rows (any other module
# there, the extractors in parsing/ included, is part of the resolver's code version).
NOT_RESOLUTION = frozenset({"arrow.py", "build.py", "manifest.py", "quality.py", "store.py", "validation.py"})
ROWS_FILE = f"rows-{FORMAT}.bin"
SHOWN = 50  # re-resolved files listed per group in the manifest
PRUNE_MIN = 4096  # lookup keys below which a corpus's table is never pruned
PATCH_MAX_SHARE = 0.1  # more of the rows changed than this: the build makes its tables anew
PACKAGES, WHOLE = "<packages>", "<whole>"  # the sources that are no file: a corpus's packages, a group
ROWS = ":rows"  # a source's entry holds what its reuse is decided on; its rows are the entry of key + ROWS


@functools.cache
def resolver_code_version() -> str:
    kg = sorted(p.name for p in (PACKAGE_ROOT / "kg").iterdir() if p.name not in NOT_RESOLUTION)
    return code_digest(PACKAGE_ROOT, ("parsing", *(f"kg/{name}" for name in kg)))


def _key(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


class RowStore:
    """The cached rows: one file of payloads, then the marshalled index {key: (group, offset,
    length, sha256)}, the index's offset (8 bytes) and its sha256 (32). Rewritten whole (temp +
    rename) at the end of a build with the entries it used or made, and those of groups (corpora)
    it did not touch: one sequential write, where SQLite spent 2.4 s per JDK build on its journal
    and pages. A file or index that does not check is an empty cache; an entry whose sha256 does
    not match is a miss. Nothing is decoded before its sha256 is checked."""

    def __init__(self, root: str | os.PathLike):
        self.file = Path(root) / ROWS_FILE
        self.index: dict[str, tuple[str, int, int, bytes]] = {}
        self.meta: dict[str, Any] = {}  # what the build that wrote the file says of it (ResolveCache)
        self.data: Any = b""
        self.kept: dict[str, tuple[str, Any, bytes]] = {}  # key -> (group, payload, sha256)
        self.touched: set[str] = set()
        try:
            with open(self.file, "rb") as fh:
                self.data = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
            at = int.from_bytes(self.data[-40:-32], "little")
            raw = self.data[at:-40]
            if hashlib.sha256(raw).digest() == self.data[-32:]:  # marshal decodes only checked bytes
                head = marshal.loads(raw)
                if isinstance(head, dict) and isinstance(head.get("entries"), dict):
                    self.index, self.meta = head["entries"], head.get("meta") or {}
        except (OSError, ValueError, EOFError, TypeError, IndexError):
            self.index, self.meta = {}, {}

    def old(self, key: str) -> Any:
        """The payload `key` had in the file as this build found it (checked), whatever this build
        did with it since; None if it had none."""
        entry = self.index.get(key)
        if entry is None:
            return None
        payload = self.data[entry[1]:entry[1] + entry[2]]
        return payload if hashlib.sha256(payload).digest() == entry[3] else None

    def reused(self, key: str) -> bool:
        """Whether this build kept `key`'s payload as it found it (read, not replaced)."""
        kept = self.kept.get(key)
        return kept is not None and kept[2] != b"" and key in self.index

    def get(self, group: str, key: str) -> bytes | None:
        self.touched.add(group)
        entry = self.index.get(key)
        if entry is None or entry[0] != group:
            return None
        payload = self.data[entry[1]:entry[1] + entry[2]]
        if hashlib.sha256(payload).digest() != entry[3]:
            return None
        self.kept[key] = (group, payload, entry[3])
        return payload

    def discard(self, key: str) -> None:
        """Leave an entry out of the next rows file (one read, or put, in this build)."""
        self.kept.pop(key, None)

    def put(self, group: str, key: str, payload: bytes) -> None:
        self.touched.add(group)
        self.kept[key] = (group, payload, b"")  # its sha256 is taken in commit (off the build's thread)

    def commit(self, meta: dict[str, Any] | None = None) -> None:
        for key, (group, off, n, digest) in self.index.items():
            if group not in self.touched and key not in self.kept:
                self.kept[key] = (group, self.data[off:off + n], digest)
        parts, index, at = [], {}, 0
        for key, (group, payload, digest) in self.kept.items():
            parts.append(payload)
            index[key] = (group, at, len(payload), digest or hashlib.sha256(payload).digest())
            at += len(payload)
        raw = marshal.dumps({"entries": index, "meta": meta or {}})
        parts += [raw, at.to_bytes(8, "little"), hashlib.sha256(raw).digest()]
        self.close()
        # temp + rename, no fsync: a cache, and a torn file reads as empty
        tmp = self.file.with_name(f".{self.file.name}.{os.getpid()}.tmp")
        self.file.parent.mkdir(parents=True, exist_ok=True)
        try:
            with open(tmp, "wb") as fh:
                fh.writelines(parts)  # no joined copy of a few hundred MB
            os.replace(tmp, self.file)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def close(self) -> None:
        if isinstance(self.data, mmap.mmap):
            self.data.close()
        self.data = b""


class LookupTable:
    """The lookup keys the cached files of one Java corpus depend on, each once, with the value it
    had in the last build; files hold indices into `keys`. Append-only, so the indices of files
    kept from earlier builds stay valid, until `prune` drops the keys no file uses any more (and
    renumbers every file's); a table read back damaged or missing starts a new `generation`, and a
    file entry of another generation is a miss."""

    def __init__(self, state: Any = None):
        ok = (isinstance(state, dict) and isinstance(state.get("generation"), str)
              and isinstance(state.get("keys"), list) and isinstance(state.get("values"), list)
              and len(state["keys"]) == len(state["values"]))
        self.generation: str = state["generation"] if ok else uuid.uuid4().hex
        self.keys: list[str] = state["keys"] if ok else []
        self.values: list[str] = state["values"] if ok else []
        self.checked: int = state.get("checked", 0) if ok else 0  # its size when last pruned
        self.index = {k: i for i, k in enumerate(self.keys)}

    def changed(self, value) -> set[int]:
        """Indices of the keys whose value is not what it was; the table takes the new values."""
        now = [value(k) for k in self.keys]
        out = {i for i, (a, b) in enumerate(zip(now, self.values, strict=True)) if a != b}
        self.values = now
        return out

    def indices(self, keys: frozenset[str], value) -> bytes:
        """A file's keys as indices (uint32, sorted), new keys added with their value now."""
        keys = list(keys)
        out = [self.index.get(k) for k in keys]
        if None in out:
            for j, k in enumerate(keys):
                if out[j] is None:
                    out[j] = self.index[k] = len(self.keys)
                    self.keys.append(k)
                    self.values.append(value(k))
        out.sort()
        return array("I", out).tobytes()

    def prune(self, reads: dict[str, bytes]) -> dict[str, bytes]:
        """Once the table has doubled since it was last pruned (renamed and deleted code leaves
        keys behind), drop the keys none of `reads` (every cached file's) uses if they are most of
        it: the files' reads renumbered, for those to be stored again; else nothing."""
        if len(self.keys) <= max(PRUNE_MIN, 2 * self.checked):
            return {}
        used = sorted(set().union(*(array("I", r) for r in reads.values())))
        if 2 * len(used) > len(self.keys):
            self.checked = len(self.keys)
            return {}
        new = {old: i for i, old in enumerate(used)}  # increasing: each file's stays sorted
        self.keys = [self.keys[i] for i in used]
        self.values = [self.values[i] for i in used]
        self.index = {k: i for i, k in enumerate(self.keys)}
        self.checked = len(self.keys)
        return {path: array("I", [new[i] for i in array("I", r)]).tobytes() for path, r in reads.items()}

    def state(self) -> bytes:
        return marshal.dumps({"generation": self.generation, "keys": self.keys, "values": self.values,
                              "checked": self.checked})


@dataclass
class ResolveStats:
    """What a build re-resolved, per (language, corpus): the manifest's `resolve` section."""

    groups: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, label: str, mode: str, files: int, resolved: int, paths: list[str] | None = None,
            workers: int = 1) -> None:
        """`paths`: the files re-resolved, listed (the first SHOWN) when others were reused;
        `workers`: the processes that resolved them."""
        self.groups[label] = {"mode": mode, "files": files, "resolved": resolved, "reused": files - resolved,
                              "workers": workers}
        if paths and resolved < files:
            self.groups[label]["resolved_paths"] = sorted(paths)[:SHOWN]

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
    """Resolution through the cache: passed to `resolution.resolve(cache=...)`.

    Besides the rows, it tells the build what changed since the version the rows file was written
    for (`kg_version`, recorded in the file): `fresh`, the rows of every source (a file, a group
    resolved whole, a corpus's packages; by (group, path)) resolved in this build, and `previous`,
    the rows the sources of that version that this build did not reuse had then. A key (entity id,
    triple key) whose rows no source changed (`changed_keys`) has the same rows from the same
    sources in the same order in both builds, so the builder may patch that version's tables
    (graphmer_core.kg.store.Patch). `previous` is None when the rows file is not that version's,
    or that build left some source's rows out of the cache (a resolver error), or most changed."""

    def __init__(self, root: str | os.PathLike, kg_version: str | None = None, previous_version: str | None = None,
                 workers: int = 1):
        """`workers`: processes that resolve a corpus's files when many must be (JavaCorpus.resolve_all)."""
        self.store = RowStore(root)
        self.workers = workers
        self.code = resolver_code_version()
        self.kg_version, self.previous_version = kg_version, previous_version
        self._writer: threading.Thread | None = None
        self._failed: BaseException | None = None
        self.stats = ResolveStats()
        self.fresh: dict[tuple[str, str], Resolved] = {}
        self.previous: dict[tuple[str, str], Resolved] | None = None
        meta = self.store.meta
        # Only a rows file of the current version can be patched from: otherwise (a cold build, a
        # first build of other corpora) nothing is kept for it, not even references.
        self._patchable = (previous_version is not None and meta.get("kg_version") == previous_version
                           and bool(meta.get("complete")))
        self._groups: set[str] = set()
        self._complete = True  # every source's rows are in the store (else the next build cannot patch)
        self._not_rows: set[str] = set()  # keys of entries that hold no rows (lookup tables)

    def __enter__(self) -> ResolveCache:
        return self

    def __exit__(self, exc_type, *exc) -> None:
        """Write the rows file on a thread (hashing and writing a few hundred MB release the GIL),
        so it overlaps the build's tables; `wait()` joins it."""
        if exc_type is None:
            self.previous = self._previous()
            self._writer = threading.Thread(target=self._commit, name="graphmer-resolve-cache")
            self._writer.start()
        else:
            self.store.close()

    def _previous(self) -> dict[tuple[str, str], Resolved] | None:
        if not self._patchable:
            return None
        groups = set(self.store.meta.get("groups") or ())
        gone = [k for k, (group, *_) in self.store.index.items()
                if group in groups and k not in self._not_rows and not self.store.reused(k)]
        if len(gone) > PATCH_MAX_SHARE * len(self.store.index):
            return None
        out: dict[tuple[str, str], Resolved] = {}
        for key in gone:
            if key.endswith(ROWS):
                continue
            try:
                head = marshal.loads(self.store.old(key))
                if isinstance(head, dict) and "n" in head:  # a source's (else another table, of a corpus gone)
                    out[(self.store.index[key][0], head["source"])] = decode_rows(self.store.old(key + ROWS))
            except (ValueError, EOFError, TypeError, KeyError):
                return None  # what it held is unknown
        return out

    def _fresh(self, group: str, source: str, rows: Resolved) -> None:
        if self._patchable:
            self.fresh[(group, source)] = rows

    def _commit(self) -> None:
        try:
            self.store.commit({"kg_version": self.kg_version, "groups": sorted(self._groups),
                               "complete": self._complete})
        except BaseException as exc:  # noqa: BLE001 -- handed to wait(), on the build's thread
            self._failed = exc

    def wait(self) -> None:
        """The rows file is written (or the error writing it is raised here)."""
        if self._writer is not None:
            self._writer.join()
            self._writer = None
        if self._failed is not None:
            exc, self._failed = self._failed, None
            raise exc

    def _load(self, group: str, key: str) -> Any:
        """An entry's decoded payload (its sha256 checked first), None on a miss."""
        payload = self.store.get(group, key)
        if payload is None:
            return None
        try:
            return marshal.loads(payload)
        except (ValueError, EOFError, TypeError):
            return None

    def resolve_corpus(self, module: Any, language: str, corpus: str, files: list[ParsedFile]) -> BuildRows:
        """One corpus of a language resolved on its own (files in path order)."""
        if language != "java":
            return self._whole(module.resolve, (corpus, files), language, {corpus: files}, None)
        group = f"java:{corpus}"
        self._groups.add(group)
        table_key = _key(self.code, corpus, "<lookups>")
        self._not_rows.add(table_key)
        lookups = LookupTable(self._load(group, table_key))
        summaries_key = _key(self.code, corpus, "<summaries>")
        self._not_rows.add(summaries_key)
        # millions of acyclic tuples: the cyclic collector waits (as in java.resolve)
        with paused_gc(), JavaCorpus(corpus, files, self._load(group, summaries_key)) as jc:
            summaries = marshal.dumps(jc.known())
            changed = lookups.changed(jc.value)
            packages = jc.packages()
            self._fresh(group, PACKAGES, packages)  # made in every build: stored (below) for the next one
            keys = {f.path: _key(self.code, corpus, f.path, f.sha256) for f in files}
            rows: dict[str, Resolved | Cached] = {}
            reads: dict[str, bytes] = {}  # of the files cached
            for f in files:
                hit = self._reusable(group, keys[f.path], lookups.generation, changed)
                if hit is not None:
                    rows[f.path], reads[f.path] = hit
                else:  # out of date: it must not outlive this build beside the new lookup values
                    self._forget(keys[f.path])
            todo = [f.path for f in files if f.path not in rows]
            workers = jc.pool_size(len(todo), self.workers)
            for path, fresh, looked_up, encoded in jc.resolve_all(todo, workers):
                rows[path] = fresh
                self._fresh(group, path, fresh)
                # a file the resolver failed on is tried again next time, as is one that read a
                # cycle guard (its lookups are not all known)
                if not fresh.errors and ANY not in looked_up:
                    reads[path] = lookups.indices(looked_up, jc.value)
                    self._put(group, keys[path], fresh, encoded, source=path, generation=lookups.generation,
                              reads=reads[path])
                else:
                    self._complete = False
        for path, renumbered in lookups.prune(reads).items():
            again = rows[path]
            again = again.load() if isinstance(again, Cached) else again
            self._put(group, keys[path], again, source=path, generation=lookups.generation, reads=renumbered)
            self._fresh(group, path, again)  # stored again, with the rows it had: no key changed
        self.store.put(group, table_key, lookups.state())
        self._put(group, _key(self.code, corpus, "<packages>"), packages, source=PACKAGES)
        self.store.put(group, summaries_key, summaries)
        self.stats.add(group, "per_file", len(files), len(todo), todo, workers)
        return BuildRows([packages, *(rows[f.path] for f in files)])  # the order of a cold build

    def _reusable(self, group: str, key: str, generation: str, changed: set[int]) -> tuple[Cached, bytes] | None:
        """A Java file's cached rows (still encoded) and reads, if its entry is of this lookup
        table and no lookup it depends on finds anything else now."""
        head = self._load(group, key)
        try:
            if head["generation"] != generation or not changed.isdisjoint(array("I", head["reads"])):
                return None
        except (TypeError, KeyError, ValueError):  # no entry, or one of another shape
            return None
        rows = self._cached(group, key, head)
        return None if rows is None else (rows, head["reads"])

    def _cached(self, group: str, key: str, head: Any) -> Cached | None:
        """A source's rows as the cache holds them (their sha256 checked), decoded when read."""
        try:
            names, (entities, triples) = head["names"], head["n"]
        except (TypeError, KeyError, ValueError):
            return None
        payload = self.store.get(group, key + ROWS)
        if payload is None or not isinstance(names, bytes) or not isinstance(entities, int) or not isinstance(
                triples, int):
            return None
        return Cached(functools.partial(decode_rows, payload), names, entities, triples)

    def _forget(self, key: str) -> None:
        """Leave a source's entry and its rows out of the next rows file."""
        self.store.discard(key)
        self.store.discard(key + ROWS)

    def _put(self, group: str, key: str, rows: Resolved, encoded: tuple = (), **head: Any) -> None:
        """A source's entry: what its reuse is decided on, with its rows' names and counts; and its
        rows, apart, so that a build reusing it decodes them only if it reads them. `encoded`: the
        rows' payload and names, where a resolve worker made them."""
        payload, names = encoded or encode_rows(rows)
        head |= {"names": names, "n": (len(rows.entities), len(rows.triples))}
        self.store.put(group, key, marshal.dumps(head))
        self.store.put(group, key + ROWS, payload)

    def resolve_together(self, module: Any, language: str, by_corpus: dict[str, list[ParsedFile]],
                         package_roots: dict[str, Any] | None) -> BuildRows:
        """All corpora of a language resolved together: cached as one entry (see the docstring)."""
        return self._whole(lambda: module.resolve_corpora(by_corpus, package_roots=package_roots), (),
                           language, by_corpus, package_roots)

    def _whole(self, fn, args, language, by_corpus, package_roots) -> BuildRows:
        roots = repr(sorted((c, package_roots.get(c)) for c in by_corpus)) if package_roots else ""
        key = _key(self.code, language, roots,
                   *(f"{c}\t{f.path}\t{f.sha256}" for c, fs in sorted(by_corpus.items()) for f in fs))
        n = sum(len(fs) for fs in by_corpus.values())
        group = f"{language}:{'+'.join(sorted(by_corpus))}"
        self._groups.add(group)
        hit = self._cached(group, key, self._load(group, key))
        if hit is not None:
            self.stats.add(group, "corpus", n, 0)
            return BuildRows([hit])
        self._forget(key)
        prefetch(f.facts for fs in by_corpus.values() for f in fs)  # every file's bodies, in a few queries
        out = fn(*args)
        self._fresh(group, WHOLE, out)
        if not out.errors:  # a failed part is retried (and reported again) by the next build
            self._put(group, key, out, source=WHOLE)
        else:
            self._complete = False
        self.stats.add(group, "corpus", n, n)
        return BuildRows([out])
