"""The file index of one or more corpora: every file seen, its sha256 and whether it is usable."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

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


def index_corpora(corpora: list[Corpus]) -> list[FileRecord]:
    """Discover, read and hash every file; unusable files stay in the index with their reason."""
    names = [c.name for c in corpora]
    if len(set(names)) != len(names):
        raise ValueError(f"corpus names must be unique, got {names}")
    records: list[FileRecord] = []
    for corpus in corpora:
        found = discover(corpus)
        for rel, reason in found.skipped:
            records.append(FileRecord(corpus.name, rel, None, None, None, 0, "skipped", reason))
        for c in found.candidates:
            r = read_source(c.abspath, corpus.max_bytes)
            records.append(FileRecord(c.corpus, c.path, c.abspath, c.language, r.sha256, r.size,
                                      r.status, r.reason))
    records.sort(key=lambda r: (r.corpus, r.path))
    return records


def fingerprint(records: list[FileRecord], salt: str = "") -> str:
    """sha256 over the sorted (corpus, path, language, sha256, status) of every file, plus `salt`."""
    h = hashlib.sha256(salt.encode())
    for r in records:
        h.update(f"{r.corpus}\t{r.path}\t{r.language}\t{r.sha256}\t{r.status}\n".encode())
    return h.hexdigest()


INDEX_COLUMNS = ("corpus", "path", "abspath", "language", "sha256", "size_bytes", "status", "reason")


def write_index(records: list[FileRecord], path, metadata: dict[str, str] | None = None) -> str:
    """Persist an index as Parquet (atomically); returns its sha256."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from graphmer_core.artifacts import atomic_path, sha256_file

    table = pa.Table.from_pylist([{c: getattr(r, c) for c in INDEX_COLUMNS} for r in records],
                                 schema=pa.schema([(c, pa.int64() if c == "size_bytes" else pa.string())
                                                   for c in INDEX_COLUMNS]))
    table = table.replace_schema_metadata({k.encode(): v.encode() for k, v in (metadata or {}).items()})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
    return sha256_file(path)


def read_index(path) -> tuple[list[FileRecord], dict[str, str]]:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    meta = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
    return [FileRecord(**row) for row in table.to_pylist()], meta
