"""A dataset folder on disk: what is in it, and reading it back with every checksum verified.

    datasets/<dataset_version>/
      splits.parquet        corpus, path, language, file_sha256, content_key, header_lines, split
      tokenizer.json        the BPE, trained on the training split only
      entities.parquet      every KG entity: leaf text, its tokens, kind, name word
      triples.parquet       every triple whose head is defined in a dataset file, with its split
      shards/<split>-NNNNN.safetensors   token streams and head occurrences (numpy arrays)
      manifest.json         counts, shares, config, and the sha256 of every file above
      gates.json            the quality gates' verdict, written after the gates run

Arrays are safetensors (no pickle); shards hold whole files, so windows are cut at load time for
whatever R the curriculum asks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from graphmer_core.artifacts import atomic_path, sha256_file, verify_checksums, write_json_atomic
from graphmer_core.errors import GraphmerError

MANIFEST, GATES = "manifest.json", "gates.json"
SPLITS_FILE, TOKENIZER_FILE = "splits.parquet", "tokenizer.json"
ENTITIES_FILE, TRIPLES_FILE = "entities.parquet", "triples.parquet"
SPLIT_IDS = {"train": 0, "valid": 1, "test": 2}
SHARD_ARRAYS = ("tokens", "word_start", "newline", "word", "file_offsets", "file_row",
                "occ_pos", "occ_span", "occ_entity")


class DatasetError(GraphmerError, ValueError):
    """A dataset folder that cannot be used: missing, corrupt, or not passed by its gates."""


def write_parquet(table: pa.Table, path: Path) -> None:
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")


def write_shard(arrays: dict[str, np.ndarray], path: Path) -> None:
    from safetensors.numpy import save_file

    with atomic_path(path) as tmp:
        save_file({k: np.ascontiguousarray(v) for k, v in arrays.items()}, str(tmp))


def stamp(folder: Path) -> dict[str, str]:
    """sha256 of every file under `folder` except the manifest and the gates record."""
    return {p.relative_to(folder).as_posix(): sha256_file(p) for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name not in (MANIFEST, GATES) and not p.name.startswith(".")}


@dataclass
class SplitData:
    """One split's token streams (all its shards concatenated) and head occurrences."""

    tokens: np.ndarray
    word_start: np.ndarray
    newline: np.ndarray
    word: np.ndarray
    file_offsets: np.ndarray
    file_row: np.ndarray
    occ_pos: np.ndarray
    occ_span: np.ndarray
    occ_entity: np.ndarray


