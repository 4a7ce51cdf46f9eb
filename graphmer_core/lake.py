"""Where everything lives in the data lake (DESIGN.md section 3), and the one lock its writers take.

Writers (KG staging and promotion, the catalogue, dataset builds) hold `lake_lock` while they change
shared state, so two builds, a CLI build during a Dagster run, or a rebuild during training never
interleave their writes: the second waits, or after the timeout fails naming the holder. Readers
take no lock: they read immutable version folders through pointers that change by atomic rename.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from graphmer_core.artifacts import write_bytes_atomic
from graphmer_core.errors import GraphmerError

LOCK_FILE = "lake.lock"
DEFAULT_LOCK_TIMEOUT_S = 900.0  # longer than any single build step here; GRAPHMER_LOCK_TIMEOUT_S changes it


@dataclass(frozen=True)
class Lake:
    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root).resolve())

    @property
    def parse_cache(self) -> Path:
        return self.root / "cache" / "parse"

    @property
    def index_dir(self) -> Path:
        return self.root / "index"

    @property
    def staging(self) -> Path:
        return self.root / "staging"

    @property
    def kg_root(self) -> Path:
        return self.root / "kg"

    def kg_dir(self, version: str) -> Path:
        return self.kg_root / version

    def staged_dir(self, version: str) -> Path:
        return self.staging / version

    @property
    def current_pointer(self) -> Path:
        return self.kg_root / "current"

    @property
    def candidate_pointer(self) -> Path:
        """The version most recently staged for the quality gates (file holding its kg_version)."""
        return self.staging / "CANDIDATE"

    def candidate_dir(self) -> Path | None:
        version = _read_pointer(self.candidate_pointer)
        if version is None:
            return None
        staged = self.staged_dir(version)
        return staged if staged.exists() else self.kg_dir(version)

    @property
    def runs_root(self) -> Path:
        return self.root / "runs"

    def run_dir(self, run_id: str) -> Path:
        if not run_id or run_id in (".", "..") or "/" in run_id or "\\" in run_id:
            raise ValueError(f"run_id {run_id!r} is not a plain folder name")
        return self.runs_root / run_id

    @property
    def datasets_root(self) -> Path:
        return self.root / "datasets"

    def dataset_dir(self, version: str) -> Path:
        return self.datasets_root / version

    def dataset_partial(self, version: str) -> Path:
        """Where a dataset version is assembled before it is renamed into place."""
        return self.datasets_root / f".{version}.partial"

    @property
    def models_root(self) -> Path:
        return self.root / "models"

    @property
    def catalog(self) -> Path:
        return self.root / "graphmer.duckdb"

    @property
    def catalog_pointer(self) -> Path:
        """The kg_version the catalogue's views were last built over (written after the catalogue), so
        a crash between moving `kg/current` and rebuilding the catalogue is seen and repaired."""
        return self.root / "graphmer.duckdb.kg_version"

    def catalog_version(self) -> str | None:
        return _read_pointer(self.catalog_pointer) if self.catalog.exists() else None

    @property
    def lock_file(self) -> Path:
        return self.root / LOCK_FILE

    def lock(self, what: str, timeout: float | None = None) -> AbstractContextManager[None]:
        """Hold the lake's writer lock (see `lake_lock`)."""
        return lake_lock(self, what, timeout)

    def current_version(self) -> str | None:
        return _read_pointer(self.current_pointer)

    def current_dir(self) -> Path | None:
        version = self.current_version()
        return None if version is None else self.kg_dir(version)


def write_pointer(path: Path, version: str) -> None:
    """Point a pointer file at a kg_version, atomically (a reader sees the old or the new one)."""
    write_bytes_atomic(path, f"{version}\n".encode())


def _read_pointer(path: Path) -> str | None:
    """The kg_version a pointer file names, or None when there is none."""
    try:
        return path.read_text().strip() or None
    except FileNotFoundError:
        return None


