"""Where everything lives in the data lake (DESIGN.md section 3)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from graphmer_core.artifacts import write_bytes_atomic


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


def default_lake_root() -> Path:
    return Path(os.environ.get("GRAPHMER_LAKE", Path(__file__).resolve().parent.parent / "data_lake"))
