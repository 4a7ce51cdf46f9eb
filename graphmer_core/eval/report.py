"""A run's (or several seeds') honest evaluation: held-out MLM/MNM and link prediction beside their
baselines, KG completion, the quality gates, written as report.json, report.md and PNG plots::

    runs/<run_id>/report.json   every figure, for machines
    runs/<run_id>/report.md     the tables and plain sentences on where the model wins or loses
    runs/<run_id>/plots/*.png   loss parts and lr, train vs valid, accuracy, per-relation MRR
    runs/<run_id>/completions.parquet   top-k predicted tails for test entities
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from graphmer_core.artifacts import write_bytes_atomic, write_json_atomic
from graphmer_core.data.store import write_parquet
from graphmer_core.eval import linkpred as lp
from graphmer_core.eval.baselines import TrainCounts
from graphmer_core.eval.completion import complete
from graphmer_core.eval.gates import run_model_gates
from graphmer_core.eval.heldout import heldout
from graphmer_core.eval.load import LoadedRun, load_run
from graphmer_core.lake import Lake

SCHEMA_VERSION = "1.0"
Log = Callable[[str], None]


@dataclass
class EvalOptions:
    windows: int = 2048  # held-out windows for MLM/MNM (a fixed sample)
    per_relation: int = 100  # test triples per relation for link prediction (a fixed sample)
    kge: tuple[str, ...] = ("DistMult", "RotatE", "TransE", "NodePiece")
    kge_budget_s: float = 60.0  # training budget of each PyKEEN baseline
    top_k: int = 10
    seed: int = 0


@dataclass
class Evaluation:
    report: dict
    paths: dict[str, Path] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.report["gates_suite_passed"] and all(g["passed"] for g in self.report["gates"])


def _mean_spread(values: list[float | None]) -> dict:
    v = [x for x in values if x is not None]
    if not v:
        return {"mean": None, "std": None, "n": 0}
    return {"mean": float(np.mean(v)), "std": float(np.std(v)), "n": len(v)}


def evaluate(lake: Lake, run_ids: list[str], options: EvalOptions | None = None, log: Log = print) -> Evaluation:
    """Evaluate one run per seed (all on one dataset); baselines are computed once on the same split."""
    opt = options or EvalOptions()
    t0 = time.perf_counter()
    runs = [load_run(lake, r) for r in run_ids]
    first = runs[0]
    if len({r.ds.version for r in runs}) != 1:
        raise ValueError("runs evaluated together must share one dataset")
    counts = TrainCounts(first.ds)
    queries = lp.sample_queries(first, counts, opt.per_relation, opt.seed)
    ranker = lp.Ranker(first, counts, queries)
    log(f"link prediction: {len(queries.head):,} test triples over {len(ranker.candidates)} relations")

    per_run = {}
    model_fns = {}
    for run in runs:
        log(f"{run.run_id}: held-out MLM/MNM on up to {opt.windows:,} test windows")
        held = heldout(run, counts, opt.windows)
        log(f"{run.run_id}: link prediction through the MNM head and through the triple scorer")
        fn = lp.mnm_scores(run, queries)
        model_fns[run.run_id] = fn
        per_run[run.run_id] = {
            "seed": run.meta.seed, "step": run.meta.step, "checkpoint": str(run.checkpoint), "heldout": held,
            "link_prediction": ranker.breakdown(ranker.rank(fn)),
            "link_prediction_triple_scorer": ranker.breakdown(ranker.rank(lp.model_scores(run, counts, queries)))}

    baselines = {"popularity": lp.popularity_scores(counts), "lexical": lp.lexical_scores(first, counts, queries)}
    kge_info = {}
    for name in opt.kge:
        log(f"baseline {name}: training for {opt.kge_budget_s:.0f} s")
        result = _train_kge(first, counts, queries, name, opt)
        kge_info[name] = {"epochs": result.epochs, "seconds": round(result.seconds, 1),
                          "budget_s": result.budget_s, **result.info}
        baselines[name] = lambda idx, r, cands, m=result: m.scores(queries.head[idx], r, cands)
    lp_baselines = {name: ranker.breakdown(ranker.rank(fn)) for name, fn in baselines.items()}

    best = max(lp_baselines, key=lambda n: lp_baselines[n]["all"]["mrr"] or 0)
    table, model_completion = complete(ranker, model_fns[first.run_id], opt.top_k)
    _, base_completion = complete(ranker, baselines[best], opt.top_k)

    gates, suites_passed = [], True
    for run in runs:
        rows, outcomes = run_model_gates(run.profile.gates, run.run_dir / "metrics.csv",
                                         per_run[run.run_id]["heldout"])
        suites_passed &= all(o.success for o in outcomes)
        gates += [{"run_id": run.run_id, "figure": g.figure, "value": g.value, "threshold": g.threshold,
                   "passed": g.passed} for g in rows]

    report = {
        "schema_version": SCHEMA_VERSION, "run_ids": run_ids, "profile": first.profile.name,
        "dataset_version": first.ds.version, "kg_version": first.ds.manifest["kg_version"],
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "options": opt.__dict__,
        "scoring": lp.__doc__.split("\n\n")[1].replace("\n", " "),
        "runs": per_run, "seeds": _across_seeds(per_run),
        "link_prediction_baselines": lp_baselines, "kge_training": kge_info,
        "completion": {"model": model_completion, "best_baseline": best, "baseline": base_completion},
        "gates": gates, "gates_suite_passed": suites_passed, "verdicts": verdicts(per_run[first.run_id], lp_baselines),
        "evaluation_s": round(time.perf_counter() - t0, 1),
    }
    ev = Evaluation(report)
    for run in runs:
        ev.paths = write_report(run, report, table)
    return ev


def _train_kge(run: LoadedRun, counts: TrainCounts, queries: lp.Queries, name: str, opt: EvalOptions):
    from graphmer_core.eval.kge import train_kge

    t = counts.triples
    train = np.stack([t["head"], t["relation"], t["tail"]], 1)[counts.train_mask]
    context = None
    if name == "NodePiece":  # held-out triples other than the queried ones: relational context only
        held = ~counts.train_mask
        asked = set(zip(queries.head.tolist(), queries.relation.tolist(), strict=True))
        rows = np.stack([t["head"], t["relation"], t["tail"]], 1)[held]
        context = rows[[(h, r) not in asked for h, r in rows[:, :2].tolist()]]
    return train_kge(name, train, len(run.ds.entities), len(run.ds.relations), budget_s=opt.kge_budget_s,
                     seed=opt.seed, context=context)


def _across_seeds(per_run: dict) -> dict:
    runs = list(per_run.values())
    get = {
        "mlm_acc": lambda r: r["heldout"]["mlm"]["accuracy"]["model"],
        "mnm_acc": lambda r: r["heldout"]["mnm"]["accuracy"]["all"]["model"],
        "mnm_exact": lambda r: r["heldout"]["mnm"]["exact_match"]["all"]["model"],
        "mrr": lambda r: r["link_prediction"]["all"]["mrr"],
        "mrr_not_in_window": lambda r: r["link_prediction"]["not_in_window"]["mrr"],
        "hits@10": lambda r: r["link_prediction"]["all"]["hits@10"],
    }
    return {k: _mean_spread([f(r) for r in runs]) for k, f in get.items()}


def verdicts(run: dict, baselines: dict) -> list[str]:
    """Plain sentences: where the model wins or loses against each baseline."""
    out = []
    h = run["heldout"]
    mlm = h["mlm"]["accuracy"]
    out.append(_compare("held-out MLM accuracy", mlm["model"], "the most frequent token", mlm["most_frequent_token"]))
    mnm = h["mnm"]["accuracy"]
    for group in ("all", "not_in_window", "in_window"):
        for base in ("most_frequent_tail", "copy_from_window"):
            out.append(_compare(f"MNM token accuracy ({group.replace('_', ' ')})", mnm[group]["model"],
                                base.replace("_", " "), mnm[group][base]))
    model_lp = run["link_prediction"]
    for name, b in baselines.items():
        for group in ("all", "not_in_window"):
            out.append(_compare(f"link-prediction MRR ({group.replace('_', ' ')})", model_lp[group]["mrr"],
                                name, b[group]["mrr"]))
    pop = baselines["popularity"]["per_relation"]
    beaten = [r for r, m in model_lp["per_relation"].items()
              if m["n"] >= 50 and pop[r]["mrr"] is not None and m["mrr"] > pop[r]["mrr"]]
    eligible = [r for r, m in model_lp["per_relation"].items() if m["n"] >= 50]
    out.append(f"The model beats popularity on {len(beaten)} of the {len(eligible)} relations with at least "
               f"50 test triples" + (f" (not on: {', '.join(sorted(set(eligible) - set(beaten)))})."
                                     if set(eligible) - set(beaten) else "."))
    return [v for v in out if v]


def _compare(what: str, model: float | None, name: str, base: float | None) -> str:
    if model is None or base is None:
        return ""
    word = "beats" if model > base else "loses to" if model < base else "ties"
    return f"{what}: the model ({model:.3f}) {word} {name} ({base:.3f})."


# --- writing ----------------------------------------------------------------------------------


def write_report(run: LoadedRun, report: dict, completions) -> dict[str, Path]:
    d = run.run_dir
    plots = make_plots(run, report, d / "plots")
    write_parquet(completions, d / "completions.parquet")
    write_json_atomic(d / "report.json", report)
    write_bytes_atomic(d / "report.md", markdown(report, run.run_id).encode())
    return {"report.json": d / "report.json", "report.md": d / "report.md",
            "completions": d / "completions.parquet", **plots}


def _f(x) -> str:
    return "-" if x is None else f"{x:.3f}"


def markdown(report: dict, run_id: str) -> str:
    r = report["runs"][run_id]
    h = r["heldout"]
    lines = [f"# Evaluation of {run_id}", "",
             f"Profile `{report['profile']}`, checkpoint step {r['step']}, dataset `{report['dataset_version']}` "
             f"(KG `{report['kg_version']}`). Test split only; every baseline on the same windows, masks and triples.",
             "", "## Held-out MLM and MNM", "",
             f"{h['windows']:,} test windows at R={h['roots']}; {h['mlm']['targets']:,} MLM targets, "
             f"{h['mnm']['targets']:,} MNM targets in {h['mnm']['blocks']['all']:,} leaf blocks "
             f"({h['mnm']['blocks']['not_in_window']:,} whose tail name is not in the window). Targets are [MASK] in "
             "the input.", "",
             "| figure | model | most frequent token | most frequent tail | copy from window |",
             "|---|---:|---:|---:|---:|",
             f"| MLM accuracy | {_f(h['mlm']['accuracy']['model'])} | "
             f"{_f(h['mlm']['accuracy']['most_frequent_token'])} | | |"]
    for kind, label in (("accuracy", "MNM token accuracy"), ("exact_match", "MNM whole-tail exact match")):
        for g in ("all", "not_in_window", "in_window"):
            v = h["mnm"][kind][g]
            lines.append(f"| {label} ({g.replace('_', ' ')}) | {_f(v['model'])} | {_f(v['most_frequent_token'])} | "
                         f"{_f(v['most_frequent_tail'])} | {_f(v['copy_from_window'])} |")
    lines += [f"\nMLM loss {h['mlm']['loss']:.3f}, MNM loss {h['mnm']['loss']:.3f} (nats per target).", "",
              "## Link prediction (filtered)", "", report["scoring"], "",
              "| scorer | MRR | Hits@1 | Hits@3 | Hits@10 | MRR, tail not in window | MRR, tail in window |",
              "|---|---:|---:|---:|---:|---:|---:|"]
    rows = {"**model** (MNM)": r["link_prediction"], "model (triple scorer)": r["link_prediction_triple_scorer"],
            **report["link_prediction_baselines"]}
    for name, b in rows.items():
        a = b["all"]
        lines.append(f"| {name} | {_f(a['mrr'])} | {_f(a['hits@1'])} | {_f(a['hits@3'])} | {_f(a['hits@10'])} | "
                     f"{_f(b['not_in_window']['mrr'])} | {_f(b['in_window']['mrr'])} |")
    lines += ["", f"{r['link_prediction']['all']['n']:,} test triples (`contains` left out: the file states it).", "",
              "| relation | n | " + " | ".join(rows) + " |", "|---|---:|" + "---:|" * len(rows)]
    for rel, m in r["link_prediction"]["per_relation"].items():
        lines.append(f"| {rel} | {m['n']} | " + " | ".join(_f(b["per_relation"][rel]["mrr"]) for b in rows.values())
                     + " |")
    if report["kge_training"]:
        lines += ["", "PyKEEN baselines (trained on the training triples only): " + "; ".join(
            f"{n}: {v['epochs']} epochs in {v['seconds']} s (budget {v['budget_s']} s)"
            for n, v in report["kge_training"].items())]
    c = report["completion"]
    k = c["model"]["k"]
    lines += ["", "## KG completion", "",
              f"Top-{k} tails for {c['model']['pairs']:,} (test head, relation) pairs, kept only where the ontology "
              f"allows them: precision@{k} against the test split's extracted triples is "
              f"{_f(c['model'][f'precision@{k}'])} for the model and {_f(c['baseline'][f'precision@{k}'])} for the "
              f"best baseline ({c['best_baseline']}). Predictions: `completions.parquet`."]
    if len(report["run_ids"]) > 1:
        lines += ["", "## Across seeds", "", "| figure | mean | spread (std) | runs |", "|---|---:|---:|---:|",
                  *(f"| {k} | {_f(v['mean'])} | {_f(v['std'])} | {v['n']} |" for k, v in report["seeds"].items())]
    lines += ["", "## Gates", "", "| run | figure | value | threshold | result |", "|---|---|---:|---:|---|",
              *(f"| {g['run_id']} | {g['figure']} | {_f(g['value'])} | {_f(g['threshold'])} | "
                f"{'pass' if g['passed'] else '**FAIL**'} |" for g in report["gates"])]
    lines += ["", "## Where the model stands", "", *(f"- {v}" for v in report["verdicts"]), "",
              "![losses](plots/losses.png)", "![train vs valid](plots/train_valid.png)",
              "![accuracy](plots/accuracy.png)", "![per-relation MRR](plots/relation_mrr.png)", ""]
    return "\n".join(lines)


def _series(metrics_csv: Path) -> dict[str, np.ndarray]:
    with open(metrics_csv, newline="") as fh:
        rows = list(csv.DictReader(fh))
    cols = rows[0].keys() if rows else []
    return {c: np.array([float(r[c]) if r[c] not in ("", None) else np.nan for r in rows]) for c in cols}


def _smooth(x: np.ndarray, window: int = 20) -> np.ndarray:
    """Trailing mean over `window` steps (fewer at the start)."""
    c = np.cumsum(np.insert(x, 0, 0.0))
    n = np.minimum(np.arange(1, len(x) + 1), window)
    return (c[1:] - c[np.arange(len(x)) + 1 - n]) / n


def make_plots(run: LoadedRun, report: dict, folder: Path) -> dict[str, Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    s = _series(run.run_dir / "metrics.csv")
    step = s["step"]
    out = {}

    def save(fig, name: str) -> None:
        path = folder / f"{name}.png"
        fig.tight_layout()
        fig.savefig(path.with_suffix(".tmp.png"), dpi=100)
        plt.close(fig)
        path.with_suffix(".tmp.png").replace(path)
        out[name] = path

    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    for i, k in enumerate(("loss", "mlm_loss", "mnm_loss", "contrastive", "antisymmetry", "acyclicity")):
        m = ~np.isnan(s[k])
        ax[0].plot(step[m], s[k][m], color=f"C{i}", lw=0.6, alpha=0.3)  # per step (MNM targets are few)
        ax[0].plot(step[m], _smooth(s[k][m]), color=f"C{i}", lw=1.5, label=k)
    ax[0].set(xlabel="step", ylabel="loss", title="loss parts (mean over 20 steps)")
    ax[0].legend(fontsize=8)
    ax[1].plot(step, s["lr"], color="k")
    ax[1].set(xlabel="step", ylabel="learning rate", title="schedule")
    save(fig, "losses")

    fig, ax = plt.subplots(figsize=(6, 4))
    for k, label in (("loss", "train"), ("valid_loss", "valid")):
        m = ~np.isnan(s[k])
        ax.plot(step[m], s[k][m], "o-" if label == "valid" else "-", label=label, lw=1)
    ax.set(xlabel="step", ylabel="loss", title="train vs valid")
    ax.legend()
    save(fig, "train_valid")

    fig, ax = plt.subplots(figsize=(6, 4))
    for k in ("mlm_acc", "mnm_acc", "valid_mlm_acc", "valid_mnm_acc"):
        m = ~np.isnan(s[k])
        ax.plot(step[m], s[k][m], "o-" if k.startswith("valid") else "-", label=k, lw=1)
    ax.set(xlabel="step", ylabel="accuracy", title="accuracy")
    ax.legend(fontsize=8)
    save(fig, "accuracy")

    rel = report["runs"][run.run_id]["link_prediction"]["per_relation"]
    names = list(rel)
    scorers = {"model": rel, **{n: b["per_relation"] for n, b in report["link_prediction_baselines"].items()}}
    fig, ax = plt.subplots(figsize=(max(8, len(names) * 0.9), 4.5))
    width = 0.8 / len(scorers)
    for i, (name, per) in enumerate(scorers.items()):
        ax.bar(np.arange(len(names)) + i * width, [per[r]["mrr"] or 0 for r in names], width, label=name)
    ax.set_xticks(np.arange(len(names)) + 0.4 - width / 2, names, rotation=35, ha="right", fontsize=8)
    ax.set(ylabel="filtered MRR", title="link prediction per relation")
    ax.legend(fontsize=8)
    save(fig, "relation_mrr")
    return out


def summary_lines(report: dict) -> list[str]:
    """What `make demo` and `graphmer eval` print."""
    run_id = report["run_ids"][0]
    r = report["runs"][run_id]
    h, lpm = r["heldout"], r["link_prediction"]
    base = report["link_prediction_baselines"]
    mlm, mnm = h["mlm"]["accuracy"], h["mnm"]["accuracy"]["all"]
    lines = [f"evaluation of {', '.join(report['run_ids'])} (test split, {h['windows']:,} windows, "
             f"{lpm['all']['n']:,} link-prediction triples)",
             f"  MLM acc {_f(mlm['model'])} (most frequent token {_f(mlm['most_frequent_token'])});"
             f"  MNM acc {_f(mnm['model'])} (most frequent tail {_f(mnm['most_frequent_tail'])}, "
             f"copy {_f(mnm['copy_from_window'])})",
             f"  link prediction MRR: model {_f(lpm['all']['mrr'])} (not in window {_f(lpm['not_in_window']['mrr'])})  "
             + "  ".join(f"{n} {_f(b['all']['mrr'])}" for n, b in base.items())]
    failed = [g for g in report["gates"] if not g["passed"]]
    lines.append("  gates: " + ("all passed" if not failed else "FAILED: " + "; ".join(
        f"{g['figure']} = {_f(g['value'])} < {_f(g['threshold'])}" for g in failed)))
    return lines
