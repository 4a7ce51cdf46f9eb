"""Atomic writes and sha256 stamps: a crash never leaves a half file under a real name."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from graphmer_core.errors import GraphmerError

CHUNK = 1 << 20


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def code_digest(root: Path, parts: tuple[str, ...]) -> str:
    """sha256 over the .py and .scm files under `root`/part (folders or files), with their paths:
    the version of the code an artifact depends on."""
    h = hashlib.sha256()
    for part in parts:
        base = root / part
        for f in sorted(base.rglob("*")) if base.is_dir() else [base]:
            if f.suffix in (".py", ".scm"):
                h.update(f.relative_to(root).as_posix().encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:16]


def canonical_json(obj: Any) -> bytes:
    """The one byte form a JSON value is hashed in: sorted keys, no whitespace, no NaN/Infinity."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def sha256_json(obj: Any) -> str:
    return sha256_bytes(canonical_json(obj))


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temp path beside `path`; rename it into place only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: str | os.PathLike, data: bytes, fsync: bool = True) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        if fsync:
            fh.flush()
            os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_json_atomic(path: str | os.PathLike, obj: Any) -> None:
    write_bytes_atomic(path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode())


class IntegrityError(GraphmerError, ValueError):
    """A file does not match the sha256 its manifest recorded (or is missing): changed on disk."""


def verify_checksums(root: str | os.PathLike, expected: dict[str, str]) -> None:
    """Raise IntegrityError, naming the file, if any file under `root` named in `expected` is missing
    or does not hash to its recorded sha256. Nothing is cached: every read-back hashes afresh."""
    for rel, digest in expected.items():
        path = Path(root) / rel
        try:
            actual = sha256_file(path)
        except FileNotFoundError:
            raise IntegrityError(f"{path}: missing, though its manifest lists it") from None
        if actual != digest:
            raise checksum_mismatch(path, digest, actual)


def checksum_mismatch(path: str | os.PathLike, expected: str, actual: str, remedy: str = "rebuild it"
                      ) -> IntegrityError:
    """The error for a file whose bytes no longer hash to the sha256 recorded when it was written."""
    return IntegrityError(f"checksum mismatch for {path}: expected sha256 {expected}, got {actual} "
                          f"(changed since it was written; {remedy})")


def fsync_dir(path: str | os.PathLike) -> None:
    """Flush a folder's entries, so a rename inside it survives a power cut."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_dir(path: str | os.PathLike, replace: bool = False) -> Iterator[Path]:
    """Yield an empty temp folder beside `path` (`.<name>.<pid>.tmp`); if the block succeeds, fsync
    its files and rename it to `path`, so a reader sees the whole folder or none of it. On failure
    the temp folder is removed; after a hard crash it stays behind under its dot name.
    `replace=True` moves an existing `path` aside first (removed once the new one is in place)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
        for f in tmp.iterdir():
            if f.is_file():
                with open(f, "rb") as fh:
                    os.fsync(fh.fileno())
        fsync_dir(tmp)
        old = None
        if replace and path.exists():
            old = path.with_name(f".{path.name}.{os.getpid()}.deleting")
            os.replace(path, old)
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old)


def remove_dir(path: str | os.PathLike) -> None:
    """Delete a folder by renaming it to a dot name first: a crash midway never leaves a half folder
    under its real name."""
    path = Path(path)
    trash = path.with_name(f".{path.name}.{os.getpid()}.deleting")
    os.replace(path, trash)
    fsync_dir(path.parent)
    shutil.rmtree(trash)
