"""The file index of one or more corpora: every file seen, its sha256 and whether it is usable."""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from graphmer_core.corpus.discovery import Corpus, discover
from graphmer_core.corpus.reading import read_source


@dataclass(frozen=True)
class FileRecord:
    corpus: str
    path: str
    abspath: str | None
    language: str | None
    sha256: str | None
    size_bytes: int
    status: str  # ok | partial | skipped | failed
    reason: str | None

    def row(self) -> dict:
        return {k: getattr(self, k) for k in ("corpus", "path", "language", "sha256", "size_bytes",
                                               "status", "reason")}


def index_corpora(corpora: list[Corpus], cache: str | os.PathLike | None = None) -> list[FileRecord]:
    """Discover, read and hash every file; unusable files stay in the index with their reason.

    With `cache` (a folder), a file whose size, mtime, ctime and inode match what was recorded
    for it is not read again: its recorded sha256 and status stand, as git's index does. Files
    changed in the last seconds before a recording are never recorded (their mtime may not yet
    tell a later change apart)."""
    names = [c.name for c in corpora]
    if len(set(names)) != len(names):
        raise ValueError(f"corpus names must be unique, got {names}")
    records: list[FileRecord] = []
    for corpus in corpora:
        found = discover(corpus)
        for rel, reason in found.skipped:
            records.append(FileRecord(corpus.name, rel, None, None, None, 0, "skipped", reason))
        stats = _StatCache(Path(cache) / f"{corpus.name}.json", corpus) if cache is not None else None
        for c in found.candidates:
            hit = stats.get(c.path, c.abspath) if stats is not None else None
            if hit is None:
                r = read_source(c.abspath, corpus.max_bytes)
                hit = (r.sha256, r.size, r.status, r.reason)
                if stats is not None:
                    stats.put(c.path, hit)
            sha256, size, status, reason = hit
            records.append(FileRecord(c.corpus, c.path, c.abspath, c.language, sha256, size, status, reason))
        if stats is not None:
            stats.save()
    records.sort(key=lambda r: (r.corpus, r.path))
    return records


class _StatCache:
    """path -> (stat signature, sha256, size, status, reason) of one corpus, as a JSON file."""

    RACY_NS = 2_000_000_000  # files modified this close to the recording are not recorded

    def __init__(self, path: Path, corpus: Corpus):
        self.path, self.scope = path, f"{corpus.root}\t{corpus.max_bytes}"
        self.entries: dict[str, list] = {}
        self.stats: dict[str, tuple] = {}
        self.dirty = False
        try:
            data = json.loads(path.read_text())
            if isinstance(data, dict) and data.get("scope") == self.scope and isinstance(data.get("files"), dict):
                self.entries = data["files"]
        except (OSError, ValueError):
            pass  # a missing or damaged cache only costs rereading the files
        self.seen: set[str] = set()

    def get(self, rel: str, abspath: str) -> tuple | None:
        self.seen.add(rel)
        try:
            st = os.stat(abspath)
        except OSError:
            return None  # read_source says why
        sig = (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
        self.stats[rel] = sig
        entry = self.entries.get(rel)
        if _well_formed(entry) and tuple(entry[0]) == sig:
            return tuple(entry[1:])
        return None

    def put(self, rel: str, result: tuple) -> None:
        sig = self.stats.get(rel)
        if sig is None or result[2] == "failed":
            self.entries.pop(rel, None)
            return
        self.entries[rel] = [list(sig), *result]
        self.dirty = True

    def save(self) -> None:
        gone = set(self.entries) - self.seen
        for rel in gone:
            del self.entries[rel]
        if not (self.dirty or gone):
            return
        now = time.time_ns()
        keep = {rel: e for rel, e in self.entries.items() if now - max(e[0][1], e[0][2]) > self.RACY_NS}
        from graphmer_core.artifacts import write_bytes_atomic

        write_bytes_atomic(self.path, json.dumps({"scope": self.scope, "files": keep},
                                                 separators=(",", ":")).encode(), fsync=False)


def _well_formed(entry) -> bool:
    """[stat signature, sha256, size, status, reason] as `put` writes it: anything else (a damaged or
    hand-edited cache) is a miss, never a record."""
    return (type(entry) is list and len(entry) == 5 and type(entry[0]) is list and len(entry[0]) == 4
            and (entry[1] is None or type(entry[1]) is str) and type(entry[2]) is int
            and entry[3] in ("ok", "partial", "skipped") and (entry[4] is None or type(entry[4]) is str))


def fingerprint(records: list[FileRecord], salt: str = "") -> str:
    """sha256 over the sorted (corpus, path, language, sha256, status) of every file, plus `salt`."""
    h = hashlib.sha256(salt.encode())
    for r in records:
        h.update(f"{r.corpus}\t{r.path}\t{r.language}\t{r.sha256}\t{r.status}\n".encode())
    return h.hexdigest()


INDEX_COLUMNS = ("corpus", "path", "abspath", "language", "sha256", "size_bytes", "status", "reason")


def write_index(records: list[FileRecord], path, metadata: dict[str, str] | None = None) -> str:
    """Persist an index as Parquet, and its sha256 beside it (`<name>.sha256`), each atomically;
    returns the sha256. read_index checks the one against the other."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from graphmer_core.artifacts import sha256_bytes, write_bytes_atomic

    table = pa.Table.from_pylist([{c: getattr(r, c) for c in INDEX_COLUMNS} for r in records],
                                 schema=pa.schema([(c, pa.int64() if c == "size_bytes" else pa.string())
                                                   for c in INDEX_COLUMNS]))
    table = table.replace_schema_metadata({k.encode(): v.encode() for k, v in (metadata or {}).items()})
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    data = sink.getvalue().to_pybytes()
    digest = sha256_bytes(data)
    write_bytes_atomic(path, data)
    write_bytes_atomic(_digest_file(path), f"{digest}  {Path(path).name}\n".encode())
    return digest


def read_index(path) -> tuple[list[FileRecord], dict[str, str]]:
    """The index at `path`, read only if its bytes hash to the sha256 written beside them
    (IntegrityError, naming the file, if not: another process changed it since)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from graphmer_core.artifacts import IntegrityError, checksum_mismatch, sha256_bytes

    path = Path(path)
    try:
        data = path.read_bytes()
        recorded = _digest_file(path).read_text().split()[0]
    except (FileNotFoundError, IndexError):
        raise IntegrityError(f"{path}: missing, or without the sha256 written beside it (materialize "
                             f"source_files again)") from None
    if (actual := sha256_bytes(data)) != recorded:
        raise checksum_mismatch(path, recorded, actual, "materialize source_files again")
    table = pq.read_table(pa.BufferReader(data))
    meta = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
    return [FileRecord(**row) for row in table.to_pylist()], meta


def _digest_file(path) -> Path:
    return Path(path).with_name(Path(path).name + ".sha256")
