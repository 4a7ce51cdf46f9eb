"""Process memory settings: numpy's huge-page requests off by default, heap reuse in big stages."""

from __future__ import annotations

import ctypes
import subprocess
import sys

import numpy as np
import pytest

from graphmer_core.memory import _mallopt, heap_reuse


def _hugepage_flag(env: dict[str, str]) -> str:
    code = "import graphmer_core, numpy as np; print(np._core.multiarray._set_madvise_hugepage(False))"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True).stdout.strip()


def test_numpy_hugepages_off_unless_asked(monkeypatch):
    base = {k: v for k, v in __import__("os").environ.items() if k != "NUMPY_MADVISE_HUGEPAGE"}
    assert _hugepage_flag(base) == "False"
    assert _hugepage_flag({**base, "NUMPY_MADVISE_HUGEPAGE": "1"}) == "True"


def _thp_enabled(env: dict[str, str]) -> str:
    """The process's THP_enabled (/proc/self/status) after Arrow allocated, as graphmer imports it.
    The flag is inherited, and this test process may have it off already: the child turns it on
    (prctl PR_SET_THP_DISABLE = 41, 0) before importing anything."""
    code = ("import ctypes; ctypes.CDLL(None).prctl(41, 0, 0, 0, 0); "
            "import graphmer_core, pyarrow as pa; b = pa.allocate_buffer(8 << 20); "
            "print([ln.split()[1] for ln in open('/proc/self/status') if ln.startswith('THP_enabled')][0])")
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True).stdout.strip()


@pytest.mark.skipif("THP_enabled" not in open("/proc/self/status").read(), reason="kernel reports no THP_enabled")
def test_arrow_mimalloc_hugepages_off_unless_asked():
    base = {k: v for k, v in __import__("os").environ.items() if k != "MIMALLOC_ALLOW_THP"}
    assert _thp_enabled(base) == "0"
    assert _thp_enabled({**base, "MIMALLOC_ALLOW_THP": "1"}) == "1"


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
