"""Honest evaluation of the newest runs, KG completion, and promotion of a model that passes its gates."""

import json
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq

from graphmer_core.eval.gates import promote
from graphmer_core.eval.report import EvalOptions, evaluate, summary_lines
from graphmer_pipeline.assets.training import latest_runs
from graphmer_pipeline.metadata import gate_table, png_markdown
from graphmer_pipeline.resources import DataLake


class EvalConfig(dg.Config):
    windows: int = 2048  # held-out windows for MLM/MNM
    per_relation: int = 100  # test triples per relation for link prediction
    kge: list[str] = ["DistMult", "RotatE", "TransE", "NodePiece"]  # PyKEEN baselines ([] = none)
    kge_budget_s: float = 60.0  # training seconds per PyKEEN baseline


def _report(lake: DataLake) -> dict:
    run_id = latest_runs(lake)[0]
    path = lake.lake.run_dir(run_id) / "report.json"
    if not path.exists():
        raise FileNotFoundError(f"no evaluation report for {run_id}: materialize evaluation_report first")
    return json.loads(path.read_text())


@dg.asset(group_name="evaluation", kinds={"python", "pytorch"}, deps=["model_checkpoint"])
def evaluation_report(context: dg.AssetExecutionContext, config: EvalConfig, lake: DataLake) -> dg.MaterializeResult:
    """Held-out MLM/MNM and link prediction of every seed of the newest training_run, beside the
    baselines on the same split, with plots; report.md/.json land in each run folder."""
    opts = EvalOptions(windows=config.windows, per_relation=config.per_relation, kge=tuple(config.kge),
                       kge_budget_s=config.kge_budget_s)
    ev = evaluate(lake.lake, latest_runs(lake), opts, log=context.log.info)
    r = ev.report
    run = r["runs"][r["run_ids"][0]]
    lpm, held = run["link_prediction"], run["heldout"]
    plots = "\n\n".join(png_markdown(ev.paths[k], ev.paths[k].stem)
                          for k in ("losses", "train_valid", "accuracy", "relation_mrr"))
    table = "| scorer | MRR | Hits@10 | MRR, tail not in window |\n|---|---:|---:|---:|\n" + "\n".join(
        f"| {n} | {b['all']['mrr']:.3f} | {b['all']['hits@10']:.3f} | {(b['not_in_window']['mrr'] or 0):.3f} |"
        for n, b in {"model": lpm, **r["link_prediction_baselines"]}.items())
    return dg.MaterializeResult(metadata={
        "run_ids": r["run_ids"], "report": dg.MetadataValue.path(str(ev.paths["report.md"])),
        "mlm_acc": held["mlm"]["accuracy"]["model"], "mnm_acc": held["mnm"]["accuracy"]["all"]["model"],
        "mrr": lpm["all"]["mrr"], "mrr_not_in_window": lpm["not_in_window"]["mrr"],
        "gates_passed": ev.passed,
        "summary": dg.MetadataValue.md("\n".join(f"    {x}" for x in summary_lines(r)) + "\n\n" + table
                                       + "\n\n" + "\n".join(f"- {v}" for v in r["verdicts"])),
        "plots": dg.MetadataValue.md(plots),
    })


@dg.asset_check(asset=evaluation_report, blocking=True,
                description="Loss reduction, held-out MLM/MNM accuracy above the profile's thresholds and above "
                            "their frequency baselines, no NaN/Inf in the metrics (GX on the gate table).")
def model_gates(lake: DataLake) -> dg.AssetCheckResult:
    gates = _report(lake)["gates"]
    failed = [f"{g['figure']} = {g['value']} needs >= {g['threshold']}" for g in gates if not g["passed"]]
    return dg.AssetCheckResult(passed=not failed, metadata={"failed": failed, "gates": gate_table(
        {"suite": g["run_id"], "rule": g["figure"], "threshold": f">= {g['threshold']:.4g}",
         "observed": "missing" if g["value"] is None else f"{g['value']:.4g}", "passed": g["passed"]}
        for g in gates)})


@dg.asset(group_name="evaluation", kinds={"parquet"}, deps=[evaluation_report])
def kg_completions(lake: DataLake) -> dg.MaterializeResult:
    """The model's top-k tails for the test split's entities, ontology-allowed, with precision@k
    against the held-out extracted triples beside the best baseline's."""
    r = _report(lake)
    path = lake.lake.run_dir(r["run_ids"][0]) / "completions.parquet"
    c = r["completion"]
    k = c["model"]["k"]
    preview = pq.read_table(path).slice(0, 20).to_pylist()
    return dg.MaterializeResult(metadata={
        "path": dg.MetadataValue.path(str(path)), "dagster/row_count": pq.ParquetFile(path).metadata.num_rows,
        f"precision@{k}": c["model"][f"precision@{k}"], f"baseline_precision@{k}": c["baseline"][f"precision@{k}"],
        "baseline": c["best_baseline"],
        "preview": dg.MetadataValue.md("| head | relation | tail | score | held-out true |\n|---|---|---|---:|---|\n"
                                       + "\n".join(f"| {p['head_id']} | {p['relation']} | {p['tail_id']} | "
                                                   f"{p['score']:.3f} | {p['held_out_true']} |" for p in preview)),
    })


@dg.asset(group_name="evaluation", kinds={"safetensors"}, deps=[evaluation_report], pool="graphmer_lake")
def promoted_model(lake: DataLake) -> dg.MaterializeResult:
    """models/current -> the evaluated checkpoint; runs only after model_gates passed."""
    r = _report(lake)
    checkpoint = r["runs"][r["run_ids"][0]]["checkpoint"]
    pointer = promote(lake.lake, Path(checkpoint))
    return dg.MaterializeResult(metadata={"pointer": dg.MetadataValue.path(str(pointer)),
                                          "checkpoint": dg.MetadataValue.path(checkpoint),
                                          "run_id": r["run_ids"][0]})
