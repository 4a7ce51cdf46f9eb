"""Per-file extraction results cached by (content sha256, extractor version).

The entries live in one SQLite file rather than one file per source file: a cold JDK build used
to create 15k files in 256 folders, and their metadata writes made build times here swing by up
to 40%. Writes are transactions, so a crash leaves the entries committed before it. Each entry
carries the sha256 of its payload: one that does not match (bit rot, tampering) is treated as
missing and recomputed, never trusted; a database file that cannot be read is moved aside and the
cache starts empty.

Payloads are the facts in `marshal` format, which a pool worker also uses to send them back: 3x
faster to write than JSON, and facts are only plain lists, strings, numbers and None. marshal's
format is specific to a Python version, so the file name carries it and another interpreter
starts its own cache. A file's facts are kept in parts marshalled apart (`PARTS`): its types in one
table (`heads`), its members and bodies in another (`rests`), each entry with its sha256. A build
reads every file's head, and a file's rest only when some resolution looks into its types' members
or resolves the file again (`Facts`; many at once with `prefetch`): a one-file rebuild of java.base
read 23 MB of facts to use the types of every file (1.6 MB), the members of a few, the body of one.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import sqlite3
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from graphmer_core.faults import crash_point

FORMAT = f"marshal{marshal.version}-py{sys.version_info.major}{sys.version_info.minor}"
FILE = f"facts-v2-{FORMAT}.sqlite"
OLD_FILES = (f"facts-{FORMAT}.sqlite",)  # whole payloads in one table: removed by the first open of FILE
TABLES = ("heads", "rests")
_SCHEMA = """CREATE TABLE IF NOT EXISTS {table} (
    version TEXT NOT NULL, sha256 TEXT NOT NULL, stamp TEXT NOT NULL, payload BLOB NOT NULL,
    PRIMARY KEY (version, sha256)) WITHOUT ROWID"""


class ParseCache:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.file = self.root / FILE
        self._con: sqlite3.Connection | None = None
        self._pid = os.getpid()

    def _connect(self) -> sqlite3.Connection:
        if self._pid != os.getpid():  # a forked child (a resolve worker): SQLite's connections do not cross fork
            self._inherited, self._con, self._pid = self._con, None, os.getpid()  # kept: closing it is the parent's
        if self._con is None:
            self.root.mkdir(parents=True, exist_ok=True)
            for old in OLD_FILES:
                for suffix in ("", "-wal", "-shm"):
                    (self.root / (old + suffix)).unlink(missing_ok=True)
            try:
                self._con = _open(self.file)
            except sqlite3.OperationalError:
                raise  # locked or unwritable: a real problem, not a corrupt file
            except sqlite3.DatabaseError:
                # Not a database (truncated, overwritten): keep it for inspection, start afresh.
                self.file.rename(self.file.with_name(f"{FILE}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}"))
                for suffix in ("-wal", "-shm"):
                    self.file.with_name(FILE + suffix).unlink(missing_ok=True)
                self._con = _open(self.file)
        return self._con

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None

    def __enter__(self) -> ParseCache:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def get(self, version: str, sha256: str) -> Mapping[str, Any] | None:
        """A file's facts, or None (a miss)."""
        head = self.get_many(version, [sha256]).get(sha256)
        return None if head is None else Facts(head, Rests(self, version), sha256)

    def get_many(self, version: str, shas: Iterable[str]) -> dict[str, bytes]:
        """The heads (checked, not decoded: see `Facts`) of many entries, in a few queries rather
        than one per file (3,000 point queries were a third of reading java.base's cached facts);
        the misses are absent."""
        return self._read("heads", version, shas)

    def rests(self, version: str, shas: Iterable[str]) -> dict[str, bytes]:
        """The rests (members and bodies, checked) of many entries; the misses are absent."""
        return self._read("rests", version, shas)

    def _read(self, table: str, version: str, shas: Iterable[str]) -> dict[str, bytes]:
        con = self._connect()
        wanted = list(dict.fromkeys(shas))
        out: dict[str, bytes] = {}
        for i in range(0, len(wanted), GET_MANY_CHUNK):
            chunk = wanted[i:i + GET_MANY_CHUNK]
            rows = con.execute(f"SELECT sha256, stamp, payload FROM {table} WHERE version = ? AND sha256 IN "
                               f"({', '.join('?' * len(chunk))})", (version, *chunk))
            out.update((sha, payload) for sha, stamp, payload in rows
                       if hashlib.sha256(payload).hexdigest() == stamp)
        return out

    def cached(self, version: str) -> set[str]:
        """The sha256 of every file whose facts this cache holds for an extractor version (a key
        scan of the heads): how much of a build the cache will serve, known before it starts."""
        if not self.file.exists():
            return set()
        rows = self._connect().execute("SELECT sha256 FROM heads WHERE version = ?", (version,))
        return {sha for (sha,) in rows}

    def put_many(self, entries: Iterable[tuple[str, str, tuple[bytes, bytes]]]) -> None:
        """Store (version, sha256, (head, rest)) entries (`encode`) in one transaction."""
        con = self._connect()
        entries = list(entries)
        with con:
            for part, table in enumerate(TABLES):
                con.executemany(f"INSERT OR REPLACE INTO {table} VALUES (?, ?, ?, ?)",
                                ((v, s, hashlib.sha256(p[part]).hexdigest(), p[part]) for v, s, p in entries))
            crash_point("parse_cache.write")  # rows written, not committed