class LakeBusy(GraphmerError):
    """Another process (or thread) held the lake's writer lock for longer than the timeout."""


class LakeNotWritable(GraphmerError):
    """The lake folder cannot be written (no permission, read-only filesystem)."""


@dataclass
class _Holding:
    """This process's hold on one lake: a thread lock (the OS lock is per process) and a depth, so
    library functions that lock can call each other."""

    thread_lock: threading.RLock = field(default_factory=threading.RLock)
    fd: int | None = None
    depth: int = 0


_HOLDINGS: dict[Path, _Holding] = {}
_HOLDINGS_GUARD = threading.Lock()


def lock_timeout() -> float:
    return float(os.environ.get("GRAPHMER_LOCK_TIMEOUT_S", DEFAULT_LOCK_TIMEOUT_S))


def _say(message: str) -> None:
    print(f"graphmer: {message}", file=sys.stderr, flush=True)


@contextmanager
def lake_lock(lake: Lake, what: str, timeout: float | None = None,
              on_wait: Callable[[str], None] = _say) -> Iterator[None]:
    """Hold the writer lock of `lake` for the block: `fcntl.lockf` on `<lake>/lake.lock`, which
    names its holder (pid, host, what, since). Reentrant within a process; other processes wait up
    to `timeout` seconds (default `$GRAPHMER_LOCK_TIMEOUT_S` or 900), then get LakeBusy naming the
    holder. A POSIX record lock rather than flock: it dies with its process, and forked workers
    (the parse pool, the GX worker) do not inherit it, so a killed build never leaves it held. (Its
    one catch: closing any descriptor of lake.lock in the holding process drops it, so nothing but
    this module opens that file.)"""
    timeout = lock_timeout() if timeout is None else timeout
    deadline = time.monotonic() + timeout
    with _HOLDINGS_GUARD:
        holding = _HOLDINGS.setdefault(lake.root, _Holding())
    if not holding.thread_lock.acquire(timeout=max(timeout, 0)):
        raise LakeBusy(f"data lake {lake.root} is busy: another thread of this process (pid {os.getpid()}) "
                       f"held its lock for {timeout:g} s")
    try:
        if holding.depth == 0:
            holding.fd = _acquire(lake, what, deadline, timeout, on_wait)
        holding.depth += 1
        try:
            yield
        finally:
            holding.depth -= 1
            if holding.depth == 0:
                os.close(holding.fd)  # closing the file releases the lock
                holding.fd = None
    finally:
        holding.thread_lock.release()


def _acquire(lake: Lake, what: str, deadline: float, timeout: float, on_wait: Callable[[str], None]) -> int:
    try:
        lake.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(lake.lock_file, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise LakeNotWritable(f"data lake {lake.root} is not writable ({exc.strerror}: {exc.filename}); "
                              f"give this user write access or pass another --lake") from exc
    told = False
    while True:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except OSError:
            if time.monotonic() >= deadline:
                os.close(fd)
                raise LakeBusy(f"data lake {lake.root} is locked by {lock_holder(lake)}; gave up after "
                               f"waiting {timeout:g} s (set GRAPHMER_LOCK_TIMEOUT_S to wait longer)") from None
            if not told:
                on_wait(f"waiting for the data lake lock, held by {lock_holder(lake)}")
                told = True
            time.sleep(0.05)
    holder = {"pid": os.getpid(), "host": socket.gethostname(), "what": what,
              "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    os.ftruncate(fd, 0)
    os.pwrite(fd, (json.dumps(holder) + "\n").encode(), 0)
    return fd


def lock_holder(lake: Lake) -> str:
    """Who holds (or last held) the lock, as the lock file says."""
    try:
        h = json.loads(lake.lock_file.read_text())
        return f"pid {h['pid']} on {h['host']} ({h['what']}, since {h['since']})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process (its lock file names no holder yet)"


def default_lake_root() -> Path:
    return Path(os.environ.get("GRAPHMER_LAKE", Path(__file__).resolve().parent.parent / "data_lake"))
