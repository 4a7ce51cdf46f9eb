"""Safe reading of one source file: bytes, sha256, and why it cannot be used if it cannot."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class ReadResult:
    data: bytes | None  # None when the file is unusable
    sha256: str | None
    size: int
    reason: str | None  # why it was skipped or failed
    status: str  # ok | skipped | failed


def read_source(path: str, max_bytes: int) -> ReadResult:
    try:
        with open(path, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        return ReadResult(None, None, 0, f"unreadable: {exc.strerror or exc}", "failed")
    size = len(data)
    digest = hashlib.sha256(data).hexdigest()
    if size > max_bytes:
        return ReadResult(None, None, size, f"oversized: more than {max_bytes} bytes", "skipped")
    if b"\x00" in data[:8192]:
        return ReadResult(None, digest, size, "binary: NUL byte in the first 8 KiB", "skipped")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return ReadResult(None, digest, size, f"not UTF-8: byte {exc.start}", "skipped")
    return ReadResult(data, digest, size, None, "ok")
