"""Great Expectations 1.x quality gates over a (staged) KG version.

GX is imported inside `run_gates` (it takes seconds to import), with an ephemeral context and
pandas batches; `dagster-ge` supports only GX < 1.0, so the Dagster checks call this directly.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
from pydantic import BaseModel

from graphmer_core.kg import ontology, schemas, validation


class GateThresholds(BaseModel):
    """What a KG version must meet to be promoted (the same for the CLI and the Dagster checks)."""

    domain_range_valid_share: float = 0.995
    max_inheritance_cycles: int = 0
    min_entities_per_language: int = 100
    min_triples_per_language: int = 100


DEFAULT_GATES = GateThresholds()


class GateFailed(RuntimeError):
    """A KG version failed a quality gate; it stays staged and the current version is untouched."""

    def __init__(self, kg_dir: Path, outcomes: list[SuiteOutcome], what: str = "KG", consequence: str = ""):
        self.kg_dir, self.outcomes = kg_dir, outcomes
        consequence = consequence or f"kept in {kg_dir}, not promoted"
        super().__init__(f"{what} {kg_dir.name} failed its quality gates ({consequence}):\n  "
                         + "\n  ".join(failure_lines(outcomes)))


def failure_lines(outcomes: list[SuiteOutcome]) -> list[str]:
    return [f"{o.suite}: {e['type']}({e['kwargs'].get('column') or e['kwargs'].get('column_list') or ''})"
            f" unexpected={e['unexpected_count']} observed={e['observed_value']}"
            for o in outcomes for e in o.failed]


@dataclass
class SuiteOutcome:
    suite: str
    success: bool
    evaluated: int  # rows the suite ran over
    expectations: list[dict] = field(default_factory=list)  # each: type, kwargs, success, counts

    @property
    def failed(self) -> list[dict]:
        return [e for e in self.expectations if not e["success"]]


def _frames(kg_dir: Path):
    con = duckdb.connect()
    validation.register_ontology(con)  # the `allowed` (relation, head_kind, tail_kind) table
    e, t, v, f = (f"read_parquet('{(kg_dir / n).as_posix()}')" for n in
                  ("entities.parquet", "triples.parquet", "validation.parquet", "files.parquet"))
    entities = con.sql(f"SELECT * FROM {e}").df()
    triples = con.sql(f"""
        WITH ek AS (SELECT entity_id, any_value(kind) kind FROM {e} GROUP BY 1)
        SELECT t.*, EXISTS (SELECT 1 FROM allowed a WHERE a.relation = t.relation
                            AND a.head_kind = h.kind AND a.tail_kind = tl.kind) AS domain_range_ok
        FROM {t} t LEFT JOIN ek h ON t.head_id = h.entity_id LEFT JOIN ek tl ON t.tail_id = tl.entity_id
    """).df()
    # One row per language that has parsed files: a language whose files yield nothing fails here.
    per_language = con.sql(f"""
        WITH langs AS (SELECT DISTINCT language FROM {f} WHERE status IN ('ok', 'partial')),
        ents AS (SELECT language, count(*) n FROM {e} WHERE path IS NOT NULL GROUP BY 1),
        trip AS (SELECT language, count(*) n FROM {t} GROUP BY 1),
        cyc AS (SELECT y.language, count(*) n FROM {v} x JOIN {e} y ON x.head_id = y.entity_id
                WHERE x.rule = 'cycle' AND x.relation IN ('inherits_from', 'implements') GROUP BY 1)
        SELECT l.language, coalesce(ents.n, 0) AS entities, coalesce(trip.n, 0) AS triples,
               coalesce(cyc.n, 0) AS inheritance_cycles
        FROM langs l LEFT JOIN ents USING (language) LEFT JOIN trip USING (language)
            LEFT JOIN cyc USING (language)
        ORDER BY 1
    """).df()
    return entities, triples, per_language


def _suites(gx, th: GateThresholds) -> dict[str, list]:
    E = gx.expectations

    def not_null(cols: list[str]) -> list:
        return [E.ExpectColumnValuesToNotBeNull(column=c) for c in cols]

    return {
        "kg_entities": [
            E.ExpectTableColumnsToMatchOrderedList(column_list=schemas.ENTITIES.names),
            *not_null(["entity_id", "kind", "name", "qualified_name", "language", "corpus"]),
            E.ExpectColumnValuesToBeUnique(column="entity_id"),
            E.ExpectColumnValuesToBeInSet(column="kind", value_set=list(ontology.ENTITY_KINDS)),
            E.ExpectColumnValuesToBeInSet(column="language", value_set=["python", "java"]),
        ],
        "kg_triples": [
            E.ExpectTableColumnsToMatchOrderedList(column_list=schemas.TRIPLES.names + ["domain_range_ok"]),
            *not_null(["head_id", "relation", "tail_id", "language", "corpus", "resolution", "kg_version"]),
            E.ExpectColumnValuesToBeInSet(column="relation", value_set=list(ontology.RELATION_NAMES)),
            E.ExpectColumnValuesToBeInSet(column="resolution", value_set=list(ontology.RESOLUTIONS)),
            E.ExpectCompoundColumnsToBeUnique(column_list=["head_id", "relation", "tail_id"]),
            E.ExpectColumnValuesToBeInSet(column="domain_range_ok", value_set=[True],
                                          mostly=th.domain_range_valid_share),
        ],
        "kg_per_language": [
            E.ExpectTableRowCountToBeBetween(min_value=1),
            E.ExpectColumnValuesToBeBetween(column="entities", min_value=th.min_entities_per_language),
            E.ExpectColumnValuesToBeBetween(column="triples", min_value=th.min_triples_per_language),
            E.ExpectColumnValuesToBeBetween(column="inheritance_cycles", min_value=0,
                                            max_value=th.max_inheritance_cycles),
        ],
    }


def run_gates(kg_dir: str | os.PathLike, thresholds: GateThresholds | None = None) -> list[SuiteOutcome]:
    """Validate a KG version's tables with GX suites; one outcome per suite."""
    entities, triples, per_language = _frames(Path(kg_dir))
    frames = {"kg_entities": entities, "kg_triples": triples, "kg_per_language": per_language}
    return validate_frames(frames, lambda gx: _suites(gx, thresholds or GateThresholds()))


