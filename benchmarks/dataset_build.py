"""Dataset build time vs KG build time, and loader batches/s vs the base model's training steps/s.

    .venv/bin/python benchmarks/dataset_build.py                  # default corpora, profile cpu-small
    .venv/bin/python benchmarks/dataset_build.py --profile cpu-tiny --repeat 1

Whole processes from the shell, as a user runs them, into a fresh lake: `graphmer build-kg`
(cold: empty parse cache, gates included), then `graphmer build-dataset` (splits, tokenizer,
sequences, leak check, gates). Then, in process: the loader's batches/s at R=128 beside the
base model's (768 x 12) training step on the same batches (forward, backward, fused AdamW).
Targets: the dataset builds faster than the KG; the loader makes >= 20 batches per training step.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GRAPHMER = str(Path(sys.executable).with_name("graphmer"))


def timed(cmd: list[str]) -> float:
    t = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode:
        sys.exit(f"{' '.join(cmd)} failed:\n{out.stderr[-3000:]}")
    return time.perf_counter() - t


def build_times(profile: str, repeat: int) -> tuple[list[float], list[float], Path]:
    kg, data = [], []
    keep = None
    for _ in range(repeat):
        lake = Path(tempfile.mkdtemp(prefix="graphmer-bench-"))
        kg.append(timed([GRAPHMER, "build-kg", "--lake", str(lake)]))
        data.append(timed([GRAPHMER, "build-dataset", "--profile", profile, "--lake", str(lake)]))
        keep = lake
    return kg, data, keep


def loader_vs_step(lake: Path, profile_name: str, roots: int, batch: int, steps: int) -> None:
    import torch

    from graphmer_core.data.build import open_stage
    from graphmer_core.data.loader import SplitView, StepBatches
    from graphmer_core.data.store import open_dataset
    from graphmer_core.lake import Lake
    from graphmer_core.model import GraphMERForPretraining
    from graphmer_core.train.loop import batch_spec, model_config
    from graphmer_core.train.profiles import load_profile

    torch.set_num_threads(os.cpu_count() or 1)
    profile = load_profile(profile_name)
    ds = open_dataset(open_stage(Lake(lake), profile.dataset).final)
    view = SplitView(ds, "train", roots, batch_spec(profile, seed=0, batch_size=batch))
    batches = StepBatches(view)
    batches[0]
    n = 50
    t = time.perf_counter()
    made = [batches[s] for s in range(1, n + 1)]
    loader_s = (time.perf_counter() - t) / n
    cfg = model_config(profile.model_copy(update={"model": profile.model.model_copy(update={"size": "base"})}), ds)
    model = GraphMERForPretraining(cfg).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)
    times = []
    for i in range(steps + 1):
        t = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        model(made[i].leafy).loss.backward()
        opt.step()
        times.append(time.perf_counter() - t)
    step_s = sorted(times[1:])[len(times[1:]) // 2]
    tokens = sum(b.tokens for b in made[:steps]) / steps
    print(f"\nloader at R={roots}, batch {batch}: {1 / loader_s:,.1f} batches/s ({loader_s * 1e3:.1f} ms/batch, "
          f"{tokens:,.0f} tokens/batch)")
    print(f"base model training step on those batches ({cfg.hidden} x {cfg.n_layers}, fp32, "
          f"{torch.get_num_threads()} threads): {step_s:.2f} s/step (median of {steps})")
    print(f"loader batches per training step: {step_s / loader_s:,.0f}  (target >= 20)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--profile", default="cpu-small")
    ap.add_argument("--repeat", type=int, default=2, help="cold builds (each in a fresh lake)")
    ap.add_argument("--roots", type=int, default=128)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=3, help="timed base-model steps")
    args = ap.parse_args()
    print(f"{os.cpu_count()} cores, load avg {os.getloadavg()}; profile {args.profile}; default corpora")
    kg, data, lake = build_times(args.profile, args.repeat)
    manifest = json.loads(next((lake / "datasets").glob("*/manifest.json")).read_text())
    print(f"\nKG build (graphmer build-kg, cold, whole process):        "
          f"best {min(kg):6.1f} s   runs {', '.join(f'{x:.1f}' for x in kg)}")
    print(f"dataset build (graphmer build-dataset, whole process):   "
          f"best {min(data):6.1f} s   runs {', '.join(f'{x:.1f}' for x in data)}")
    print(f"dataset / KG: {min(data) / min(kg):.2f}  (target < 1)")
    print("dataset stages in process (s): " + "  ".join(f"{k}={v}" for k, v in manifest["timings"].items())
          + f"  tokenizer_train={manifest['tokenizer']['train_s']}")
    sp = manifest["splits"]
    print("tokens: " + "  ".join(f"{s} {v['tokens']:,}" for s, v in sp.items())
          + f"; triples placed {manifest['triples_total']['placed']:,} of {manifest['triples_total']['kg']:,}")
    loader_vs_step(lake, args.profile, args.roots, args.batch, args.steps)


if __name__ == "__main__":
    main()