class Dataset:
    """A verified dataset folder. Tables load on first use."""

    def __init__(self, folder: Path, manifest: dict):
        self.dir, self.manifest = Path(folder), manifest
        self._arrays: dict[str, dict[str, np.ndarray]] = {}  # split -> its arrays read so far

    @property
    def version(self) -> str:
        return self.manifest["dataset_version"]

    @property
    def relations(self) -> list[str]:
        return self.manifest["relations"]

    @property
    def kinds(self) -> list[str]:
        return self.manifest["kinds"]

    @property
    def vocab_size(self) -> int:
        return self.manifest["tokenizer"]["vocab_size"]

    @property
    def tokenizer_sha256(self) -> str:
        return self.manifest["files_sha256"][TOKENIZER_FILE]

    def tokenizer(self):
        from graphmer_core.data.tokenizer import load_tokenizer

        return load_tokenizer(self.dir / TOKENIZER_FILE)

    @cached_property
    def splits_table(self) -> pa.Table:
        return pq.read_table(self.dir / SPLITS_FILE)

    @cached_property
    def entities(self) -> pa.Table:
        return pq.read_table(self.dir / ENTITIES_FILE)

    @cached_property
    def triples(self) -> pa.Table:
        return pq.read_table(self.dir / TRIPLES_FILE)

    @cached_property
    def tail_tokens(self) -> np.ndarray:
        """(E, 7) int64 leaf tokens of every entity (PAD-filled)."""
        col = self.entities.column("tail_tokens").combine_chunks()
        return col.flatten().to_numpy().reshape(len(col), -1).astype(np.int64)

    def column(self, table: str, name: str, dtype=np.int64) -> np.ndarray:
        return getattr(self, table).column(name).to_numpy().astype(dtype)

    def split_arrays(self, name: str, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
        """Some arrays of a split (its shards joined), read without the others: the gates' leak check
        needs the tokens and line breaks, not the words and occurrences (a third of the bytes).
        Arrays read once stay with the Dataset."""
        have = self._arrays.setdefault(name, {})
        if missing := [k for k in keys if k not in have]:
            from safetensors import safe_open

            wanted = tuple(dict.fromkeys(("tokens", *missing)))  # _join shifts offsets by the tokens before
            shards = []
            for s in self.manifest["shards"][name]:
                with safe_open(str(self.dir / s), framework="numpy") as f:
                    shards.append({k: f.get_tensor(k) for k in wanted})
            if not shards:
                raise DatasetError(f"dataset {self.version} has no {name!r} shards")
            have.update(_join(shards, wanted))
        return {k: have[k] for k in keys}

    def split(self, name: str) -> SplitData:
        return SplitData(**self.split_arrays(name, SHARD_ARRAYS))


def _join(shards: list[dict[str, np.ndarray]], keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Shards of one split as one stream: positions and offsets shifted by the tokens before."""
    if len(shards) == 1:
        return {k: shards[0][k] for k in keys}
    base, parts = 0, {k: [] for k in keys}
    for i, s in enumerate(shards):
        for k in keys:
            v = s[k]
            if k == "file_offsets":
                v = v[1:] if i else v
                v = v + base
            elif k == "occ_pos":
                v = v + base
            parts[k].append(v)
        base += len(s["tokens"])
    return {k: np.concatenate(v) for k, v in parts.items()}


def open_dataset(folder: str | Path, verify: bool = True, require_gates: bool = True) -> Dataset:
    """Open a dataset folder; verify every checksum, and that its gates passed, unless told not to."""
    folder = Path(folder)
    if not (folder / MANIFEST).exists():
        raise DatasetError(f"no dataset at {folder} (manifest.json missing)")
    manifest = json.loads((folder / MANIFEST).read_text())
    if verify:
        try:
            verify_checksums(folder, manifest["files_sha256"])
        except (ValueError, FileNotFoundError) as exc:
            raise DatasetError(f"dataset {folder.name} is corrupt: {exc}") from exc
    if require_gates:
        gates = read_gates(folder)
        if gates is None:
            raise DatasetError(f"dataset {folder.name} has not been through its quality gates "
                               f"(run `graphmer build-dataset` or materialize training_dataset)")
        if not gates.get("passed"):
            raise DatasetError(f"dataset {folder.name} failed its quality gates: {gates.get('failures')}")
    return Dataset(folder, manifest)


STAGED = "staged.json"  # in a partial folder: the sha256 of each file a stage wrote for the next one


def record_staged(partial: Path, name: str) -> str:
    """Record the sha256 of a file one build stage leaves for the next (they may run in other
    processes, as Dagster assets do); returns it."""
    digests = _staged(partial)
    digests[name] = sha256_file(partial / name)
    write_json_atomic(partial / STAGED, digests)
    return digests[name]


def verify_staged(partial: Path, name: str) -> Path:
    """The path of a staged file, after checking it against the sha256 its stage recorded."""
    path, digest = partial / name, _staged(partial).get(name)
    if not path.exists() or digest is None:
        raise FileNotFoundError(f"{path} was not staged: run the dataset build from its first stage")
    if sha256_file(path) != digest:
        raise DatasetError(f"checksum mismatch for {path}: it changed after its stage wrote it; "
                           f"rebuild the dataset from its first stage")
    return path


def _staged(partial: Path) -> dict[str, str]:
    try:
        return json.loads((partial / STAGED).read_text())
    except FileNotFoundError:
        return {}


def read_gates(folder: Path) -> dict | None:
    try:
        return json.loads((Path(folder) / GATES).read_text())
    except FileNotFoundError:
        return None


def write_gates(folder: Path, verdict: dict) -> None:
    write_json_atomic(Path(folder) / GATES, verdict)
