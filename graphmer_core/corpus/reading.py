"""Safe reading of one source file: bytes, sha256, and why it cannot be used if it cannot.

A corpus is untrusted input: a `.py` name may hold a FIFO (a plain open would wait forever for a
writer), a device, binary data, another encoding or a file of hundreds of megabytes. The file is
opened without blocking and checked to be a regular file before anything is read, and at most
`max_bytes + 1` bytes are read, so no file can hang the build or fill its memory.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass

_KINDS = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISDIR, "a folder"))


@dataclass(frozen=True)
class ReadResult:
    data: bytes | None  # None when the file is unusable
    sha256: str | None
    size: int
    reason: str | None  # why it was skipped or failed
    status: str  # ok | skipped | failed


def read_source(path: str, max_bytes: int) -> ReadResult:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        return ReadResult(None, None, 0, f"unreadable: {exc.strerror or exc}", "failed")
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = next((what for test, what in _KINDS if test(st.st_mode)), "not a regular file")
            return ReadResult(None, None, 0, f"not a regular file: {kind}", "skipped")
        if st.st_size > max_bytes:  # told by the size alone: nothing is read
            return ReadResult(None, None, st.st_size, _oversized(st.st_size, max_bytes), "skipped")
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        return ReadResult(None, None, 0, f"unreadable: {exc.strerror or exc}", "failed")
    finally:
        os.close(fd)
    size = len(data)
    if size > max_bytes:  # grew since fstat
        return ReadResult(None, None, size, _oversized(size, max_bytes), "skipped")
    digest = hashlib.sha256(data).hexdigest()
    if b"\x00" in data[:8192]:
        return ReadResult(None, digest, size, "binary: NUL byte in the first 8 KiB", "skipped")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return ReadResult(None, digest, size, f"not UTF-8: byte {exc.start}", "skipped")
    return ReadResult(data, digest, size, None, "ok")


def _oversized(size: int, max_bytes: int) -> str:
    return f"oversized: {size:,} bytes, more than max_bytes {max_bytes:,} (raise the corpus's max_bytes to parse it)"