GET_MANY_CHUNK = 500  # keys per query: under SQLite's bound on parameters, old versions' 999 included
WAIT_S = 120  # other builds may be writing: how long to wait for their commit


def _open(file: Path) -> sqlite3.Connection:
    # Facts read their rests on the thread that reads them (the Python resolver's has a deep
    # stack): one thread at a time, so the connection may change threads.
    con = sqlite3.connect(file, timeout=WAIT_S, check_same_thread=False)
    try:
        _wal(con)  # readers never wait for a writer
        con.execute("PRAGMA synchronous=NORMAL")  # a power cut may lose the last commits, never corrupt
        for table in TABLES:
            con.execute(_SCHEMA.format(table=table))
    except sqlite3.DatabaseError:
        con.close()
        raise
    return con


def _wal(con: sqlite3.Connection) -> None:
    """Switch to WAL. Two processes opening a new cache at once race for the switch, and SQLite
    answers the loser "database is locked" at once, without its busy handler: retry until
    WAIT_S."""
    deadline = time.monotonic() + WAIT_S
    while True:
        try:
            con.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


# A file's facts in parts, each marshalled on its own and decoded on first use (`Facts`), then one
# more part for every other key. What a build reads of every file, changed or not: the package,
# imports and types (the Java type index), the parse status. The members, of the files whose types
# other files' resolution reaches. The bodies (calls, locals, news, ...), of the files a build
# resolves again.
PARTS = (frozenset({"package", "imports", "types", "errors"}), frozenset({"methods", "fields"}))


# The parts in the head: the types. The members and the bodies are the rest: fetching the members
# of the few files a one-file rebuild looks into, one query each, cost less than reading every
# file's (java.base: a body edit 0.91 s against 0.94).
HEAD = 1
REST = len(PARTS) + 1 - HEAD


def encode(facts: dict[str, Any]) -> tuple[bytes, bytes]:
    """(head, rest): each part marshalled, then the head's together and the rest's together."""
    parts: list[dict[str, Any]] = [{} for _ in range(len(PARTS) + 1)]
    for k, v in facts.items():
        parts[_WHERE.get(k, -1)][k] = v
    encoded = tuple(marshal.dumps(p) for p in parts)
    return marshal.dumps(encoded[:HEAD]), marshal.dumps(encoded[HEAD:])


_WHERE = {key: i for i, keys in enumerate(PARTS) for key in keys}  # a key in no part: the last one


