"""The training loop: one function that runs (or resumes) a run of a profile on a dataset.

nanoGPT-shaped: AdamW (fused where the device has it), warmup + cosine, gradient accumulation and
clipping, autocast on CUDA (bf16, else fp16 with a GradScaler), fp32 on CPU, a curriculum over R,
validation every N steps, checkpoints every N steps. Batches are a function of (seed, step, rank),
so a run stopped at step N and resumed ends with the weights of a run that never stopped. Under
torchrun every rank trains on its own windows (DDP); only rank 0 writes anything.
"""

from __future__ import annotations

import csv
import logging
import math
import os
import platform
import resource
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import torch

from graphmer_core.data.loader import BatchSpec, SplitView, eval_batches, step_loader
from graphmer_core.data.store import Dataset
from graphmer_core.kg import ontology
from graphmer_core.lake import Lake
from graphmer_core.model import GraphMERForPretraining, ModelConfig
from graphmer_core.train import checkpoint as ckpt
from graphmer_core.train.distributed import Distributed
from graphmer_core.train.profiles import SIZES, Profile
from graphmer_core.train.schedule import warmup_cosine

log = logging.getLogger(__name__)

LOSS_PARTS = ("mlm_loss", "mnm_loss", "contrastive", "antisymmetry", "acyclicity")
COUNTED = {"mlm_loss": "mlm_n", "mlm_acc": "mlm_n", "mnm_loss": "mnm_n", "mnm_acc": "mnm_n",
           "contrastive": "triples_n", "antisymmetry": "antisymmetry_n", "acyclicity": "acyclicity_n"}
VALID = ("valid_loss", "valid_mlm_loss", "valid_mlm_acc", "valid_mnm_loss", "valid_mnm_acc")
GRADNORMS = tuple(f"gradnorm_{t}" for t in ("mlm", "mnm", "contrastive", "antisymmetry", "acyclicity"))
CSV_COLUMNS = ("step", "lr", "roots", "loss", *LOSS_PARTS, "mlm_acc", "mnm_acc", "grad_norm", *VALID,
               *GRADNORMS, "tokens_per_s", "step_s", "peak_mem_mb")


class NonFiniteError(RuntimeError):
    """NaN or Inf in the loss or the gradients: the run stops, its last good checkpoint stays."""


@dataclass
class Reporter:
    """Where a run's progress goes: the shell (default), or Dagster Pipes."""

    log: Callable[[str], None] = print
    metrics: Callable[[int, dict], None] = lambda step, row: None  # noqa: E731
    checkpoint: Callable[[Path, dict], None] = lambda path, meta: None  # noqa: E731
    progress: bool = True


@dataclass
class RunResult:
    run_id: str
    run_dir: Path
    step: int
    checkpoint: Path | None
    status: str
    metrics: dict = field(default_factory=dict)


def model_config(profile: Profile, ds: Dataset) -> ModelConfig:
    """The model a profile asks for, sized to the dataset's vocabulary and relations."""
    reg = profile.regularizers
    rels = ds.relations
    kw = {**SIZES[profile.model.size], **profile.model.overrides,
          "vocab_size": ds.vocab_size, "num_relations": len(rels),
          "antisymmetric_relation_ids": tuple(i for i, r in enumerate(rels)
                                              if r in ontology.RELATIONS and ontology.RELATIONS[r].antisymmetric),
          "hierarchy_relation_ids": tuple(i for i, r in enumerate(rels)
                                          if r in ontology.RELATIONS and ontology.RELATIONS[r].hierarchy),
          "mnm_weight": reg.mnm_weight, "contrastive": reg.contrastive, "temperature": reg.temperature,
          "antisymmetry": reg.antisymmetry, "acyclicity": reg.acyclicity}
    for name in ("contrastive_weight", "antisymmetry_weight", "acyclicity_weight"):
        if getattr(reg, name) is not None:
            kw[name] = getattr(reg, name)
    return ModelConfig(**kw)


def batch_spec(profile: Profile, seed: int, batch_size: int | None = None) -> BatchSpec:
    neg = profile.negatives
    return BatchSpec(batch_size=batch_size or profile.micro_batch_size, mlm_rate=profile.masking.mlm_rate,
                     mnm_prob=profile.masking.mnm_prob, negatives_ratio=neg.ratio if neg.enabled else 0.0,
                     negatives_k=neg.k, type_consistent=neg.type_consistent, max_samples=profile.max_samples,
                     seed=seed)


