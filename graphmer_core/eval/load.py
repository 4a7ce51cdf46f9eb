"""A run's model, loaded the only way evaluation accepts: verified, strict, on its own dataset.

Every checksum of the checkpoint and of the dataset is verified, every weight name and shape must
match, the dataset must be the one the run trained on (version and tokenizer hash), and the leak
check is rerun on the stored shards. Any failure raises before a single figure is computed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from graphmer_core.data.gates import stored_leak_check
from graphmer_core.data.store import Dataset, DatasetError, open_dataset
from graphmer_core.lake import Lake
from graphmer_core.model import GraphMERForPretraining, ModelConfig
from graphmer_core.train import checkpoint as ckpt
from graphmer_core.train.profiles import Profile


@dataclass
class LoadedRun:
    lake: Lake
    run_id: str
    run_dir: Path
    checkpoint: Path
    meta: ckpt.CheckpointMetadata
    profile: Profile
    model: GraphMERForPretraining
    ds: Dataset

    @property
    def roots(self) -> int:
        """R of the run's last curriculum stage reached: evaluation windows are cut at it."""
        return self.profile.roots_at(self.meta.step - 1, self.profile.steps)


def load_run(lake: Lake, run_id: str, checkpoint: Path | None = None) -> LoadedRun:
    run_dir = lake.run_dir(run_id)
    path = checkpoint or ckpt.latest_valid_checkpoint(run_dir)
    if path is None:
        raise FileNotFoundError(f"run {run_id}: no checkpoint that verifies under {run_dir}")
    meta = ckpt.verify_checkpoint(path)
    profile = Profile.model_validate(meta.config["profile"])
    model = GraphMERForPretraining(ModelConfig.model_validate(meta.config["model"]))
    ckpt.load_checkpoint(path, model)  # strict: a missing, unexpected or reshaped tensor raises
    model.eval()
    ds = open_dataset(lake.dataset_dir(meta.dataset_version))
    if ds.tokenizer_sha256 != meta.tokenizer_sha256:
        raise DatasetError(f"dataset {ds.version}'s tokenizer is not the one run {run_id} trained with")
    leak = stored_leak_check(ds)
    leak.raise_if_leaking()
    return LoadedRun(lake, run_id, run_dir, path, meta, profile, model, ds)
