"""Process memory settings for numpy-heavy stages.

glibc serves every allocation above its mmap threshold (128 KB to 32 MB) with a fresh mmap and
returns it on free, so each large numpy temporary is new memory that the kernel must fault in and
zero page by page. The dataset build makes gigabytes of such temporaries from 57 MB of source:
a quarter of its CPU went to the kernel. Keeping freed memory in the heap for reuse removes most
of that (and lowers peak RSS, since freed blocks are used again instead of new ones mapped).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from contextlib import contextmanager

# mallopt parameters (malloc.h) and glibc's defaults, restored afterwards
M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_MAX = -1, -2, -4
DEFAULTS = {M_TRIM_THRESHOLD: 128 * 1024, M_TOP_PAD: 128 * 1024, M_MMAP_MAX: 65536}
HELD = {M_TRIM_THRESHOLD: 1 << 30, M_TOP_PAD: 64 << 20, M_MMAP_MAX: 0}


@functools.cache
def _mallopt():
    """glibc's mallopt, or None where the C library is another (musl, macOS)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        fn = libc.mallopt
    except (OSError, AttributeError):
        return None
    fn.argtypes, fn.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return fn


@contextmanager
def heap_reuse():
    """Large allocations come from the heap and stay there while the block runs."""
    mallopt = _mallopt()
    if mallopt is None:
        yield
        return
    for param, value in HELD.items():
        mallopt(param, value)
    try:
        yield
    finally:
        for param, value in DEFAULTS.items():
            mallopt(param, value)
