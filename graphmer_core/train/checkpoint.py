"""Training checkpoints: save, verify, load, retain; and the run record beside them.

Where they are::

    runs/<run_id>/run.json                                  RunRecord: status, newest checkpoint
    runs/<run_id>/checkpoints/step_000250/model.safetensors weights only, no pickle
                                          train_state.pt    optimizer, scheduler, scaler, RNG: plain
                                                            tensors and values, so it loads with
                                                            torch.load(weights_only=True)
                                          metadata.json     CheckpointMetadata: provenance and the
                                                            sha256 and size of every other file

A checkpoint folder is written under a dot name and renamed whole, so a crash never leaves half a
checkpoint under a real name; loading verifies every checksum, then refuses any weight whose name or
shape does not match the model. metadata.json carries the sha256 of its own canonical content, so an
edit to it is caught as surely as one to the weights.
"""

from __future__ import annotations

import json
import logging
import platform
import random
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any, Literal

import numpy as np
import safetensors
import torch
from pydantic import (AwareDatetime, BaseModel, ConfigDict, Field, FiniteFloat, ValidationError, field_validator,
                      model_validator)
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from graphmer_core.artifacts import atomic_dir, remove_dir, sha256_file, sha256_json, write_json_atomic
from graphmer_core.errors import GraphmerError
from graphmer_core.faults import crash_point

log = logging.getLogger(__name__)

SCHEMA_VERSION = "1.1"
MODEL_FILE = "model.safetensors"
STATE_FILE = "train_state.pt"
METADATA_FILE = "metadata.json"
RUN_FILE = "run.json"
CHECKPOINTS = "checkpoints"
_STEP_DIR = re.compile(r"step_(\d{6,})")
_SHA256 = r"^[0-9a-f]{64}$"
_ALIASES = "graphmer.aliases"  # safetensors header entry: {alias key: stored key} for tied tensors
_WRAPPER_PREFIXES = ("module.", "_orig_mod.")  # DDP / DataParallel, torch.compile


class CheckpointError(GraphmerError, ValueError):
    """A checkpoint or run record that is missing, corrupt, or does not fit what it is loaded into."""


# ---------------------------------------------------------------------------------------------- schemas

