"""The source files behind a KG version, read back as text and checked against the KG's hashes.

A dataset pairs code with the KG built from that very code: a file that changed on disk since the
KG was built would put triples on the wrong lines, so it is skipped with its reason.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from graphmer_core.data.config import DatasetConfig


@dataclass(frozen=True)
class Source:
    corpus: str
    path: str
    language: str
    sha256: str  # of the file's bytes, as recorded by the KG
    text: str  # the body: the file without its leading comment block when headers are stripped
    header_lines: int  # lines removed from the top (line numbers of the body start after them)


@dataclass(frozen=True)
class Sources:
    files: list[Source]  # sorted by (corpus, path)
    skipped: list[dict]  # {corpus, path, reason}


_PY_HEADER = re.compile(r"(?:[ \t]*(?:#[^\n]*)?(?:\n|$))*")
_JAVA_HEADER = re.compile(r"(?:\s+|//[^\n]*|/\*(?!\*)(?:[^*]|\*(?!/))*\*/)*")


def strip_header(text: str, language: str) -> tuple[str, int]:
    """Drop the leading comment block (licence, shebang, coding line) of a file; a Python module
    docstring and a Java doc comment (`/** ... */`) stay. Returns (body, lines removed); the body
    starts at the beginning of a line so that its line numbers are the file's minus that count."""
    pattern = _PY_HEADER if language == "python" else _JAVA_HEADER
    end = pattern.match(text).end()
    end = text.rfind("\n", 0, end) + 1  # back to the start of the line the body begins on
    return text[end:], text.count("\n", 0, end)


def unit_hash(*parts: str) -> float:
    """A deterministic number in [0, 1) from strings (hash order for samples and split buckets)."""
    return int(hashlib.sha256("\0".join(parts).encode()).hexdigest()[:15], 16) / 16**15


def read_sources(kg_dir: Path, corpus_roots: dict[str, str], config: DatasetConfig) -> Sources:
    """The usable files of a KG version that the dataset config selects, as stripped text."""
    files = pq.read_table(kg_dir / "files.parquet",
                          columns=["corpus", "path", "language", "sha256", "status"]).to_pylist()
    known = sorted({f["corpus"] for f in files})
    wanted = set(config.corpora or known)
    if missing := sorted(wanted - set(known)):
        raise ValueError(f"dataset config names corpora {missing} that KG {kg_dir.name} does not hold "
                         f"(it has {known})")
    chosen: dict[str, list[dict]] = {}
    for f in files:
        if f["corpus"] in wanted and f["status"] in ("ok", "partial") and f["language"]:
            chosen.setdefault(f["corpus"], []).append(f)
    if config.max_files is not None:  # a fixed sample per corpus, spread over its tree
        chosen = {c: sorted(fs, key=lambda f: unit_hash(f["corpus"], f["path"]))[:config.max_files]
                  for c, fs in chosen.items()}
    def read(f: dict) -> Source | dict:
        where = Path(corpus_roots[f["corpus"]]) / f["path"]
        try:
            data = where.read_bytes()
        except OSError as exc:
            return {**_where(f), "reason": f"unreadable: {exc.strerror or exc}"}
        if hashlib.sha256(data).hexdigest() != f["sha256"]:
            return {**_where(f), "reason": "changed on disk since the KG was built"}
        text = data.decode("utf-8", errors="replace")
        body, header = strip_header(text, f["language"]) if config.strip_headers else (text, 0)
        return Source(f["corpus"], f["path"], f["language"], f["sha256"], body, header)

    rows = sorted((f for fs in chosen.values() for f in fs), key=lambda f: (f["corpus"], f["path"]))
    # One thread: the files were just read by the KG build (page cache), and a pool's threads
    # hand the GIL back and forth around every short read and hash (2 threads: 0.62 s, 1: 0.33 s)
    read_back = [read(f) for f in rows]
    return Sources([r for r in read_back if isinstance(r, Source)], [r for r in read_back if isinstance(r, dict)])


def _where(f: dict) -> dict:
    return {"corpus": f["corpus"], "path": f["path"]}