def validate_frames(frames: dict, suites) -> list[SuiteOutcome]:
    """Run GX suites over pandas frames: `suites(gx)` gives {name: [expectations]} and each runs
    on `frames[name]`. GX is imported here, only when gates actually run."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_pandas("frames")
    outcomes = []
    for name, expectations in suites(gx).items():
        suite = gx.ExpectationSuite(name=name, expectations=expectations)
        batch_def = source.add_dataframe_asset(name).add_batch_definition_whole_dataframe("all")
        result = batch_def.get_batch(batch_parameters={"dataframe": frames[name]}).validate(suite)
        rows = []
        for r in result.results:
            kwargs = {k: v for k, v in r.expectation_config.kwargs.items() if k not in ("batch_id",)}
            rows.append({
                "type": r.expectation_config.type,
                "kwargs": kwargs,
                "success": bool(r.success),
                "unexpected_count": r.result.get("unexpected_count"),
                "unexpected_percent": r.result.get("unexpected_percent"),
                "observed_value": r.result.get("observed_value"),
                "partial_unexpected_list": (r.result.get("partial_unexpected_list") or [])[:5],
            })
        outcomes.append(SuiteOutcome(name, bool(result.success), len(frames[name]), rows))
    return outcomes


def enforce_gates(kg_dir: str | os.PathLike, thresholds: GateThresholds | None = None) -> list[SuiteOutcome]:
    """Run the gates and raise GateFailed if any suite fails."""
    outcomes = run_gates(kg_dir, thresholds)
    if not all(o.success for o in outcomes):
        raise GateFailed(Path(kg_dir), outcomes)
    return outcomes