class FileStamp(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sha256: str = Field(pattern=_SHA256)
    size: int = Field(ge=0)


class CheckpointMetadata(BaseModel):
    """metadata.json: what a checkpoint is, where it came from, and what its files must hash to."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal["1.1"]
    run_id: str = Field(min_length=1)
    step: int = Field(ge=0)
    seed: int
    profile: str = Field(min_length=1)
    config: dict[str, Any]  # the full resolved config
    config_sha256: str = Field(pattern=_SHA256)  # sha256 of canonical JSON of `config`
    kg_version: str | None  # required keys; None only where the run trained on no KG/dataset
    dataset_version: str | None
    tokenizer_sha256: str | None = Field(pattern=_SHA256)
    relation_vocab: list[str]  # index = relation id
    library_versions: dict[str, str]
    device: str = Field(min_length=1)
    metrics: dict[str, FiniteFloat]
    created_at: AwareDatetime
    files: dict[str, FileStamp]  # every file of the folder but metadata.json
    metadata_sha256: str = Field(pattern=_SHA256)  # sha256 of canonical JSON of this document without it

    @field_validator("created_at")
    @classmethod
    def _utc(cls, v: datetime) -> datetime:
        if v.utcoffset().total_seconds() != 0:
            raise ValueError(f"created_at must be UTC, got offset {v.utcoffset()}")
        return v

    @field_validator("relation_vocab")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        dup = sorted({r for r in v if v.count(r) > 1})
        if dup:
            raise ValueError(f"relation_vocab repeats {dup}")
        return v

    @field_validator("files")
    @classmethod
    def _plain_names(cls, v: dict[str, FileStamp]) -> dict[str, FileStamp]:
        for name in v:
            if name in ("", ".", "..", METADATA_FILE) or Path(name).name != name or "\\" in name:
                raise ValueError(f"files: {name!r} is not a plain file name of the folder")
        for name in (MODEL_FILE, STATE_FILE):
            if name not in v:
                raise ValueError(f"files does not list {name}")
        return v

    @model_validator(mode="after")
    def _config_hash(self) -> CheckpointMetadata:
        actual = sha256_json(self.config)
        if actual != self.config_sha256:
            raise ValueError(f"config_sha256 {self.config_sha256} is not the sha256 of config ({actual})")
        return self


RunStatus = Literal["running", "completed", "failed", "stopped"]


class RunRecord(BaseModel):
    """run.json: one training run's state, for resuming it and for whoever looks at the lake."""

    model_config = ConfigDict(extra="forbid")

    run_id: str = Field(min_length=1)
    profile: str = Field(min_length=1)
    seed: int
    planned_steps: int = Field(ge=0)
    status: RunStatus
    checkpoint: str | None = None  # newest checkpoint, relative to the run folder (posix)
    checkpoint_step: int | None = Field(None, ge=0)
    created_at: AwareDatetime
    updated_at: AwareDatetime
    info: dict[str, Any] = {}

    @model_validator(mode="after")
    def _pointer(self) -> RunRecord:
        if (self.checkpoint is None) != (self.checkpoint_step is None):
            raise ValueError("checkpoint and checkpoint_step are set together or not at all")
        if self.checkpoint is not None and self.checkpoint != f"{CHECKPOINTS}/{step_dirname(self.checkpoint_step)}":
            raise ValueError(f"checkpoint {self.checkpoint!r} is not the folder of step {self.checkpoint_step}")
        return self


# ------------------------------------------------------------------------------------------------ layout

def step_dirname(step: int) -> str:
    return f"step_{step:06d}"


def checkpoint_dir(run_dir: str | Path, step: int) -> Path:
    return Path(run_dir) / CHECKPOINTS / step_dirname(step)


def list_checkpoints(run_dir: str | Path) -> list[tuple[int, Path]]:
    """(step, folder) of every checkpoint under a real name, oldest first; dot-named temp folders are
    not checkpoints."""
    root = Path(run_dir) / CHECKPOINTS
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir() if p.is_dir() and (m := _STEP_DIR.fullmatch(p.name))]
    return sorted(found)


def config_sha256(config: Mapping[str, Any]) -> str:
    """What metadata.config_sha256 holds: compare it to decide whether a resume runs the same config."""
    return sha256_json(config)


def _now() -> datetime:
    return datetime.now(UTC)


def _names(keys: Iterable[str], limit: int = 10) -> str:
    keys = sorted(keys)
    more = f" ... and {len(keys) - limit} more" if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more


# ------------------------------------------------------------------------------------------------ RNG

def collect_rng_state(extra: Mapping[str, torch.Tensor | torch.Generator] | None = None) -> dict[str, Any]:
    """Every global RNG (python, numpy, torch CPU, CUDA if present) plus named generators, as tensors
    and plain values only."""
    version, mt, gauss_next = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "python": {"version": version, "state": torch.tensor(mt, dtype=torch.int64), "gauss_next": gauss_next},
        "numpy": {"bit_generator": name, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "torch": torch.get_rng_state(),
        "extra": {k: (g.get_state() if isinstance(g, torch.Generator) else g.detach().cpu())
                  for k, g in (extra or {}).items()},
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: Mapping[str, Any], generators: Mapping[str, torch.Generator] | None = None
                      ) -> dict[str, Any]:
    """Restore what collect_rng_state saved. Named generators passed in get their saved state; returns
    what was not restored (extra states without a generator, CUDA states without the same GPUs)."""
    py = state["python"]
    random.setstate((py["version"], tuple(py["state"].tolist()), py["gauss_next"]))
    npy = state["numpy"]
    np.random.set_state((npy["bit_generator"], npy["keys"].numpy().astype(np.uint32), npy["pos"],
                         npy["has_gauss"], npy["cached_gaussian"]))
    torch.set_rng_state(state["torch"])
    left: dict[str, Any] = {}
    cuda = state.get("cuda")
    if cuda is not None:
        if torch.cuda.is_available() and torch.cuda.device_count() == len(cuda):
            torch.cuda.set_rng_state_all(cuda)
        else:
            left["cuda"] = cuda
    extra = dict(state.get("extra", {}))
    for name, gen in (generators or {}).items():
        if name not in extra:
            raise CheckpointError(f"{STATE_FILE}: no saved state for generator {name!r} (saved: {sorted(extra)})")
        gen.set_state(extra.pop(name))
    if extra:
        left["extra"] = extra
    return left


