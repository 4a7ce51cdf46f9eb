"""GraphMER-SE core library: corpus -> parsing -> kg -> data -> model -> train -> eval.

Never imports Dagster: it runs from the CLI, notebooks and torchrun alike.
"""

import os as _os
import sys as _sys

__version__ = "0.1.0"

# numpy asks the kernel for transparent huge pages on every array of 4 MB or more. Where THP runs
# in `madvise` mode with synchronous defrag (Debian's default), the first touch of each such array
# zeroes, and may first compact, a 2 MB page: the dataset build's short-lived token arrays spent
# about as much CPU in the kernel clearing pages as in encoding. Ordinary pages it is, unless the
# user says otherwise (NUMPY_MADVISE_HUGEPAGE=1).
if "NUMPY_MADVISE_HUGEPAGE" not in _os.environ:
    _os.environ["NUMPY_MADVISE_HUGEPAGE"] = "0"
    if "numpy" in _sys.modules:  # imported before us: numpy read the variable already
        _sys.modules["numpy"]._core.multiarray._set_madvise_hugepage(False)

# Arrow's default allocator, mimalloc, madvises its arenas for huge pages too (MIMALLOC_ALLOW_THP,
# on by default); off, mimalloc disables THP for the process (prctl PR_SET_THP_DISABLE), which
# took 1.2 s of kernel time off the dataset build and 0.6 s off the KG build. Read when pyarrow
# loads, so it only takes effect if pyarrow was not imported first.
_os.environ.setdefault("MIMALLOC_ALLOW_THP", "0")