def new_run_id(profile: str, seed: int) -> str:
    return f"{profile}-s{seed}-{datetime.now(UTC):%Y%m%d-%H%M%S}"


def pick_device(profile: Profile) -> torch.device:
    if profile.device == "cuda" or (profile.device == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise RuntimeError(f"profile {profile.name!r} asks for CUDA and this machine has none "
                               f"(use a cpu-* profile, or --device cpu)")
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return torch.device("cpu")


class Metrics:
    """Sums of count-weighted terms over the micro-batches of a step (accuracy over targets, not batches)."""

    def __init__(self):
        self.sums: dict[str, float] = {}
        self.counts: dict[str, float] = {}

    def add(self, metrics: dict[str, torch.Tensor]) -> None:
        values = dict(zip(metrics, torch.stack([v.float() for v in metrics.values()]).tolist(), strict=True))
        for k, v in values.items():
            if k.endswith("_n"):
                self.counts[k] = self.counts.get(k, 0.0) + v
        for k, v in values.items():
            if k in COUNTED:
                n = values.get(COUNTED[k], 1.0)
                self.sums[k] = self.sums.get(k, 0.0) + v * n

    def means(self) -> dict[str, float]:
        return {k: s / self.counts[COUNTED[k]] for k, s in self.sums.items() if self.counts.get(COUNTED[k], 0) > 0}


def validate(model: GraphMERForPretraining, view: SplitView, limit: int, device: torch.device,
             autocast) -> dict[str, float]:
    """Held-out loss and MLM/MNM accuracy on a fixed sample of valid windows, fixed masks."""
    model.eval()
    m = Metrics()
    total, n = 0.0, 0
    with torch.no_grad(), autocast():
        for batch in eval_batches(view, limit):
            out = model(batch.leafy.to(device))
            m.add(out.metrics)
            total, n = total + float(out.loss), n + 1
    model.train()
    means = m.means()
    return {"valid_loss": total / max(n, 1), **{f"valid_{k}": means[k] for k in
                                                 ("mlm_loss", "mlm_acc", "mnm_loss", "mnm_acc") if k in means}}


class MetricsCsv:
    """runs/<run_id>/metrics.csv, one row per step; a resumed run first drops rows past its checkpoint."""

    def __init__(self, path: Path, resume_step: int | None):
        self.path = path
        if resume_step is not None and path.exists():
            with open(path, newline="") as fh:
                rows = [r for r in csv.DictReader(fh) if int(r["step"]) <= resume_step]
            self._write_all(rows)
        elif not path.exists() or resume_step is None:
            self._write_all([])

    def _write_all(self, rows: list[dict]) -> None:
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "w", newline="") as fh:
            w = csv.DictWriter(fh, CSV_COLUMNS)
            w.writeheader()
            w.writerows(rows)
        os.replace(tmp, self.path)

    def append(self, row: dict) -> None:
        with open(self.path, "a", newline="") as fh:
            csv.DictWriter(fh, CSV_COLUMNS, extrasaction="ignore").writerow(
                {k: ("" if row.get(k) is None else row[k]) for k in CSV_COLUMNS})


def peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def train(lake: Lake, ds: Dataset, profile: Profile, seed: int, *, run_id: str | None = None,
          steps: int | None = None, stop_at: int | None = None, resume: bool = False,
          reporter: Reporter | None = None, dist: Distributed | None = None) -> RunResult:
    """Train (or, with resume=True, continue) run `run_id` of `profile` with `seed` on `ds`.

    `steps` is the run's planned total (it drives the schedule and curriculum); `stop_at` ends the
    run after writing a checkpoint at that step, as an interruption would."""
    reporter = reporter or Reporter()
    dist = dist or Distributed.from_env()
    total = steps or profile.steps
    if stop_at is not None and not 0 < stop_at <= total:
        raise ValueError(f"--stop-at {stop_at} must be within 1..{total}")
    run_id = run_id or new_run_id(profile.name, seed)
    run_dir = lake.run_dir(run_id)
    device = pick_device(profile) if dist.world == 1 or profile.device != "auto" else dist.device
    torch.manual_seed(seed)

    cfg = model_config(profile, ds)
    model = GraphMERForPretraining(cfg).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=profile.optimizer.lr, betas=profile.optimizer.betas,
                            weight_decay=profile.optimizer.weight_decay, fused=True)
    sched = warmup_cosine(opt, total, profile.schedule.warmup_steps, profile.schedule.min_lr_ratio)
    use_amp = profile.amp and device.type == "cuda"
    amp_dtype = torch.bfloat16 if use_amp and torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda") if use_amp and amp_dtype == torch.float16 else None

    def autocast():
        return torch.autocast("cuda", dtype=amp_dtype) if use_amp else nullcontext()

    start = 0
    if resume:
        latest, skipped = ckpt.find_latest_valid(run_dir)
        for path, why in skipped:
            reporter.log(f"skipping checkpoint {path.name}: {why}")
        if latest is None:
            raise FileNotFoundError(f"run {run_id} has no checkpoint that verifies under {run_dir}")
        meta, state = ckpt.load_checkpoint(latest, model, opt, sched, scaler, map_location=device,
                                           restore_rng=True)
        start = meta.step
        if dist.rank:  # load_checkpoint restored rank 0's RNG state; this rank's own, where saved
            ranks = state.get("extra", {}).get("rank_rng") or []
            if len(ranks) == dist.world - 1:
                ckpt.restore_rng_state(ranks[dist.rank - 1])
            else:
                log.warning("rank %d resumes with a fresh RNG stream: %s holds %d other ranks' states "
                            "(world %d now)", dist.rank, latest.name, len(ranks), dist.world)
                dist.seed_rank(seed, at_step=start)
        reporter.log(f"resumed {run_id} from {latest.name} (step {start} of {total})")
    config = {"profile": profile.model_dump(mode="json") | {"steps": total}, "model": cfg.model_dump(mode="json")}
    if dist.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        ckpt.start_run(run_dir, run_id=run_id, profile=profile.name, seed=seed, planned_steps=total,
                       info={"dataset_version": ds.version, "kg_version": ds.manifest["kg_version"],
                             "device": str(device), "world_size": dist.world})
    metrics_csv = MetricsCsv(run_dir / "metrics.csv", start if resume else None) if dist.is_main else None
    net = torch.compile(model) if profile.compile else model
    net = dist.wrap(net)  # every rank now holds rank 0's weights
    if not resume:
        dist.seed_rank(seed)

    meta_base = {"run_id": run_id, "seed": seed, "profile": profile.name, "config": config,
                 "kg_version": ds.manifest["kg_version"], "dataset_version": ds.version,
                 "tokenizer_sha256": ds.tokenizer_sha256, "relation_vocab": list(ds.relations),
                 "device": f"{device} x{dist.world}" if dist.world > 1 else str(device),
                 "library_versions": {"python": platform.python_version()}}
    last: dict = {}
    saved: Path | None = None

    def save(step: int, metrics: dict) -> Path | None:
        nonlocal saved
        # the other ranks' RNG states, for each to resume its own: they part ways (rank 0 alone
        # validates); rank 0's is the checkpoint's own
        others = {"rank_rng": dist.all_gather(ckpt.collect_rng_state())[1:]} if dist.world > 1 else None
        if dist.is_main:
            finite = {k: v for k, v in metrics.items() if isinstance(v, float) and math.isfinite(v)}
            saved = ckpt.save_checkpoint(run_dir, step, model, optimizer=opt, scheduler=sched, scaler=scaler,
                                         extra_state=others,
                                         meta={**meta_base, "metrics": finite})
            ckpt.apply_retention(run_dir, profile.keep, final_step=total, save_every=profile.save_every_steps)
            reporter.checkpoint(saved, {"step": step, **finite})
        dist.barrier()
        return saved

    spec = batch_spec(profile, seed)
    valid_view: SplitView | None = None
    accum = profile.grad_accum_steps
    end = stop_at or total
    if start == 0 and dist.is_main:  # where held-out loss starts, for the curves and the gates
        valid_view = SplitView(ds, "valid", profile.roots_at(0, total),
                               batch_spec(profile, seed, profile.validation.batch_size))
        row0 = {"step": 0, "lr": sched.get_last_lr()[0], "roots": valid_view.roots,
                **validate(model, valid_view, profile.validation.windows, device, autocast)}
        metrics_csv.append(row0)
        reporter.log(_line(row0))
    bar = _progress(reporter, start, end, run_id, dist)
    pos = start
    model.train()
    try:
        while pos < end:  # one curriculum stage (one R) at a time
            roots = profile.roots_at(pos, total)
            stage_end = next((s for s in range(pos + 1, end) if profile.roots_at(s, total) != roots), end)
            view = SplitView(ds, "train", roots, spec)
            batches = iter(step_loader(view, pos * accum, stage_end * accum, dist.rank, dist.world,
                                       profile.loader_workers))
            for step in range(pos, stage_end):
                t0 = time.perf_counter()
                m, tokens, loss_sum = Metrics(), 0, 0.0
                log_now = (step + 1) % profile.log_every_steps == 0 or step + 1 == end
                norms_now = profile.gradnorm_every_steps is not None and (step + 1) % profile.gradnorm_every_steps == 0
                gradnorms: dict[str, float] = {}
                for k in range(accum):
                    batch = next(batches)
                    tokens += batch.tokens  # counted on the host, before the copy to the device
                    batch = batch.to(device)
                    sync = k == accum - 1
                    with dist.no_sync(net, sync), autocast():
                        out = net(batch.leafy)
                        loss = out.loss / accum
                    loss_value = float(out.loss.detach())
                    if not math.isfinite(loss_value):
                        raise NonFiniteError(f"step {step + 1}: loss is {loss_value} "
                                             f"({ {n: float(v) for n, v in out.metrics.items()} })")
                    loss_sum += loss_value / accum
                    if norms_now and sync and dist.world == 1:  # extra backward passes DDP must not see
                        gradnorms = {f"gradnorm_{n}": v for n, v in model.term_grad_norms(out).items()}
                    with dist.no_sync(net, sync):
                        (scaler.scale(loss) if scaler else loss).backward()
                    m.add(out.metrics)
                if scaler:
                    scaler.unscale_(opt)
                grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), profile.optimizer.grad_clip)
                if not torch.isfinite(grad_norm):
                    raise NonFiniteError(f"step {step + 1}: gradient norm is {grad_norm.item()}")
                if scaler:
                    scaler.step(opt)
                    scaler.update()
                else:
                    opt.step()
                opt.zero_grad(set_to_none=True)
                lr = sched.get_last_lr()[0]
                sched.step()
                done = step + 1
                dt = time.perf_counter() - t0
                means = m.means()
                row = {"step": done, "lr": lr, "roots": roots, "loss": loss_sum, **means,
                       "grad_norm": float(grad_norm), **gradnorms, "tokens_per_s": tokens * dist.world / dt,
                       "step_s": dt, "peak_mem_mb": peak_memory_mb(device)}
                if done % profile.validation.every_steps == 0 or done == end:
                    if valid_view is None or valid_view.roots != roots:
                        valid_view = SplitView(ds, "valid", roots,
                                               batch_spec(profile, seed, profile.validation.batch_size))
                    row.update(validate(model, valid_view, profile.validation.windows, device, autocast))
                last = row
                if dist.is_main:
                    metrics_csv.append(row)
                    reporter.metrics(done, row)
                    if log_now or "valid_loss" in row:
                        reporter.log(_line(row))
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{row['loss']:.3f}", R=roots)
                if done % profile.save_every_steps == 0 or done == end:
                    save(done, row)
            pos = stage_end
    except BaseException as exc:
        if dist.is_main and (run_dir / ckpt.RUN_FILE).exists():
            status = "stopped" if isinstance(exc, KeyboardInterrupt) else "failed"
            ckpt.update_run(run_dir, status=status, info={"error": f"{type(exc).__name__}: {exc}"})
        raise
    finally:
        if bar is not None:
            bar.close()
    status = "completed" if end == total else "stopped"
    if dist.is_main:
        ckpt.update_run(run_dir, status=status, info={"final_metrics": {k: v for k, v in last.items()
                                                                         if isinstance(v, float | int)}})
    return RunResult(run_id, run_dir, end, saved, status, last)


def _line(row: dict) -> str:
    parts = [f"step {row['step']}", f"lr {row['lr']:.2e}", f"R {row['roots']}"]
    parts += [f"loss {row['loss']:.4f}"] if "loss" in row else []
    parts += [f"{k} {row[k]:.4f}" for k in (*LOSS_PARTS, "mlm_acc", "mnm_acc") if k in row]
    parts += [f"{k} {row[k]:.4f}" for k in VALID if k in row]
    parts += [f"{row['tokens_per_s']:,.0f} tok/s"] if "tokens_per_s" in row else []
    return "  ".join(parts)


def _progress(reporter: Reporter, start: int, end: int, run_id: str, dist: Distributed):
    if not (reporter.progress and dist.is_main):
        return None
    from tqdm import tqdm

    return tqdm(total=end, initial=start, desc=run_id, unit="step", disable=None, leave=False)
