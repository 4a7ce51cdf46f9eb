"""Training profiles (configs/profiles.yaml), validated by pydantic: everything a run needs.

An unknown key, a bad value or an unknown profile name is one clear error that names it. The
resolved profile (after command-line overrides) is stored whole in every checkpoint.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from graphmer_core.data.config import DatasetConfig

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PROFILES = Path(os.environ.get("GRAPHMER_PROFILES", REPO_ROOT / "configs" / "profiles.yaml"))

# Named model sizes; a profile may override any ModelConfig field beside `size`.
SIZES: dict[str, dict] = {
    "tiny": {"hidden": 128, "n_layers": 2, "n_heads": 4, "ffn_hidden": 352},
    "small": {"hidden": 256, "n_layers": 4, "n_heads": 4, "ffn_hidden": 704},
    "medium": {"hidden": 512, "n_layers": 8, "n_heads": 8, "ffn_hidden": 1408},
    "base": {"hidden": 768, "n_layers": 12, "n_heads": 12, "ffn_hidden": 1792},
}
FROM_DATASET = ("vocab_size", "num_relations", "antisymmetric_relation_ids", "hierarchy_relation_ids")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelSection(_Strict):
    size: Literal["tiny", "small", "medium", "base"] = "tiny"
    overrides: dict = Field(default_factory=dict)  # any ModelConfig field but those the dataset fixes

    @field_validator("overrides")
    @classmethod
    def _no_dataset_fields(cls, v: dict) -> dict:
        if bad := sorted(set(v) & set(FROM_DATASET)):
            raise ValueError(f"{bad} come from the dataset and cannot be set in a profile")
        return v


class Optimizer(_Strict):
    lr: float = Field(5e-4, gt=0)
    betas: tuple[float, float] = (0.9, 0.98)
    weight_decay: float = Field(0.01, ge=0)
    grad_clip: float = Field(1.0, gt=0)


class Schedule(_Strict):
    warmup_steps: int = Field(10, ge=0)
    min_lr_ratio: float = Field(0.1, ge=0, le=1)  # cosine decays to lr * min_lr_ratio at the last step


class CurriculumStage(_Strict):
    step: int = Field(ge=0)
    roots: int = Field(ge=8)


class Regularizers(_Strict):
    mnm_weight: float = Field(1.0, ge=0)
    contrastive: bool = True
    contrastive_weight: float | None = Field(None, ge=0)  # None: the model's default
    temperature: float = Field(0.07, gt=0)
    antisymmetry: bool = True
    antisymmetry_weight: float | None = Field(None, ge=0)
    acyclicity: bool = True
    acyclicity_weight: float | None = Field(None, ge=0)


class Masking(_Strict):
    mlm_rate: float = Field(0.15, ge=0, le=1)
    mnm_prob: float = Field(0.15, ge=0, le=1)


class Negatives(_Strict):
    enabled: bool = True
    ratio: float = Field(0.15, ge=0, le=1)
    k: int = Field(4, ge=1)
    type_consistent: bool = True


class Validation(_Strict):
    every_steps: int = Field(50, ge=1)
    windows: int = Field(256, ge=1)  # held-out windows scored each time (a fixed sample)
    batch_size: int = Field(16, ge=1)


class Gates(_Strict):
    """What a run must reach for its model to be promoted (evaluation gates)."""

    min_steps: int = Field(0, ge=0)
    min_loss_reduction: float = Field(0.0, ge=0, lt=1)  # share of the start loss the end loss is below
    min_mlm_acc: float = Field(0.0, ge=0, le=1)
    min_mnm_acc: float = Field(0.0, ge=0, le=1)


class Profile(_Strict):
    name: str = ""
    description: str = ""
    dataset: DatasetConfig = DatasetConfig()
    model: ModelSection = ModelSection()
    steps: int = Field(100, ge=1)
    max_samples: int | None = Field(None, ge=1)  # training windows used (a fixed sample); None = all
    micro_batch_size: int = Field(8, ge=1)
    grad_accum_steps: int = Field(1, ge=1)
    save_every_steps: int = Field(50, ge=1)
    keep: int | None = Field(None, ge=1)  # newest N checkpoints (plus the final one); None = all saves
    amp: bool = False  # bf16 (or fp16 with a GradScaler) autocast on CUDA; always fp32 on CPU
    optimizer: Optimizer = Optimizer()
    schedule: Schedule = Schedule()
    curriculum: list[CurriculumStage] = [CurriculumStage(step=0, roots=128)]
    regularizers: Regularizers = Regularizers()
    masking: Masking = Masking()
    negatives: Negatives = Negatives()
    seeds: list[int] = [42]
    validation: Validation = Validation()
    gates: Gates = Gates()
    log_every_steps: int = Field(10, ge=1)
    # per-term gradient norms on the blocks (one extra backward pass per loss term): every N steps
    gradnorm_every_steps: int | None = Field(100, ge=1)
    loader_workers: int = Field(0, ge=0)
    processes: int = Field(1, ge=1)  # > 1: torchrun --nproc_per_node (DDP)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    compile: bool = False  # torch.compile the model

    @model_validator(mode="after")
    def _check(self) -> Profile:
        steps = [c.step for c in self.curriculum]
        if not steps or steps[0] != 0 or steps != sorted(set(steps)):
            raise ValueError(f"curriculum must start at step 0 with increasing steps, got {steps}")
        if not self.seeds:
            raise ValueError("seeds must name at least one seed")
        return self

    @property
    def batch_size(self) -> int:
        """Sequences per optimizer step (all ranks, all micro-batches)."""
        return self.micro_batch_size * self.grad_accum_steps * self.processes

    def roots_at(self, step: int, total_steps: int | None = None) -> int:
        """R at `step`; curriculum steps scale with the run's length if it differs from the profile's."""
        scale = (total_steps or self.steps) / self.steps
        r = self.curriculum[0].roots
        for stage in self.curriculum:
            if step >= round(stage.step * scale):
                r = stage.roots
        return r


class ProfileError(ValueError):
    """A profile that does not exist or does not validate; the message names the key."""


def load_profiles(path: str | Path = DEFAULT_PROFILES) -> dict[str, dict]:
    data = yaml.safe_load(Path(path).read_text()) or {}
    if not isinstance(data, dict):
        raise ProfileError(f"{path}: expected a mapping of profile names to profiles")
    return data


def load_profile(name: str, path: str | Path = DEFAULT_PROFILES, **overrides) -> Profile:
    """The named profile, validated, with `overrides` (top-level keys) applied."""
    profiles = load_profiles(path)
    if name not in profiles:
        raise ProfileError(f"unknown profile {name!r} in {path}; known: {', '.join(sorted(profiles))}")
    raw = {**(profiles[name] or {}), **{k: v for k, v in overrides.items() if v is not None}, "name": name}
    try:
        return Profile.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ProfileError(f"profile {name!r} in {path}: {problems}") from None