# ------------------------------------------------------------------------------------------------ saving

def unwrap_model(model: nn.Module) -> nn.Module:
    """The module inside DDP / DataParallel / torch.compile wrappers."""
    while True:
        if isinstance(model, nn.parallel.DistributedDataParallel | nn.DataParallel):
            model = model.module
        elif isinstance(getattr(model, "_orig_mod", None), nn.Module):
            model = model._orig_mod
        else:
            return model


def _clean_key(key: str) -> str:
    """A state_dict key without wrapper components (a compiled submodule adds `_orig_mod.` inside)."""
    while key.startswith(_WRAPPER_PREFIXES):
        key = key.split(".", 1)[1]
    return key.replace("._orig_mod.", ".")


def model_state(model: nn.Module) -> dict[str, tuple[str, torch.Tensor]]:
    """{clean key: (the model's own key, tensor)} of the unwrapped model's state_dict."""
    out: dict[str, tuple[str, torch.Tensor]] = {}
    for key, tensor in unwrap_model(model).state_dict().items():
        clean = _clean_key(key)
        if clean in out:
            raise CheckpointError(f"state_dict keys {out[clean][0]!r} and {key!r} both map to {clean!r}")
        out[clean] = (key, tensor)
    return out


def _dedupe_shared(state: Mapping[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """safetensors refuses tensors that share memory: store each tied tensor once (the others become
    aliases, restored on load) and clone differing views of one storage."""
    tensors: dict[str, torch.Tensor] = {}
    aliases: dict[str, str] = {}
    seen: dict[tuple, str] = {}  # (device, storage ptr) -> first key
    for key, t in state.items():
        t = t.detach()
        if t.numel() == 0:  # no storage to share (its data_ptr may be 0 for all of them)
            tensors[key] = t
            continue
        storage = (t.device, t.untyped_storage().data_ptr())
        first = seen.setdefault(storage, key)
        if first == key:
            tensors[key] = t
            continue
        f = state[first]
        if (f.dtype, f.shape, f.stride(), f.storage_offset()) == (t.dtype, t.shape, t.stride(), t.storage_offset()):
            aliases[key] = first
        else:
            tensors[key] = t.clone()
    return {k: v.contiguous().cpu() for k, v in tensors.items()}, aliases


_PLAIN = (str, int, float, bool, bytes, complex, type(None), torch.dtype, torch.device, torch.Size)


def _plain(obj: Any, where: str) -> Any:
    """obj with numpy scalars made Python values; raise naming any part that torch.load(weights_only=True)
    would refuse."""
    if isinstance(obj, torch.Tensor):
        return obj.detach()
    if isinstance(obj, np.generic):  # before _PLAIN: np.float64 is a float subclass
        return obj.item()
    if isinstance(obj, _PLAIN):
        return obj
    if isinstance(obj, dict):
        return {k: _plain(v, f"{where}[{k!r}]") for k, v in obj.items()}
    if type(obj) in (list, tuple):
        return type(obj)(_plain(v, f"{where}[{i}]") for i, v in enumerate(obj))
    raise CheckpointError(f"{where}: a {type(obj).__qualname__} would not load with torch.load(weights_only=True);"
                          " store tensors or plain Python values")


def library_versions(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    try:
        ours = importlib_metadata.version("graphmer-se")
    except importlib_metadata.PackageNotFoundError:
        ours = "not installed"
    return {**(extra or {}), "torch": torch.__version__, "safetensors": safetensors.__version__,
            "python": platform.python_version(), "numpy": np.__version__, "graphmer-se": ours}


_COMPUTED = ("schema_version", "step", "files", "created_at", "config_sha256", "metadata_sha256")


def _metadata(step: int, meta: Mapping[str, Any], files: dict[str, FileStamp]) -> CheckpointMetadata:
    given = dict(meta)
    clash = sorted(set(given) & set(_COMPUTED))
    if clash:
        raise CheckpointError(f"meta must not set {clash}: save_checkpoint computes them")
    if "config" not in given:
        raise CheckpointError("meta lacks config")
    if "device" in given:
        given["device"] = str(given["device"])
    if isinstance(given.get("metrics"), Mapping):
        given["metrics"] = {k: float(v) for k, v in given["metrics"].items()}
    try:
        conf_hash = sha256_json(given["config"])
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"meta config is not plain JSON: {exc}") from exc
    given.update(schema_version=SCHEMA_VERSION, step=step, files=files, created_at=_now(), config_sha256=conf_hash,
                 library_versions=library_versions(given.get("library_versions")), metadata_sha256="0" * 64)
    try:
        draft = CheckpointMetadata.model_validate(given)
    except ValidationError as exc:
        raise CheckpointError(f"invalid checkpoint metadata: {exc}") from exc
    doc = draft.model_dump(mode="json", exclude={"metadata_sha256"})
    return draft.model_copy(update={"metadata_sha256": sha256_json(doc)})


def _clean_leftovers(run_dir: Path) -> None:
    """Remove dot-named folders of saves or deletions that a crash interrupted."""
    root = run_dir / CHECKPOINTS
    for p in root.glob(".step_*") if root.is_dir() else ():
        if p.is_dir():
            log.info("removing leftover %s", p)
            remove_dir(p)


def save_checkpoint(run_dir: str | Path, step: int, model: nn.Module, *, optimizer=None, scheduler=None,
                    scaler=None, rng_extra: Mapping[str, torch.Tensor | torch.Generator] | None = None,
                    extra_state: Mapping[str, Any] | None = None, meta: Mapping[str, Any]) -> Path:
    """Write runs/<run_id>/checkpoints/step_NNNNNN whole or not at all, and return its path.

    `meta` holds run_id, seed, profile, config, kg_version, dataset_version, tokenizer_sha256,
    relation_vocab, device, metrics (and optionally library_versions to add); the rest is computed.
    `extra_state` (plain values and tensors) is stored in train_state.pt under "extra". An existing
    folder of the same step is replaced. If run.json exists, it then points at this checkpoint.
    Call from one process per run (rank 0): a save removes leftover temp folders of earlier saves.
    """
    run_dir = Path(run_dir)
    if step < 0:
        raise CheckpointError(f"step must be >= 0, got {step}")
    if meta.get("run_id") != run_dir.name:
        raise CheckpointError(f"meta run_id {meta.get('run_id')!r} is not the run folder's name {run_dir.name!r}")
    _metadata(step, meta, {MODEL_FILE: FileStamp(sha256="0" * 64, size=0),
                           STATE_FILE: FileStamp(sha256="0" * 64, size=0)})  # fail before writing anything
    _clean_leftovers(run_dir)
    final = checkpoint_dir(run_dir, step)
    tensors, aliases = _dedupe_shared({k: t for k, (_, t) in model_state(model).items()})
    train_state = _plain({
        "step": step,
        "optimizer": None if optimizer is None else optimizer.state_dict(),
        "scheduler": None if scheduler is None else scheduler.state_dict(),
        "scaler": None if scaler is None else scaler.state_dict(),
        "rng": collect_rng_state(rng_extra),
        "extra": dict(extra_state or {}),
    }, STATE_FILE)
    with atomic_dir(final, replace=True) as tmp:
        save_file(tensors, tmp / MODEL_FILE, metadata={"format": "pt", _ALIASES: json.dumps(aliases)})
        torch.save(train_state, tmp / STATE_FILE)
        files = {p.name: FileStamp(sha256=sha256_file(p), size=p.stat().st_size) for p in sorted(tmp.iterdir())}
        write_json_atomic(tmp / METADATA_FILE, _metadata(step, meta, files).model_dump(mode="json"))
        crash_point("checkpoint.write")  # every file written, the folder not yet renamed
    if (run_dir / RUN_FILE).exists():
        update_run(run_dir, checkpoint=f"{CHECKPOINTS}/{final.name}", checkpoint_step=step)
    log.info("saved checkpoint %s", final)
    return final


# ------------------------------------------------------------------------------------------ verification

def read_metadata(path: str | Path) -> CheckpointMetadata:
    """A checkpoint's metadata.json, checked against its schema and its own sha256 (not the other files)."""
    file = Path(path) / METADATA_FILE
    if not file.is_file():
        raise CheckpointError(f"{file}: missing")
    try:
        doc = json.loads(file.read_bytes())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{file}: not valid JSON ({exc})") from exc
    if not isinstance(doc, dict):
        raise CheckpointError(f"{file}: not a JSON object")
    try:
        metadata = CheckpointMetadata.model_validate(doc)
    except ValidationError as exc:
        raise CheckpointError(f"{file}: invalid metadata: {exc}") from exc
    actual = sha256_json({k: v for k, v in doc.items() if k != "metadata_sha256"})
    if actual != metadata.metadata_sha256:
        raise CheckpointError(f"{file}: content does not match its metadata_sha256 (edited or corrupted)")
    return metadata


def verify_checkpoint(path: str | Path) -> CheckpointMetadata:
    """Check a checkpoint folder against its metadata: every listed file present with its size and
    sha256, nothing unlisted beside them. Raises CheckpointError naming each offending file."""
    path = Path(path)
    if not path.is_dir():
        raise CheckpointError(f"{path}: not a checkpoint folder")
    metadata = read_metadata(path)
    m = _STEP_DIR.fullmatch(path.name)
    if m and int(m.group(1)) != metadata.step:
        raise CheckpointError(f"{path / METADATA_FILE}: step {metadata.step} but the folder is {path.name}")
    present, listed = {p.name for p in path.iterdir()} - {METADATA_FILE}, set(metadata.files)
    problems = [f"{path / name}: missing" for name in sorted(listed - present)]
    problems += [f"{path / name}: extra file, not listed in {METADATA_FILE}" for name in sorted(present - listed)]
    for name, stamp in sorted(metadata.files.items()):
        file = path / name
        if name not in present:
            continue
        if not file.is_file():
            problems.append(f"{file}: not a file")
        elif (size := file.stat().st_size) != stamp.size:
            problems.append(f"{file}: size {size} bytes, metadata says {stamp.size}")
        elif (digest := sha256_file(file)) != stamp.sha256:
            problems.append(f"{file}: sha256 {digest}, metadata says {stamp.sha256}")
    if problems:
        raise CheckpointError("; ".join(problems))
    return metadata


def find_latest_valid(run_dir: str | Path) -> tuple[Path | None, list[tuple[Path, str]]]:
    """The newest checkpoint that verifies, and (folder, reason) of each newer one skipped."""
    skipped: list[tuple[Path, str]] = []
    for _, path in reversed(list_checkpoints(run_dir)):
        try:
            verify_checkpoint(path)
        except CheckpointError as exc:
            skipped.append((path, str(exc)))
            continue
        return path, skipped
    return None, skipped


def latest_valid_checkpoint(run_dir: str | Path) -> Path | None:
    """The newest checkpoint that verifies; each newer one that does not is logged with its reason."""
    path, skipped = find_latest_valid(run_dir)
    for bad, reason in skipped:
        log.warning("skipping checkpoint %s: %s", bad, reason)
    return path


VerifyResult = tuple[Path, bool, str]


def verify_run(run_dir: str | Path) -> list[VerifyResult]:
    """(path, ok, message) for every checkpoint of a run, then for its run.json: the record must be
    valid, name this run, and point at a checkpoint of the run that verifies."""
    run_dir = Path(run_dir)
    record: RunRecord | None = None
    record_problem = None
    try:
        record = read_run(run_dir)
        if record.run_id != run_dir.name:
            record_problem = f"run_id {record.run_id!r} but the run folder is {run_dir.name!r}"
    except CheckpointError as exc:
        record_problem = str(exc)
    results: list[VerifyResult] = []
    verified: set[str] = set()
    for step, path in list_checkpoints(run_dir):
        try:
            md = verify_checkpoint(path)
            if md.run_id != run_dir.name:
                raise CheckpointError(f"{path / METADATA_FILE}: run_id {md.run_id!r} but the run folder is "
                                      f"{run_dir.name!r}")
            if record is not None and (md.profile, md.seed) != (record.profile, record.seed):
                raise CheckpointError(f"{path / METADATA_FILE}: profile {md.profile!r} seed {md.seed}, "
                                      f"but {RUN_FILE} says profile {record.profile!r} seed {record.seed}")
        except CheckpointError as exc:
            results.append((path, False, str(exc)))
            continue
        verified.add(f"{CHECKPOINTS}/{path.name}")
        results.append((path, True, f"step {step}, {len(md.files) + 1} files verified"))
    if record_problem is None and record.checkpoint is not None and record.checkpoint not in verified:
        record_problem = f"{run_dir / RUN_FILE}: points at {record.checkpoint}, which is missing or does not verify"
    if record_problem is not None:
        results.append((run_dir / RUN_FILE, False, record_problem))
    else:
        results.append((run_dir / RUN_FILE, True, f"status {record.status}, checkpoint {record.checkpoint}"))
    return results


def verify_path(path: str | Path) -> list[VerifyResult]:
    """verify_run for a run folder, verify_checkpoint for a checkpoint folder (what `graphmer verify` runs)."""
    path = Path(path)
    if (path / METADATA_FILE).exists() or _STEP_DIR.fullmatch(path.name):
        try:
            md = verify_checkpoint(path)
        except CheckpointError as exc:
            return [(path, False, str(exc))]
        return [(path, True, f"step {md.step}, {len(md.files) + 1} files verified")]
    if (path / RUN_FILE).exists() or (path / CHECKPOINTS).is_dir():
        return verify_run(path)
    raise FileNotFoundError(f"{path}: neither a checkpoint folder ({METADATA_FILE}) nor a run folder "
                            f"({RUN_FILE} or {CHECKPOINTS}/)")


# ----------------------------------------------------------------------------------------------- loading

def _load_weights(path: Path, model: nn.Module, device: str) -> None:
    """Load model.safetensors into `model` only if every key and shape matches, both ways."""
    target = model_state(model)
    file = path / MODEL_FILE
    with safe_open(file, framework="pt", device=device) as f:
        aliases: dict[str, str] = json.loads((f.metadata() or {}).get(_ALIASES, "{}"))
        shapes = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
        shapes |= {alias: shapes[stored] for alias, stored in aliases.items() if stored in shapes}
        missing, unexpected = set(target) - set(shapes), set(shapes) - set(target)
        wrong = [f"{k} saved {shapes[k]} vs model {tuple(target[k][1].shape)}"
                 for k in sorted(set(shapes) & set(target)) if shapes[k] != tuple(target[k][1].shape)]
        problems = ([f"missing keys: {_names(missing)}"] if missing else []) + (
            [f"unexpected keys: {_names(unexpected)}"] if unexpected else []) + (
            [f"shape mismatch: {'; '.join(wrong)}"] if wrong else [])
        if problems:
            raise CheckpointError(f"{file} does not fit the model: " + "; ".join(problems))
        stored = {k: f.get_tensor(k) for k in f.keys()}
    stored |= {alias: stored[key] for alias, key in aliases.items()}
    try:
        unwrap_model(model).load_state_dict({target[k][0]: t for k, t in stored.items()}, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"{file}: {exc}") from exc


def _restore(state: dict[str, Any], name: str, obj) -> None:
    if state.get(name) is None:
        raise CheckpointError(f"{STATE_FILE}: holds no {name} state to restore")
    try:
        obj.load_state_dict(state.pop(name))
    except (ValueError, KeyError, RuntimeError) as exc:
        raise CheckpointError(f"{STATE_FILE}: {name} state does not fit: {exc}") from exc


def load_checkpoint(path: str | Path, model: nn.Module, optimizer=None, scheduler=None, scaler=None,
                    map_location: str | torch.device = "cpu", restore_rng: bool = False,
                    generators: Mapping[str, torch.Generator] | None = None
                    ) -> tuple[CheckpointMetadata, dict[str, Any]]:
    """Verify a checkpoint, then restore the model strictly and each object passed in.

    Returns the metadata and train_state.pt's dict less what was restored: "optimizer", "scheduler",
    "scaler" go when their object is given; with restore_rng, "rng" keeps only what could not be
    restored (states of generators not passed in, CUDA states without matching GPUs). "step" and
    "extra" always stay.
    """
    path = Path(path)
    metadata = verify_checkpoint(path)
    _load_weights(path, model, str(map_location))
    try:
        state = torch.load(path / STATE_FILE, map_location=map_location, weights_only=True)
    except Exception as exc:  # a file that verified but will not unpickle safely: name it, whatever torch raised
        raise CheckpointError(f"{path / STATE_FILE}: does not load with weights_only=True: {exc}") from exc
    for name, obj in (("optimizer", optimizer), ("scheduler", scheduler), ("scaler", scaler)):
        if obj is not None:
            _restore(state, name, obj)
    if restore_rng:
        left = restore_rng_state(state.pop("rng"), generators)
        if left:
            state["rng"] = left
    return metadata, state


# ---------------------------------------------------------------------------------------------- retention

def apply_retention(run_dir: str | Path, keep: int | None, final_step: int | None, *,
                    save_every: int | None = None) -> list[Path]:
    """Delete checkpoints a run no longer needs; return the folders removed.

    Kept: with keep=None, every checkpoint (or, given save_every, every one whose step is a multiple
    of it); with keep=N, the newest N of those. Always kept besides: final_step, the newest
    checkpoint (the resume point while a run goes on) and the one run.json points at.
    """
    if keep is not None and keep < 1:
        raise ValueError(f"keep must be >= 1 or None, got {keep}")
    if save_every is not None and save_every < 1:
        raise ValueError(f"save_every must be >= 1 or None, got {save_every}")
    run_dir = Path(run_dir)
    found = list_checkpoints(run_dir)
    if not found:
        return []
    eligible = [s for s, _ in found if save_every is None or s % save_every == 0]
    kept = set(eligible if keep is None else eligible[-keep:]) | {final_step, found[-1][0]}
    try:
        kept.add(read_run(run_dir).checkpoint_step)
    except CheckpointError:
        pass  # no (valid) run.json: nothing more to protect
    removed = []
    for step, path in found:
        if step not in kept:
            remove_dir(path)
            removed.append(path)
    return removed


# --------------------------------------------------------------------------------------------- run.json

def read_run(run_dir: str | Path) -> RunRecord:
    file = Path(run_dir) / RUN_FILE
    try:
        return RunRecord.model_validate_json(file.read_bytes())
    except FileNotFoundError as exc:
        raise CheckpointError(f"{file}: missing") from exc
    except ValidationError as exc:
        raise CheckpointError(f"{file}: invalid run record: {exc}") from exc


def write_run(run_dir: str | Path, record: RunRecord) -> RunRecord:
    write_json_atomic(Path(run_dir) / RUN_FILE, record.model_dump(mode="json"))
    return record


def start_run(run_dir: str | Path, *, run_id: str, profile: str, seed: int, planned_steps: int,
              info: Mapping[str, Any] | None = None) -> RunRecord:
    """Create run.json with status running, or, for a run being resumed, set it running again (the
    record keeps its created_at and checkpoint; a different profile or seed is refused)."""
    run_dir = Path(run_dir)
    if run_id != run_dir.name:
        raise CheckpointError(f"run_id {run_id!r} is not the run folder's name {run_dir.name!r}")
    if not (run_dir / RUN_FILE).exists():
        now = _now()
        return write_run(run_dir, RunRecord(run_id=run_id, profile=profile, seed=seed, planned_steps=planned_steps,
                                            status="running", created_at=now, updated_at=now, info=dict(info or {})))
    old = read_run(run_dir)
    if (old.profile, old.seed) != (profile, seed):
        raise CheckpointError(f"{run_dir / RUN_FILE}: run {run_id} has profile {old.profile!r} seed {old.seed}; "
                              f"resuming it with profile {profile!r} seed {seed} would be another run")
    return update_run(run_dir, status="running", planned_steps=planned_steps, info=info)


def update_run(run_dir: str | Path, *, info: Mapping[str, Any] | None = None, **fields: Any) -> RunRecord:
    """Change fields of run.json (validated) and stamp updated_at; `info` is merged key by key."""
    old = read_run(run_dir)
    doc = old.model_dump() | fields | {"updated_at": _now(), "info": old.info | dict(info or {})}
    try:
        return write_run(run_dir, RunRecord.model_validate(doc))
    except ValidationError as exc:
        raise CheckpointError(f"{Path(run_dir) / RUN_FILE}: invalid update {sorted(fields)}: {exc}") from exc

