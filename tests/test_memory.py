"""Process memory settings: numpy's huge-page requests off by default, heap reuse in big stages."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys

import numpy as np
import pytest

from graphmer_core.memory import _mallopt, heap_reuse


def _printed(code: str, unset: str, **env: str) -> str:
    """What a child Python prints, run without `unset` in its environment plus `env`."""
    base = {k: v for k, v in os.environ.items() if k != unset}
    return subprocess.run([sys.executable, "-c", code], env={**base, **env}, capture_output=True, text=True,
                          check=True).stdout.strip()


def test_numpy_hugepages_off_unless_asked():
    code = "import graphmer_core, numpy as np; print(np._core.multiarray._set_madvise_hugepage(False))"
    assert _printed(code, "NUMPY_MADVISE_HUGEPAGE") == "False"
    assert _printed(code, "NUMPY_MADVISE_HUGEPAGE", NUMPY_MADVISE_HUGEPAGE="1") == "True"


# The process's THP_enabled (/proc/self/status) after Arrow allocated, as graphmer imports it. The
# flag is inherited, and this test process may have it off already: the child turns it on (prctl
# PR_SET_THP_DISABLE = 41, 0) before importing anything.
THP_ENABLED = ("import ctypes; ctypes.CDLL(None).prctl(41, 0, 0, 0, 0); "
               "import graphmer_core, pyarrow as pa; b = pa.allocate_buffer(8 << 20); "
               "print([ln.split()[1] for ln in open('/proc/self/status') if ln.startswith('THP_enabled')][0])")


@pytest.mark.skipif("THP_enabled" not in open("/proc/self/status").read(), reason="kernel reports no THP_enabled")
def test_arrow_mimalloc_hugepages_off_unless_asked():
    assert _printed(THP_ENABLED, "MIMALLOC_ALLOW_THP") == "0"
    assert _printed(THP_ENABLED, "MIMALLOC_ALLOW_THP", MIMALLOC_ALLOW_THP="1") == "1"


class _MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                               "fsmblks", "uordblks", "fordblks", "keepcost")]


def _mmapped_blocks() -> int:
    info = ctypes.CDLL("libc.so.6").mallinfo2
    info.restype = _MallInfo2
    return info().hblks


@pytest.mark.skipif(_mallopt() is None, reason="not glibc: heap_reuse is a no-op there")
def test_heap_reuse_keeps_large_arrays_off_mmap():
    before = _mmapped_blocks()
    outside = np.ones(8 << 20)  # 64 MB: glibc maps it by itself
    assert _mmapped_blocks() == before + 1
    with heap_reuse():
        inside = np.ones(8 << 20)
        assert _mmapped_blocks() == before + 1  # from the heap
        del inside
    del outside
    assert _mmapped_blocks() == before
    again = np.ones(32 << 20)  # 256 MB, more than the heap kept: mapped again, as by default
    assert _mmapped_blocks() == before + 1
    del again
