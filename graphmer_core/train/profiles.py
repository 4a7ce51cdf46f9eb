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
    size: Literal["tiny", "small", "medium", "base"] = "tiny"  # one of SIZES
    overrides: dict = Field(default_factory=dict)  # any ModelConfig field but those the dataset fixes

    @field_validator("overrides")
    @classmethod
    def _no_dataset_fields(cls, v: dict) -> dict:
        if bad := sorted(set(v) & set(FROM_DATASET)):
            raise ValueError(f"{bad} come from the dataset and cannot be set in a profile")
        return v


class Optimizer(_Strict):
    lr: float = Field(5e-4, gt=0)  # AdamW's peak learning rate, reached after the warmup
    betas: tuple[float, float] = (0.9, 0.98)  # AdamW's
    weight_decay: float = Field(0.01, ge=0)  # AdamW's, on every parameter
    grad_clip: float = Field(1.0, gt=0)  # the global gradient norm is clipped to this


class Schedule(_Strict):
    warmup_steps: int = Field(10, ge=0)  # linear warmup from 0 to lr
    min_lr_ratio: float = Field(0.1, ge=0, le=1)  # cosine decays to lr * min_lr_ratio at the last step


class CurriculumStage(_Strict):
    step: int = Field(ge=0)  # from this step on (scaled when a run's steps differ from the profile's)
    roots: int = Field(ge=8)  # R, the root slots of a sequence (its length is R x 8)


class Regularizers(_Strict):
    mnm_weight: float = Field(1.0, ge=0)  # loss = MLM + mnm_weight * MNM + weighted regularizers
    contrastive: bool = True  # InfoNCE of head occurrences against tail names
    contrastive_weight: float | None = Field(None, ge=0)  # None: the model's default
    temperature: float = Field(0.07, gt=0)  # InfoNCE's
    antisymmetry: bool = True  # for antisymmetric relations the reversed triple must score low
    antisymmetry_weight: float | None = Field(None, ge=0)  # None: the model's default
    acyclicity: bool = True  # an order potential over hierarchy relations
    acyclicity_weight: float | None = Field(None, ge=0)  # None: the model's default


class Masking(_Strict):
    mlm_rate: float = Field(0.15, ge=0, le=1)  # share of root tokens masked, in whole-identifier spans
    mnm_prob: float = Field(0.15, ge=0, le=1)  # probability a leaf block is masked whole


class Negatives(_Strict):
    enabled: bool = True  # corrupted tails for the contrastive and scoring losses
    ratio: float = Field(0.15, ge=0, le=1)  # share of attached triples that get negatives
    k: int = Field(4, ge=1)  # negatives per such triple
    type_consistent: bool = True  # drawn from entities of the relation's range kinds


class Validation(_Strict):
    every_steps: int = Field(50, ge=1)  # validation loss and accuracy every N steps
    windows: int = Field(256, ge=1)  # held-out windows scored each time (a fixed sample)
    batch_size: int = Field(16, ge=1)  # sequences per validation batch


class Gates(_Strict):
    """What a run must reach for its model to be promoted (evaluation gates)."""

    min_steps: int = Field(0, ge=0)  # the run reached at least this step
    min_loss_reduction: float = Field(0.0, ge=0, lt=1)  # share of the start loss the end loss is below
    min_mlm_acc: float = Field(0.0, ge=0, le=1)  # held-out MLM accuracy (it must also beat the most frequent token)
    min_mnm_acc: float = Field(0.0, ge=0, le=1)  # held-out MNM accuracy (it must also beat the most frequent tail)


class Profile(_Strict):
    name: str = ""  # set from the profile's key in the file
    description: str = ""  # one line for people
    dataset: DatasetConfig = DatasetConfig()
    model: ModelSection = ModelSection()
    steps: int = Field(100, ge=1)  # optimizer steps planned (the schedule and the curriculum follow them)
    max_samples: int | None = Field(None, ge=1)  # training windows used (a fixed sample); None = all
    micro_batch_size: int = Field(8, ge=1)  # sequences per forward pass, per process
    grad_accum_steps: int = Field(1, ge=1)  # micro-batches per optimizer step
    save_every_steps: int = Field(50, ge=1)  # a checkpoint every N steps, and at the last
    keep: int | None = Field(None, ge=1)  # newest N checkpoints (plus the final one); None = all saves
    amp: bool = False  # bf16 (or fp16 with a GradScaler) autocast on CUDA; always fp32 on CPU
    optimizer: Optimizer = Optimizer()
    schedule: Schedule = Schedule()
    curriculum: list[CurriculumStage] = [CurriculumStage(step=0, roots=128)]
    regularizers: Regularizers = Regularizers()
    masking: Masking = Masking()
    negatives: Negatives = Negatives()
    seeds: list[int] = [42]  # the first is the default; `--seeds`/`seeds` run several
    validation: Validation = Validation()
    gates: Gates = Gates()
    log_every_steps: int = Field(10, ge=1)  # a log line (and a Dagster Pipes message) every N steps
    # per-term gradient norms on the blocks (one extra backward pass per loss term): every N steps
    gradnorm_every_steps: int | None = Field(100, ge=1)
    loader_workers: int = Field(0, ge=0)  # loader worker processes (0: batches made in the training process)
    processes: int = Field(1, ge=1)  # > 1: torchrun --nproc_per_node (DDP)
    device: Literal["auto", "cpu", "cuda"] = "auto"  # auto: CUDA when there is one
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
