"""The real training loop's throughput vs a bare training step on the same batches.

    .venv/bin/python benchmarks/train_throughput.py                 # base model (768 x 12), R=128, batch 4
    .venv/bin/python benchmarks/train_throughput.py --size small    # seconds

The loop is graphmer_core.train.loop.train: DataLoader over the dataset, window cutting, triple
draws, masking, negatives, forward, backward, clipping, fused AdamW, the schedule, metrics.csv,
logging (with per-term gradient norms every log_every_steps) and one checkpoint at the end. The
bare step is forward + backward + fused AdamW on the very same batches, prepared beforehand, as
benchmarks/encoder_throughput.py times it. Per-step wall time of the loop is measured between
consecutive metric reports (everything the loop does between two steps is inside it); the
checkpoint is timed on its own and amortised over a save interval. Target: loop >= 0.9x bare.
Needs the profile's dataset in the lake (`graphmer build-dataset --profile cpu-small`).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch

from graphmer_core.data.build import open_stage
from graphmer_core.data.loader import SplitView, StepBatches
from graphmer_core.data.store import open_dataset
from graphmer_core.lake import Lake, default_lake_root
from graphmer_core.model import GraphMERForPretraining
from graphmer_core.train.loop import Reporter, batch_spec, model_config, train
from graphmer_core.train.profiles import CurriculumStage, load_profile


def median(xs: list[float]) -> float:
    return sorted(xs)[len(xs) // 2]


def bare_steps(profile, ds, seed: int, steps: int, roots: int) -> tuple[float, float]:
    """(median s/step, tokens/step) of forward + backward + AdamW on the loop's own batches."""
    view = SplitView(ds, "train", roots, batch_spec(profile, seed))
    batches = [StepBatches(view)[s] for s in range(steps)]
    torch.manual_seed(seed)
    model = GraphMERForPretraining(model_config(profile, ds)).train()
    opt = torch.optim.AdamW(model.parameters(), lr=profile.optimizer.lr, fused=True)
    times = []
    for b in batches:
        t = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        model(b.leafy).loss.backward()
        opt.step()
        times.append(time.perf_counter() - t)
    return median(times[1:]), sum(b.tokens for b in batches[1:]) / (steps - 1)


def loop_steps(lake: Lake, profile, ds, seed: int, steps: int) -> tuple[float, float, float]:
    """(median s/step between metric reports, tokens/step, checkpoint seconds) of the real loop."""
    stamps, tokens, saved = [], [], []

    def metrics(step: int, row: dict) -> None:
        stamps.append(time.perf_counter())
        tokens.append(row["tokens_per_s"] * row["step_s"])

    def checkpoint(path, meta) -> None:
        saved.append(time.perf_counter())

    reporter = Reporter(log=lambda _: None, metrics=metrics, checkpoint=checkpoint, progress=False)
    train(lake, ds, profile, seed, run_id=f"bench-{os.getpid()}-{time.time_ns()}", reporter=reporter)
    return median([b - a for a, b in zip(stamps[1:], stamps[2:], strict=False)]), \
        sum(tokens[2:]) / len(tokens[2:]), saved[-1] - stamps[-1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--profile", default="cpu-small", help="whose dataset, optimizer and logging to use")
    ap.add_argument("--size", default="base", choices=("tiny", "small", "medium", "base"))
    ap.add_argument("--roots", type=int, default=128)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=2, help="bare and loop alternate this many times")
    ap.add_argument("--lake", type=Path, default=default_lake_root())
    ap.add_argument("--save-interval", type=int, default=250, help="steps a checkpoint is amortised over")
    args = ap.parse_args()
    base = load_profile(args.profile)
    profile = base.model_copy(update={
        "model": base.model.model_copy(update={"size": args.size}), "steps": args.steps,
        "micro_batch_size": args.batch, "grad_accum_steps": 1,
        "curriculum": [CurriculumStage(step=0, roots=args.roots)],
        "save_every_steps": args.steps, "validation": base.validation.model_copy(update={"every_steps": 10**9}),
        "log_every_steps": min(base.log_every_steps, args.steps)})
    ds = open_dataset(open_stage(Lake(args.lake), profile.dataset).final)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, load avg {os.getloadavg()}; "
          f"model {args.size}, R={args.roots}, batch {args.batch}, {args.steps} steps x {args.rounds} rounds; "
          f"dataset {ds.version}")
    bare, loop, ckpt_s, loop_step_s = [], [], [], []
    with tempfile.TemporaryDirectory(prefix="graphmer-bench-") as tmp:
        lake = Lake(tmp)
        for r in range(args.rounds):
            s, tok = bare_steps(profile, ds, seed=r, steps=args.steps, roots=args.roots)
            bare.append(tok / s)
            s, tok, c = loop_steps(lake, profile, ds, seed=r, steps=args.steps)
            loop.append(tok / s)
            ckpt_s.append(c)
            loop_step_s.append(s)
            print(f"  round {r}: bare {bare[-1]:,.0f} tok/s   loop {loop[-1]:,.0f} tok/s   checkpoint {c:.1f} s")
    b, lp = max(bare), max(loop)
    print(f"\nbare step (fwd + bwd + fused AdamW, batches prepared): {b:,.0f} tokens/s (best of {args.rounds})")
    print(f"real loop (loader, masks, negatives, metrics, logging): {lp:,.0f} tokens/s (best of {args.rounds})")
    print(f"loop / bare: {lp / b:.2f}x  (target >= 0.90)")
    amortised = min(ckpt_s) / (args.save_interval * min(loop_step_s) + min(ckpt_s))
    print(f"checkpoint write: {min(ckpt_s):.1f} s, {amortised:.2%} of the wall time at one save every "
          f"{args.save_interval} steps")


if __name__ == "__main__":
    main()
