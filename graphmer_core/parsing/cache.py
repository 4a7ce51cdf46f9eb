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
starts its own cache. A payload holds a file's facts in parts marshalled apart (`PARTS`), so a
build decodes the members and bodies only of the files it needs them of (`Facts`).
"""

from __future__ import annotations

import functools
import hashlib
import marshal
import os
import sqlite3
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from graphmer_core.faults import crash_point

FORMAT = f"marshal{marshal.version}-py{sys.version_info.major}{sys.version_info.minor}"
FILE = f"facts-{FORMAT}.sqlite"
_SCHEMA = """CREATE TABLE IF NOT EXISTS facts (
    version TEXT NOT NULL, sha256 TEXT NOT NULL, stamp TEXT NOT NULL, payload BLOB NOT NULL,
    PRIMARY KEY (version, sha256)) WITHOUT ROWID"""


class ParseCache:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.file = self.root / FILE
        self._con: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._con is None:
            self.root.mkdir(parents=True, exist_ok=True)
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
        return decoded(self.get_many(version, [sha256]).get(sha256))

    def get_many(self, version: str, shas: Iterable[str]) -> dict[str, bytes]:
        """The payloads (checked, not decoded: see `decode`) of many entries, in a few queries
        rather than one per file (3,000 point queries were a third of reading java.base's cached
        facts); the misses are absent."""
        con = self._connect()
        wanted = list(dict.fromkeys(shas))
        out: dict[str, bytes] = {}
        for i in range(0, len(wanted), GET_MANY_CHUNK):
            chunk = wanted[i:i + GET_MANY_CHUNK]
            rows = con.execute(f"SELECT sha256, stamp, payload FROM facts WHERE version = ? AND sha256 IN "
                               f"({', '.join('?' * len(chunk))})", (version, *chunk))
            out.update((sha, payload) for sha, stamp, payload in rows
                       if hashlib.sha256(payload).hexdigest() == stamp)
        return out

    def cached(self, version: str) -> set[str]:
        """The sha256 of every file whose facts this cache holds for an extractor version (a key
        scan, no payload read): how much of a build the cache will serve, known before it starts."""
        if not self.file.exists():
            return set()
        rows = self._connect().execute("SELECT sha256 FROM facts WHERE version = ?", (version,))
        return {sha for (sha,) in rows}

    def put_many(self, entries: Iterable[tuple[str, str, bytes]]) -> None:
        """Store (version, sha256, payload) entries in one transaction."""
        con = self._connect()
        with con:
            con.executemany("INSERT OR REPLACE INTO facts VALUES (?, ?, ?, ?)",
                            ((v, s, hashlib.sha256(p).hexdigest(), p) for v, s, p in entries))
            crash_point("parse_cache.write")  # rows written, not committed


GET_MANY_CHUNK = 500  # keys per query: under SQLite's bound on parameters, old versions' 999 included
WAIT_S = 120  # other builds may be writing: how long to wait for their commit


def _open(file: Path) -> sqlite3.Connection:
    con = sqlite3.connect(file, timeout=WAIT_S)
    try:
        _wal(con)  # readers never wait for a writer
        con.execute("PRAGMA synchronous=NORMAL")  # a power cut may lose the last commits, never corrupt
        con.execute(_SCHEMA)
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


# A payload's parts, each marshalled on its own and decoded on first use (`Facts`), then one more
# part for every other key. What a build reads of every file, changed or not: the package, imports
# and types (the Java type index), the parse status. The members, of the files whose types other
# files' resolution reaches. The rest, the bodies (calls, locals, news, ...), only of the files a
# build resolves again: a one-file rebuild of java.base decoded 24 MB of facts to read a tenth.
PARTS = (frozenset({"package", "imports", "types", "errors"}), frozenset({"methods", "fields"}))
_SPLIT_IN_TWO = (PARTS[0] | PARTS[1],)  # the parts of the payloads written before the members' own


def encode(facts: dict[str, Any]) -> bytes:
    parts: list[dict[str, Any]] = [{} for _ in range(len(PARTS) + 1)]
    for k, v in facts.items():
        parts[_part(PARTS, k)][k] = v
    return marshal.dumps(tuple(marshal.dumps(p) for p in parts))


def _part(layout: tuple[frozenset[str], ...], key: str) -> int:
    return _where(layout).get(key, len(layout))


@functools.cache
def _where(layout: tuple[frozenset[str], ...]) -> dict[str, int]:
    """Each key of a layout's parts -> the part's index (a key in none is in the last part)."""
    return {key: i for i, keys in enumerate(layout) for key in keys}


def decode(payload: bytes) -> Mapping[str, Any]:
    parts = marshal.loads(payload)
    if isinstance(parts, dict):  # written before the facts were split: whole
        return parts
    if not (isinstance(parts, tuple) and len(parts) in (2, len(PARTS) + 1)
            and all(isinstance(p, bytes) for p in parts)):
        raise TypeError(f"cached facts are a {type(parts).__name__}, not {len(PARTS) + 1} marshalled parts")
    return Facts(parts, PARTS if len(parts) == len(PARTS) + 1 else _SPLIT_IN_TWO)


def decoded(payload: bytes | None) -> Mapping[str, Any] | None:
    """`decode`, with None for no payload or one that does not decode (a miss: parsed again)."""
    if payload is None:
        return None
    try:
        return decode(payload)
    except (ValueError, EOFError, TypeError):
        return None


class Facts(Mapping):
    """A file's facts, each part (`PARTS`) decoded when one of its keys is first read. Read-only,
    like every consumer of facts."""

    __slots__ = ("_raw", "_parts", "_where", "_all")

    def __init__(self, raw: tuple[bytes, ...], layout: tuple[frozenset[str], ...] = PARTS):
        self._raw = list(raw)
        self._parts: list[dict[str, Any] | None] = [None] * len(raw)
        self._where = _where(layout)
        self._all: dict[str, Any] | None = None

    def _of(self, key: str) -> dict[str, Any]:
        i = self._where.get(key, -1)  # the last part holds the keys of none
        part = self._parts[i]
        if part is None:
            part = self._parts[i] = _dict(self._raw[i])
            self._raw[i] = b""
        return part

    def _whole(self) -> dict[str, Any]:
        if self._all is None:
            self._all = {}
            for i in range(len(self._raw)):
                if self._parts[i] is None:
                    self._parts[i], self._raw[i] = _dict(self._raw[i]), b""
                self._all.update(self._parts[i])
        return self._all

    def decoded(self) -> int:
        """How many of its parts have been decoded."""
        return sum(p is not None for p in self._parts)

    def get(self, key: str, default: Any = None) -> Any:
        return self._of(key).get(key, default)

    def __getitem__(self, key: str) -> Any:
        return self._of(key)[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._whole())

    def __len__(self) -> int:
        return len(self._whole())

    def __repr__(self) -> str:
        return f"Facts({self._whole()!r})"


def _dict(raw: bytes) -> dict[str, Any]:
    value = marshal.loads(raw)
    if not isinstance(value, dict):
        raise TypeError(f"cached facts hold a {type(value).__name__}, not a dict")
    return value
