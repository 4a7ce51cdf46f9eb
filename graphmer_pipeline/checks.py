"""Blocking quality gates: a failing gate stops promotion, so the last good KG stays current."""


import dagster as dg

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
                             description=f"Great Expectations suite `{suite}` on the staged KG")
           for suite, (name, asset) in SUITES.items()],
)
def kg_gates(context: dg.AssetCheckExecutionContext, lake: DataLake, gates: QualityGates):
    """The candidate version's verdict (recorded in its manifest, or reached now by GX and recorded),
    reported suite by suite, each failed rule as one plain line."""
    from graphmer_core.kg.quality import gate

    candidate = lake.lake.candidate_dir()
    if candidate is None:
        raise FileNotFoundError("no staged KG candidate to check")
    verdict = gate(candidate, gates.thresholds(), regate=gates.regate)
    context.log.info(f"KG {candidate.name}: gates {'passed' if verdict.passed else 'FAILED'}"
                     + (f" (verdict of {verdict.checked_at} reused)" if verdict.reused else
                        f" in {verdict.gates_s:.2f} s") + "".join(f"\n  {line}" for line in verdict.lines))
    for outcome in verdict.outcomes:
        name, asset = SUITES[outcome.suite]
        lines = [f["line"] for f in verdict.findings if f["suite"] == outcome.suite]
        yield dg.AssetCheckResult(check_name=name, asset_key=asset, passed=outcome.success, metadata={
            "kg_version": candidate.name, "reused_verdict": verdict.reused, "checked_at": verdict.checked_at,
            "baseline_kg_version": str(verdict.baseline_kg_version), "thresholds": verdict.thresholds,
            **outcome_metadata(outcome),
            "failures": dg.MetadataValue.md("\n".join(f"- {line}" for line in lines) or "none")})


def outcome_metadata(outcome) -> dict:
    """A GX suite's outcome as check metadata: counts, every failure, and a table of all expectations."""
    failed = outcome.failed
    table = "\n".join(
        f"| {'pass' if e['success'] else '**FAIL**'} | `{e['type']}` | "
        f"{e['kwargs'].get('column') or e['kwargs'].get('column_list') or ''} | "
        f"{'' if e['unexpected_count'] is None else e['unexpected_count']} |"
        for e in outcome.expectations)
    return {
        "rows_evaluated": outcome.evaluated,
        "expectations": len(outcome.expectations),
        "failed_expectations": len(failed),
        "gx_failures": [{"type": e["type"], "kwargs": str(e["kwargs"]), "unexpected_count": e["unexpected_count"],
                      "observed_value": str(e["observed_value"]),
                      "examples": [str(x) for x in e["partial_unexpected_list"]]} for e in failed],
        "results": dg.MetadataValue.md("| result | expectation | column | unexpected |\n|---|---|---|---:|\n" + table),
        "gx_result": dg.MetadataValue.json({"suite": outcome.suite, "success": outcome.success,
                                            "evaluated": outcome.evaluated, "expectations": outcome.expectations}),
    }


@dg.asset_check(asset="training_dataset", blocking=True,
                description="The leak check rerun on the stored shards, and a Great Expectations suite on split "
                            "and sequence statistics; the verdict is written into the dataset (gates.json).")
def dataset_gates(lake: DataLake, profile: TrainingProfile) -> dg.AssetCheckResult:
    from graphmer_core.data.build import open_stage
    from graphmer_core.data.gates import record_verdict, run_dataset_gates

    stage = open_stage(lake.lake, profile.load().dataset)
    outcomes, leak = run_dataset_gates(stage.final)
    verdict = record_verdict(stage.final, outcomes, leak)
    metadata = {"dataset_version": stage.version, "leaked_windows": len(leak.leaks),
                "leaks": [str(x) for x in leak.leaks[:20]], "suites": verdict["suites"]}
    for o in outcomes:
        metadata.update({f"{o.suite}.{k}": v for k, v in outcome_metadata(o).items()
                         if k in ("failed_expectations", "results")})
    return dg.AssetCheckResult(passed=verdict["passed"], metadata=metadata)


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
    return dg.AssetCheckResult(passed=counts == expected,
                               metadata={"catalogue": str(counts), "expected": str(expected)})
