"""Finding a corpus's source files: sorted, deterministic, never leaving the root."""

from __future__ import annotations

import fnmatch
import functools
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from graphmer_core.errors import GraphmerError
from graphmer_core.parsing import SUFFIXES

# Folder names skipped everywhere: hidden, vendored, build output, caches, virtualenvs.
DEFAULT_EXCLUDE = (
    ".*", "__pycache__", "node_modules", "build", "dist", "target", "vendor", "third_party",
    "venv", "site-packages", "*.egg-info",
)
DEFAULT_MAX_BYTES = 2_000_000


@dataclass(frozen=True)
class Corpus:
    """A named source tree. `exclude` holds globs matched against folder names and relative paths;
    `package_roots` (folders under the root) name Python modules, overriding what the tree declares."""

    name: str
    root: Path
    exclude: tuple[str, ...] = DEFAULT_EXCLUDE
    max_bytes: int = DEFAULT_MAX_BYTES
    package_roots: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if not self.name or not self.name.replace("_", "").replace("-", "").isalnum():
            raise ValueError(f"corpus name {self.name!r} must be non-empty letters, digits, '-' or '_'")
        object.__setattr__(self, "root", Path(self.root).resolve())


class EmptyCorpus(GraphmerError):
    """A corpus root holds no source file at all: a wrong path, not a KG that fails its gates."""


@dataclass(frozen=True)
class Candidate:
    corpus: str
    path: str  # posix, relative to the corpus root
    abspath: str
    language: str


@dataclass
class Discovery:
    candidates: list[Candidate] = field(default_factory=list)
    # (path, reason) of files seen but not offered to a parser: symlinks out of the root, etc.
    skipped: list[tuple[str, str]] = field(default_factory=list)


def _excluded(name: str, rel: str, patterns: tuple[str, ...]) -> bool:
    match = _matcher(patterns)
    return match(name) is not None or match(rel) is not None


@functools.lru_cache(maxsize=64)
def _matcher(patterns: tuple[str, ...]):
    """All globs as one regex (what fnmatchcase compiles each of them to): one match per name
    instead of one per pattern, which counted for a second on the JDK's 15,000 files."""
    if not patterns:
        return lambda _text: None
    return re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in patterns)).match


def _utf8(name: str) -> bool:
    """Whether a name from the file system is valid UTF-8 (else Python holds its bytes as lone
    surrogates, which no Parquet string, JSON document or module name can carry)."""
    if name.isascii():
        return True
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _escaped(rel: str) -> str:
    r"""A path with its undecodable bytes written as `\xNN`, for the file table."""
    return os.fsencode(rel).decode("utf-8", "backslashreplace")


def discover(corpus: Corpus) -> Discovery:
    """Walk the corpus root in sorted order and pick `.py` and `.java` files."""
    root = corpus.root
    if not root.is_dir():
        raise FileNotFoundError(f"corpus {corpus.name!r}: root {root} is not a directory; check the path "
                                f"(--corpus NAME=PATH or configs/corpora.yaml)")
    out = Discovery()

    def unlisted(exc: OSError) -> None:  # os.walk would drop a folder it cannot list without a word
        rel = os.path.relpath(exc.filename, root).replace(os.sep, "/")
        out.skipped.append((rel, f"folder not listed: {exc.strerror or exc}"))

    inside = str(root) if str(root) == os.sep else str(root) + os.sep
    for dirpath, dirnames, filenames in os.walk(root, onerror=unlisted, followlinks=False):
        reldir = os.path.relpath(dirpath, root)
        reldir = "" if reldir == "." else reldir.replace(os.sep, "/")
        kept = []
        for d in sorted(dirnames):
            rel = f"{reldir}/{d}" if reldir else d
            if _excluded(d, rel, corpus.exclude):
                continue
            if not _utf8(d):
                out.skipped.append((_escaped(rel), "folder name is not valid UTF-8"))
                continue
            if os.path.islink(os.path.join(dirpath, d)):
                # os.walk does not descend into it; record why its files are missing.
                out.skipped.append((rel, "symlinked folder not followed"))
                continue
            kept.append(d)
        dirnames[:] = kept
        for fname in sorted(filenames):
            language = SUFFIXES.get(os.path.splitext(fname)[1])
            if language is None:
                continue
            rel = f"{reldir}/{fname}" if reldir else fname
            if _excluded(fname, rel, corpus.exclude):
                continue
            if not _utf8(fname):
                out.skipped.append((_escaped(rel), "file name is not valid UTF-8"))
                continue
            full = os.path.join(dirpath, fname)
            if os.path.islink(full):
                target = os.path.realpath(full)
                if not target.startswith(inside):
                    out.skipped.append((rel, "symlink points outside the corpus root"))
                    continue
            out.candidates.append(Candidate(corpus.name, rel, full, language))
    out.candidates.sort(key=lambda c: c.path)
    out.skipped.sort()
    if not out.candidates:
        seen = f" ({len(out.skipped)} skipped, e.g. {out.skipped[0][0]}: {out.skipped[0][1]})" if out.skipped else ""
        names = " or ".join(SUFFIXES)
        raise EmptyCorpus(f"corpus {corpus.name!r}: no {names} files under {root}{seen}; "
                          f"point the corpus at a source tree (--corpus NAME=PATH or configs/corpora.yaml)")
    return out
