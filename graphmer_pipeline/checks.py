"""Blocking quality gates: a failing gate stops promotion, so the last good KG stays current."""


import dagster as dg

from graphmer_pipeline.metadata import gate_table
from graphmer_pipeline.resources import DataLake, QualityGates, TrainingProfile

# suite name -> (check name, asset it gates)
SUITES = {
    "kg_entities": ("entities_expectations", "kg_entities"),
    "kg_triples": ("triples_expectations", "kg_triples"),
    "kg_per_language": ("ontology_and_coverage", "kg_triples"),
    "kg_relation_changes": ("relations_vs_previous", "kg_triples"),
}


@dg.multi_asset_check(
    specs=[dg.AssetCheckSpec(name, asset=asset, blocking=True,
                             description=f"Great Expectations suite `{suite}` on the newest KG candidate")
           for suite, (name, asset) in SUITES.items()],
    can_subset=True,
)
def kg_gates(context: dg.AssetCheckExecutionContext, lake: DataLake, gates: QualityGates):
    """The verdict on the newest candidate (staged, or promoted once it passed), else on the promoted
    version: the gates can be re-run alone from the UI (say, under new thresholds). The verdict is
    recorded in its manifest and reported suite by suite as a table of rule, threshold, observed, result."""
    from graphmer_core.kg.quality import GateThresholds, gate, gate_rows

    candidate = lake.lake.candidate_dir() or lake.lake.current_dir()
    if candidate is None:
        raise FileNotFoundError("no KG to check: materialize the kg group first")
    verdict = gate(candidate, gates.thresholds(), regate=gates.regate)
    context.log.info(f"KG {candidate.name}: gates {'passed' if verdict.passed else 'FAILED'}"
                     + (f" (verdict of {verdict.checked_at} reused)" if verdict.reused else
                        f" in {verdict.gates_s:.2f} s") + "".join(f"\n  {line}" for line in verdict.lines))
    selected = {key.name for key in context.selected_asset_check_keys}
    for outcome in verdict.outcomes:
        name, asset = SUITES[outcome.suite]
        if name not in selected:
            continue
        lines = [f["line"] for f in verdict.findings if f["suite"] == outcome.suite]
        yield dg.AssetCheckResult(check_name=name, asset_key=asset, passed=outcome.success, metadata={
            "kg_version": candidate.name, "state": "staged" if candidate.parent == lake.lake.staging else "promoted",
            "gates": gate_table(gate_rows([outcome], GateThresholds(**verdict.thresholds))),
            "failures": dg.MetadataValue.text("\n".join(lines) or "none"),
            "reused_verdict": verdict.reused, "checked_at": verdict.checked_at,
            "baseline_kg_version": str(verdict.baseline_kg_version),
            "rows_evaluated": outcome.evaluated,
            "gx_result": dg.MetadataValue.json({"suite": outcome.suite, "success": outcome.success,
                                                "evaluated": outcome.evaluated,
                                                "expectations": outcome.expectations})})


@dg.asset_check(asset="training_dataset", blocking=True,
                description="The leak check rerun on the stored shards, and a Great Expectations suite on split "
                            "and sequence statistics; the verdict is written into the dataset (gates.json).")
def dataset_gates(lake: DataLake, profile: TrainingProfile) -> dg.AssetCheckResult:
    from graphmer_core.data.build import open_stage
    from graphmer_core.data.gates import record_verdict, run_dataset_gates
    from graphmer_core.kg.quality import gate_rows

    stage = open_stage(lake.lake, profile.load().dataset)
    outcomes, leak = run_dataset_gates(stage.final)
    verdict = record_verdict(stage.final, outcomes, leak)
    leaks = [str(x) for x in leak.leaks[:20]]
    return dg.AssetCheckResult(passed=verdict["passed"], metadata={
        "dataset_version": stage.version, "gates": gate_table(gate_rows(outcomes)),
        "failures": dg.MetadataValue.text("\n".join(verdict["failures"]) or "none"),
        "leaked_windows": len(leak.leaks), "leaks": dg.MetadataValue.text("\n".join(leaks) or "none")})


@dg.asset_check(asset="kg_catalog", blocking=True,
                description="The catalogue's views answer, point at the current version and match its manifest.")
def catalog_matches_manifest(lake: DataLake) -> dg.AssetCheckResult:
    from graphmer_core.kg import store

    counts = store.query(lake.lake, """
        SELECT (SELECT count(*) FROM entities) AS entities, (SELECT count(*) FROM triples) AS triples,
               (SELECT kg_version FROM kg_info) AS kg_version""").to_pylist()[0]
    manifest = store.read_manifest(lake.lake.current_dir())
    expected = {"entities": manifest["entities"], "triples": manifest["triples"],
                "kg_version": lake.lake.current_version()}
    rows = [{"suite": "catalogue", "rule": f"the catalogue's {k} match the current version's manifest",
             "threshold": f"{v:,}" if isinstance(v, int) else v,
             "observed": f"{counts[k]:,}" if isinstance(counts[k], int) else counts[k], "passed": counts[k] == v}
            for k, v in expected.items()]
    return dg.AssetCheckResult(passed=counts == expected, metadata={"gates": gate_table(rows)})