class Rests:
    """Where a build's cached facts get their rests: fetched one file at a time when first read,
    or many at once (`prefetch`) where a build will read them all."""

    def __init__(self, cache: ParseCache, version: str):
        self.cache, self.version = cache, version
        self.held: dict[str, bytes] = {}  # prefetched, until each file of that content read it
        self.readers: Counter[str] = Counter()
        self.fallback: dict[str, Callable[[], bytes]] = {}  # sha256 -> its rest made again (batch.py)

    def prefetch(self, shas: Iterable[str]) -> None:
        shas = list(shas)
        self.readers.update(shas)
        self.held.update(self.cache.rests(self.version, (s for s in dict.fromkeys(shas) if s not in self.held)))

    def get(self, sha: str) -> tuple[bytes, ...]:
        """A file's rest, as its marshalled parts."""
        rest = self.held.get(sha)
        if rest is not None:
            self.readers[sha] -= 1
            if self.readers[sha] <= 0:  # its last reader (files of equal content share it)
                del self.held[sha], self.readers[sha]
        else:
            rest = self.cache.rests(self.version, [sha]).get(sha)
        try:
            return _parts(rest, REST)
        except (ValueError, EOFError, TypeError):  # gone, damaged or of another shape: parsed again, if it can be
            again = self.fallback.get(sha)
            if again is None:
                raise KeyError(f"the cached facts of {sha[:12]} have no members and bodies") from None
            return _parts(again(), REST)


def prefetch(facts: Iterable[Mapping[str, Any]]) -> None:
    """Fetch, in a few queries, the rests of those of these files' cached facts that have not
    been read: before a build reads them all (the files it resolves again)."""
    by_rests: dict[int, tuple[Rests, list[str]]] = {}
    for f in facts:
        if isinstance(f, Facts) and f._rest is not None:
            by_rests.setdefault(id(f._rest), (f._rest, []))[1].append(f._sha)
    for rests, shas in by_rests.values():
        rests.prefetch(shas)


class Facts(Mapping):
    """A file's facts, each part (`PARTS`) decoded when one of its keys is first read; the rest
    (members and bodies) fetched from its `Rests` first, if it came from the cache. Read-only,
    like every consumer of facts."""

    __slots__ = ("_raw", "_parts", "_rest", "_sha", "_all")

    def __init__(self, head: bytes, rest: bytes | Rests, sha: str = ""):
        fetched = isinstance(rest, bytes)
        self._raw: list[bytes | None] = [*_parts(head, HEAD), *(_parts(rest, REST) if fetched else [None] * REST)]
        self._parts: list[dict[str, Any] | None] = [None] * (len(PARTS) + 1)
        self._rest, self._sha = None if fetched else rest, sha
        self._all: dict[str, Any] | None = None

    def _decoded(self, i: int) -> dict[str, Any]:
        part = self._parts[i]
        if part is None:
            if self._raw[i] is None:
                self._raw[HEAD:], self._rest = self._rest.get(self._sha), None
            part = self._parts[i] = _dict(self._raw[i])
            self._raw[i] = b""
        return part

    def _whole(self) -> dict[str, Any]:
        if self._all is None:
            self._all = {}
            for i in range(len(self._parts)):
                self._all.update(self._decoded(i))
        return self._all

    def decoded(self) -> int:
        """How many of its parts have been decoded."""
        return sum(p is not None for p in self._parts)

    def get(self, key: str, default: Any = None) -> Any:
        return self._decoded(_WHERE.get(key, -1)).get(key, default)

    def __getitem__(self, key: str) -> Any:
        return self._decoded(_WHERE.get(key, -1))[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._whole())

    def __len__(self) -> int:
        return len(self._whole())

    def __repr__(self) -> str:
        return f"Facts({self._whole()!r})"


def _parts(raw: bytes | None, n: int) -> tuple[bytes, ...]:
    parts = marshal.loads(raw)  # None: TypeError
    if not (isinstance(parts, tuple) and len(parts) == n and all(isinstance(p, bytes) for p in parts)):
        raise TypeError(f"cached facts hold a {type(parts).__name__}, not {n} marshalled parts")
    return parts


def _dict(raw: bytes) -> dict[str, Any]:
    value = marshal.loads(raw)
    if not isinstance(value, dict):
        raise TypeError(f"cached facts hold a {type(value).__name__}, not a dict")
    return value
