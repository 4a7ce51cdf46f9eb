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
