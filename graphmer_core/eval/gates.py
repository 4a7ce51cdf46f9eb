"""The model's quality gates, run through Great Expectations like the KG's: a model is promoted
(models/current) only when every gate passes. A failed gate names the figure, its value and its
threshold."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from graphmer_core.kg.quality import validate_frames
from graphmer_core.train.profiles import Gates


@dataclass
class Gate:
    figure: str
    value: float | None
    threshold: float
    passed: bool

    def line(self) -> str:
        shown = "missing" if self.value is None else f"{self.value:.4f}"
        return f"{self.figure} = {shown}, needs >= {self.threshold:.4f}: {'pass' if self.passed else 'FAIL'}"


def loss_reduction(metrics_csv: Path) -> tuple[float, float, int]:
    """(loss at the start, loss at the end, steps): means over the first and last 10% of steps."""
    with open(metrics_csv, newline="") as fh:
        losses = [float(r["loss"]) for r in csv.DictReader(fh) if r["loss"]]  # step 0 holds only valid figures
    k = max(1, len(losses) // 10)
    return sum(losses[:k]) / k, sum(losses[-k:]) / k, len(losses)


def nonfinite(metrics_csv: Path) -> list[str]:
    """Every metric value in the run's table that is NaN or infinite, as 'step N: column'."""
    bad = []
    with open(metrics_csv, newline="") as fh:
        for r in csv.DictReader(fh):
            for k, v in r.items():
                if v not in ("", None) and not math.isfinite(float(v)):
                    bad.append(f"step {r['step']}: {k}")
    return bad


def gate_rows(thresholds: Gates, metrics_csv: Path, heldout: dict) -> list[Gate]:
    start, end, steps = loss_reduction(metrics_csv)
    reduction = 1 - end / start if start else None
    mlm = heldout["mlm"]["accuracy"]
    mnm = heldout["mnm"]["accuracy"]["all"]
    rows = [
        ("steps", steps, thresholds.min_steps),
        ("loss_reduction", reduction, thresholds.min_loss_reduction),
        ("heldout_mlm_acc", mlm["model"], thresholds.min_mlm_acc),
        ("heldout_mnm_acc", mnm["model"], thresholds.min_mnm_acc),
        ("heldout_mlm_acc_minus_most_frequent_token",
         None if mlm["model"] is None else mlm["model"] - mlm["most_frequent_token"], 1e-9),
        ("heldout_mnm_acc_minus_most_frequent_tail",
         None if mnm["model"] is None else mnm["model"] - (mnm["most_frequent_tail"] or 0.0), 1e-9),
        ("finite_metrics", 0.0 if nonfinite(metrics_csv) else 1.0, 1.0),
    ]
    return [Gate(f, v, th, v is not None and v >= th) for f, v, th in rows]


def run_model_gates(thresholds: Gates, metrics_csv: Path, heldout: dict):
    """GX over one row per gate (value >= threshold); returns (gates, suite outcomes)."""
    gates = gate_rows(thresholds, metrics_csv, heldout)
    frame = pd.DataFrame([{"figure": g.figure, "value": g.value, "threshold": g.threshold,
                           "margin": None if g.value is None else g.value - g.threshold} for g in gates])

    def suites(gx) -> dict:
        E = gx.expectations
        return {"model_gates": [E.ExpectColumnValuesToNotBeNull(column="value"),
                                E.ExpectColumnValuesToBeBetween(column="margin", min_value=0)]}

    return gates, validate_frames({"model_gates": frame}, suites)


def promote(lake, checkpoint: Path) -> Path:
    """Point models/current at a checkpoint whose gates passed (atomic; the old target stays on disk)."""
    from graphmer_core.lake import write_pointer

    pointer = lake.models_root / "current"
    with lake.lock("promoting a model"):
        write_pointer(pointer, Path(checkpoint).resolve().relative_to(lake.root).as_posix())
    return pointer


def current_model(lake) -> Path | None:
    pointer = lake.models_root / "current"
    return lake.root / pointer.read_text().strip() if pointer.exists() else None
