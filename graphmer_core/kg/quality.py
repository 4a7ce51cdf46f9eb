"""Great Expectations 1.x quality gates over a (staged) KG version.

The gates are rules on aggregates: DuckDB reduces the stored Parquet tables to a few small frames
(one row per language and kind, per language and relation, per language, per corpus and relation
against the previous version) and GX validates those frames. So GX never sees a whole table, and
the rules hold for a one-file project as for the whole JDK: they bound rates (entities per parsed
file, triples per entity), not absolute counts.

A version's verdict (thresholds, suites, the raw GX results, one plain line per failed rule) is
recorded in its manifest; rebuilding the same content with the same thresholds reuses it without
importing GX. GX takes ~3.4 s to import: `GxWorker` imports it in a child process while the build
runs, with what the gates never use deferred (~2.3 s); GxMemo keeps each expectation's outcome, so
a rebuild that changes what no expectation reads needs no GX at all. `dagster-ge` supports only GX < 1.0, so
the Dagster checks call this module directly.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path

from graphmer_core.artifacts import write_json_atomic
from graphmer_core.kg import ontology

MANIFEST = "manifest.json"
LANGUAGES = ("python", "java")


@dataclass(frozen=True)
class GateThresholds:
    """What a KG version must meet to be promoted (the same for the CLI and the Dagster checks).
    Each field is a `graphmer build-kg` flag (`--min-entities-per-file`) and a key of the Dagster
    `gates` resource (`gates.min_entities_per_file`)."""

    min_entities_per_file: float = 1.0      # every parsed Python file is at least a Module
    max_entities_per_file: float = 2000.0   # the JDK's largest file has 1,438; its mean is 21
    min_triples_per_entity: float = 0.2     # a module with one function has 0.5; stdlib 2.4, JDK 4.2
    max_triples_per_entity: float = 50.0
    domain_range_valid_share: float = 0.995
    max_inheritance_cycles: int = 0
    max_relation_drop: float = 0.2          # share of a relation's triples a corpus may lose beyond its files
    relation_drop_min_triples: int = 20     # relations smaller than this in the previous version are not judged

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    def replace(self, **changes) -> GateThresholds:
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})


DEFAULT_GATES = GateThresholds()


def flag(key: str) -> str:
    return "--" + key.replace("_", "-")


@dataclass
class SuiteOutcome:
    suite: str
    success: bool
    evaluated: int  # rows the suite ran over
    expectations: list[dict] = field(default_factory=list)  # each: type, kwargs, success, counts, rule

    @property
    def failed(self) -> list[dict]:
        return [e for e in self.expectations if not e["success"]]


class GateFailed(RuntimeError):
    """A version failed a quality gate; it stays staged and the current version is untouched."""

    def __init__(self, kg_dir: Path, outcomes: list[SuiteOutcome], what: str = "KG", consequence: str = "",
                 lines: list[str] | None = None):
        self.kg_dir, self.outcomes = Path(kg_dir), outcomes
        self.lines = lines if lines is not None else failure_lines(outcomes)
        consequence = consequence or f"kept in {kg_dir}, not promoted"
        super().__init__(f"{what} {self.kg_dir.name} failed its quality gates ({consequence}):\n  "
                         + "\n  ".join(self.lines))


def failure_lines(outcomes: list[SuiteOutcome]) -> list[str]:
    """One line per failed expectation, for suites without rule wording (the dataset's, the model's)."""
    return [f"{o.suite}: {e['type']}({e['kwargs'].get('column') or e['kwargs'].get('column_list') or ''})"
            f" unexpected={e['unexpected_count']} observed={e['observed_value']}"
            for o in outcomes for e in o.failed]


# --- running GX --------------------------------------------------------------------------------


def _import_gx():
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx

    return gx


# What GX imports at start-up for expectations the gates never run (distribution tests, KL
# divergence and its Altair charts): ~1.1 s of its ~3.4 s import. The worker defers them.
GX_UNUSED = ("scipy", "altair")


class _DeferredFinder(importlib.abc.MetaPathFinder):
    """Finds the modules under `packages` as usual but loads them lazily (importlib's LazyLoader):
    a module is executed when an attribute of it is first read, so an import nobody uses costs
    nothing and one somebody uses works as before."""

    def __init__(self, packages: tuple[str, ...]):
        self.packages = packages

    def find_spec(self, name, path, target=None):
        if name.partition(".")[0] not in self.packages:
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            sys.meta_path.insert(0, self)
        # Python modules only: an extension module is made whole by its loader's create_module,
        # which LazyLoader cannot defer, so it loads as usual (when a deferred module asks for it).
        if spec is not None and isinstance(spec.loader, importlib.machinery.SourceFileLoader):
            spec.loader = importlib.util.LazyLoader(spec.loader)
        return spec


@contextlib.contextmanager
def deferred_imports(packages: tuple[str, ...] = GX_UNUSED):
    """Modules of `packages` first imported inside the block are loaded lazily. For a process of
    one thread only (the GX worker): LazyLoader's first touch is not thread-safe before 3.12."""
    finder = _DeferredFinder(tuple(p for p in packages if p not in sys.modules))
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)


def validate_frames(frames: dict, suites: Callable, result_format: str = "SUMMARY") -> list[SuiteOutcome]:
    """Run GX suites over small frames: `suites(gx)` gives {name: [expectations]} and each runs on
    `frames[name]`, a pandas DataFrame or (columns, rows). GX is imported here, only when gates run."""
    gx = _import_gx()
    import pandas as pd
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_pandas("frames")
    outcomes = []
    for name, expectations in suites(gx).items():
        frame = frames[name]
        if not isinstance(frame, pd.DataFrame):
            columns, rows = frame
            frame = pd.DataFrame([list(r) for r in rows], columns=list(columns))
        suite = gx.ExpectationSuite(name=name, expectations=expectations)
        batch_def = source.add_dataframe_asset(name).add_batch_definition_whole_dataframe("all")
        result = batch_def.get_batch(batch_parameters={"dataframe": frame}).validate(suite, result_format=result_format)
        rows = []
        for r in result.results:
            config = r.expectation_config
            rows.append({
                "type": config.type,
                "rule": (config.meta or {}).get("rule"),
                "kwargs": {k: v for k, v in config.kwargs.items() if k != "batch_id"},
                "success": bool(r.success),
                "unexpected_count": r.result.get("unexpected_count"),
                "unexpected_percent": r.result.get("unexpected_percent"),
                "observed_value": _plain(r.result.get("observed_value")),
                "partial_unexpected_list": _plain((r.result.get("partial_unexpected_list") or [])[:5]),
                "unexpected_index_list": _plain((r.result.get("unexpected_index_list") or [])[:50]),
                "exception": (r.exception_info or {}).get("exception_message") if not r.success else None,
                "observed": observed(frame, config.kwargs, r.result),
            })
        rows.sort(key=lambda e: e["rule"] or e["type"])
        outcomes.append(SuiteOutcome(name, bool(result.success), len(frame), rows))
    return outcomes


def _plain(value):
    """numpy scalars and tuples as plain JSON values."""
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    return value


def observed(frame, kwargs: dict, result: dict) -> str:
    """What an expectation judged, in a few words: the row count, a column's value per row (labelled
    by the row's leading text columns) or its range over many rows, or how many rows fell outside a set."""
    column = kwargs.get("column") or kwargs.get("column_A")
    if column is None:
        return f"{_fmt(_plain(result.get('observed_value')))} rows"
    if len(frame) == 0:
        return "no rows"
    if "value_set" in kwargs:
        outside = result.get("unexpected_count") or 0
        shown = ", ".join(_fmt(v) for v in _plain((result.get("partial_unexpected_list") or [])[:3]))
        return f"{outside} of {len(frame)} rows outside the set" + (f": {shown}" if shown else "")
    values = [_plain(v) for v in frame[column].tolist()]
    if len(values) > 4:
        numbers = [v for v in values if isinstance(v, int | float)]
        if len(numbers) == len(values):
            return f"{_fmt(min(numbers))} to {_fmt(max(numbers))} over {len(values)} rows"
        return f"{len(values)} rows"
    import pandas as pd

    labels = []
    for c in frame.columns:
        if c == column or pd.api.types.is_numeric_dtype(frame[c]):
            break
        labels.append(c)
    rows = frame[labels].astype(str).agg("/".join, axis=1).tolist() if labels else [""] * len(values)
    return ", ".join(f"{label} {_fmt(v)}".strip() for label, v in zip(rows, values, strict=True))


def limit_of(kwargs: dict) -> str:
    """An expectation's threshold in words, from its GX arguments."""
    lo, hi = kwargs.get("min_value"), kwargs.get("max_value")
    if "value_set" in kwargs:
        values = kwargs["value_set"]
        return f"one of {', '.join(map(str, values))}" if len(values) <= 3 and all(
            len(str(v)) <= 20 for v in values) else f"one of {len(values)} allowed values"
    if "column_A" in kwargs:
        return f"{kwargs['column_A']} {'>=' if kwargs.get('or_equal') else '>'} {kwargs['column_B']}"
    if lo is not None and hi is not None:
        return f"between {_fmt(lo)} and {_fmt(hi)}"
    if lo is not None:
        return f"at least {_fmt(lo)}"
    if hi is not None:
        return f"at most {_fmt(hi)}"
    return "not null" if "column" in kwargs else "any"


def gate_rows(outcomes: list[SuiteOutcome], thresholds: GateThresholds | None = None) -> list[dict]:
    """One row per expectation, for a report: the rule in words, its threshold, the value observed and
    whether it passed. KG rules speak their own words; other suites say `suite: column`."""
    rows = []
    for o in outcomes:
        for e in o.expectations:
            rule = RULES.get(e.get("rule") or "")
            kwargs = e["kwargs"]
            column = kwargs.get("column") or kwargs.get("column_A")
            observed_ = e.get("observed") or (  # verdicts recorded before `observed` existed
                f"{e['unexpected_count']} rows outside" if e["unexpected_count"] is not None
                else _fmt(e["observed_value"]))
            rows.append({"suite": o.suite, "rule": rule.words if rule else f"{o.suite}: {column or 'rows'}",
                         "threshold": rule.limit(thresholds) if rule and thresholds else limit_of(kwargs),
                         "observed": observed_, "passed": e["success"]})
    return rows


class GxWorker:
    """Great Expectations, imported and warmed in a child process started now, so the ~2.3 s import
    overlaps whatever the caller does next (the build); `validate` then costs milliseconds. A child
    process rather than a thread: the import is pure Python and would hold the GIL the resolver
    needs, and a running thread would keep the parse pool from forking."""

    def __init__(self):
        import multiprocessing as mp
        import sys
        import threading

        # fork costs nothing and inherits what is imported; it is safe only while this process
        # runs one thread and holds no native thread pools (DuckDB's, Arrow's): else spawn (0.1 s).
        forkable = (threading.active_count() == 1 and "fork" in mp.get_all_start_methods()
                    and not {"duckdb", "pyarrow"} & set(sys.modules))
        ctx = mp.get_context("fork" if forkable else "spawn")
        for stream in (sys.stdout, sys.stderr):  # a forked child flushes its copy of their buffers
            stream.flush()
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve_gx, args=(child,), daemon=True, name="graphmer-gx")
        self._proc.start()
        child.close()
        self._asked = False

    def validate(self, frames: dict, thresholds: GateThresholds, rules: Collection[str] | None = None
                 ) -> list[SuiteOutcome]:
        """The KG suites (the expectations of `rules` only, if given) over `frames`."""
        return self.validate_suites(frames, "graphmer_core.kg.quality:_kg_suites_of",
                                    {**thresholds.as_dict(), "rules": None if rules is None else sorted(rules)},
                                    "COMPLETE")

    def validate_suites(self, frames: dict, suites: str, kwargs: dict, result_format: str = "SUMMARY"
                        ) -> list[SuiteOutcome]:
        """`validate_frames` in the worker, with the suites `module:function(**kwargs)` makes (a
        name, since the suites themselves are closures a pipe cannot carry)."""
        self._asked = True
        self._conn.send((frames, suites, kwargs, result_format))
        status, payload = self._conn.recv()
        if status != "ok":
            raise RuntimeError(f"Great Expectations failed in its worker process:\n{payload}")
        return payload

    def close(self) -> None:
        """A worker never asked is stopped at once (it may still be importing GX: the gates found
        their outcomes in the memo); one that validated is told to leave and waited for."""
        if not self._asked:
            self._proc.terminate()
        try:
            self._conn.send(None)
        except OSError:
            pass
        self._conn.close()
        self._proc.join(timeout=5)
        if self._proc.is_alive():
            self._proc.terminate()

    def __enter__(self) -> GxWorker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class LazyGx:
    """A GxWorker started when the caller first asks for one (`start`, idempotent: a build starts
    it where a core frees up), closed when the block ends if it was ever started."""

    def __init__(self):
        self.worker: GxWorker | None = None

    def start(self) -> None:
        if self.worker is None:
            self.worker = GxWorker()

    def __enter__(self) -> LazyGx:
        return self

    def __exit__(self, *exc) -> None:
        if self.worker is not None:
            self.worker.close()


def _serve_gx(conn) -> None:
    """The worker's loop: warm GX up (import with what the gates never use deferred, context, one
    tiny validation), then validate frames. At the build's priority: at nice 19 it starved while
    the build's DuckDB and Parquet threads held both cores, and a java.base body edit whose gates
    needed GX waited 1.3 s longer for it (0.2-0.5 s sooner when GxMemo had the outcomes)."""
    import signal

    signal.signal(signal.SIGTERM, lambda *_: _leave())  # close() stopping an unused worker mid-import
    try:
        with deferred_imports():
            _import_gx()
        validate_frames({"warm": (["x"], [(1,)])},
                        lambda gx: {"warm": [gx.expectations.ExpectColumnValuesToBeBetween(column="x", min_value=0)]})
    except Exception:  # noqa: BLE001 - a real request reports the error
        pass
    while True:
        try:
            request = conn.recv()
        except EOFError:
            request = None
        if request is None:
            _leave()
        frames, suites, kwargs, result_format = request
        try:
            module, name = suites.split(":")
            make = getattr(importlib.import_module(module), name)
            conn.send(("ok", validate_frames(frames, make(**kwargs), result_format)))
        except Exception:  # noqa: BLE001 - sent back and raised in the parent
            import traceback

            conn.send(("error", traceback.format_exc()))


def _leave() -> None:
    """Exit without an interpreter teardown: unwinding GX's modules (and its exit hooks) took ~0.8 s
    that the parent's close() waited for, and the worker has nothing left to write."""
    from multiprocessing import util

    util._run_finalizers()  # what the imports registered: semaphores unlinked, no tracker warning
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _kg_suites_of(rules: list[str] | None = None, **thresholds) -> Callable:
    return kg_suites(GateThresholds(**thresholds), rules)


# --- the rules ---------------------------------------------------------------------------------

# suite -> the frame's key columns (what a row is about, in a failure line)
SUITE_KEYS = {
    "kg_entities": ("language", "kind"),
    "kg_triples": ("language", "relation", "resolution"),
    "kg_per_language": ("language",),
    "kg_relation_changes": ("corpus", "relation"),
}


@dataclass(frozen=True)
class Rule:
    """One expectation and how to say it: `words` names the rule, `value` is the frame column with
    the figure found, `limit` says the threshold, `key` is the GateThresholds field that sets it."""

    id: str
    suite: str
    words: str
    value: str | None
    limit: Callable[[GateThresholds], str]
    key: str | None = None
    fix: str = ""  # what to do when no threshold applies


RULES = {r.id: r for r in [
    Rule("entity_columns", "kg_entities", "entities.parquet has the schema's columns, in order", "columns",
         lambda th: "the columns of graphmer_core.kg.schemas.ENTITIES", fix="rebuild with this code version"),
    Rule("entity_required", "kg_entities", "entities have every required column set", "null_required",
         lambda th: "0 with a null", fix="a resolver emitted incomplete entities"),
    Rule("entity_unique", "kg_entities", "entity_id is unique", "duplicate_ids", lambda th: "0 duplicated rows",
         fix="a resolver emitted one entity twice"),
    Rule("entity_kind_known", "kg_entities", "entity kinds are in the ontology", "kind",
         lambda th: "one of graphmer_core.kg.ontology.ENTITY_KINDS", fix="add the kind to the ontology"),
    Rule("entity_language_known", "kg_entities", "entity languages are known", "language",
         lambda th: " or ".join(LANGUAGES)),
    Rule("triple_columns", "kg_triples", "triples.parquet has the schema's columns, in order", "columns",
         lambda th: "the columns of graphmer_core.kg.schemas.TRIPLES", fix="rebuild with this code version"),
    Rule("triple_required", "kg_triples", "triples have every required column set", "null_required",
         lambda th: "0 with a null", fix="a resolver emitted incomplete triples"),
    Rule("triple_unique", "kg_triples", "(head_id, relation, tail_id) is unique", "duplicate_keys",
         lambda th: "0 duplicated rows", fix="a resolver emitted one triple twice"),
    Rule("relation_known", "kg_triples", "relations are in the ontology", "relation",
         lambda th: "one of graphmer_core.kg.ontology.RELATIONS", fix="add the relation to the ontology"),
    Rule("resolution_known", "kg_triples", "resolutions are known", "resolution",
         lambda th: "one of graphmer_core.kg.ontology.RESOLUTIONS", fix="add the resolution to the ontology"),
    Rule("triple_language_known", "kg_triples", "triple languages are known", "language",
         lambda th: " or ".join(LANGUAGES)),
    Rule("languages_present", "kg_per_language", "some language has parsed files", None,
         lambda th: "at least 1 language", fix="point the corpora at .py or .java files"),
    Rule("language_yields_entities", "kg_per_language", "a language's parsed files yield entities", "entities",
         lambda th: "at least 1 entity per language with parsed files",
         fix="the parser found no definitions in these files"),
    Rule("entities_per_file", "kg_per_language", "entities per parsed file", "entities_per_file",
         lambda th: f"between {th.min_entities_per_file:g} and {th.max_entities_per_file:g}",
         key="min_entities_per_file"),
    Rule("triples_per_entity", "kg_per_language", "triples per entity", "triples_per_entity",
         lambda th: f"between {th.min_triples_per_entity:g} and {th.max_triples_per_entity:g}",
         key="min_triples_per_entity"),
    Rule("domain_range", "kg_per_language", "share of triples inside their relation's domain and range",
         "domain_range_valid_share", lambda th: f"at least {th.domain_range_valid_share:g}",
         key="domain_range_valid_share"),
    Rule("inheritance_cycles", "kg_per_language", "inheritance cycles (inherits_from, implements)",
         "inheritance_cycles", lambda th: f"at most {th.max_inheritance_cycles}", key="max_inheritance_cycles"),
    Rule("relation_kept", "kg_relation_changes",
         "a relation keeps its share of triples against the previous version, as its corpus keeps its files",
         "kept_share", lambda th: f"at least (share of files kept) x {1 - th.max_relation_drop:g}",
         key="max_relation_drop"),
]}


def expectations(th: GateThresholds) -> dict[str, list[tuple[str, str, dict]]]:
    """{suite: [(rule id, GX expectation class, its arguments)]}: the suites as data, so that
    GxMemo keys each outcome by exactly what GX is given without importing GX."""
    from graphmer_core.kg import schemas

    return {
        "kg_entities": [
            ("entity_columns", "ExpectColumnValuesToBeInSet",
             {"column": "columns", "value_set": [",".join(schemas.ENTITIES.names)]}),
            ("entity_required", "ExpectColumnValuesToBeBetween", {"column": "null_required", "max_value": 0}),
            ("entity_unique", "ExpectColumnValuesToBeBetween", {"column": "duplicate_ids", "max_value": 0}),
            ("entity_kind_known", "ExpectColumnValuesToBeInSet",
             {"column": "kind", "value_set": list(ontology.ENTITY_KINDS)}),
            ("entity_language_known", "ExpectColumnValuesToBeInSet",
             {"column": "language", "value_set": list(LANGUAGES)}),
        ],
        "kg_triples": [
            ("triple_columns", "ExpectColumnValuesToBeInSet",
             {"column": "columns", "value_set": [",".join(schemas.TRIPLES.names)]}),
            ("triple_required", "ExpectColumnValuesToBeBetween", {"column": "null_required", "max_value": 0}),
            ("triple_unique", "ExpectColumnValuesToBeBetween", {"column": "duplicate_keys", "max_value": 0}),
            ("relation_known", "ExpectColumnValuesToBeInSet",
             {"column": "relation", "value_set": list(ontology.RELATION_NAMES)}),
            ("resolution_known", "ExpectColumnValuesToBeInSet",
             {"column": "resolution", "value_set": list(ontology.RESOLUTIONS)}),
            ("triple_language_known", "ExpectColumnValuesToBeInSet",
             {"column": "language", "value_set": list(LANGUAGES)}),
        ],
        "kg_per_language": [
            ("languages_present", "ExpectTableRowCountToBeBetween", {"min_value": 1}),
            ("language_yields_entities", "ExpectColumnValuesToBeBetween", {"column": "entities", "min_value": 1}),
            ("entities_per_file", "ExpectColumnValuesToBeBetween",
             {"column": "entities_per_file", "min_value": th.min_entities_per_file,
              "max_value": th.max_entities_per_file}),
            ("triples_per_entity", "ExpectColumnValuesToBeBetween",
             {"column": "triples_per_entity", "min_value": th.min_triples_per_entity,
              "max_value": th.max_triples_per_entity}),
            ("domain_range", "ExpectColumnValuesToBeBetween",
             {"column": "domain_range_valid_share", "min_value": th.domain_range_valid_share}),
            ("inheritance_cycles", "ExpectColumnValuesToBeBetween",
             {"column": "inheritance_cycles", "max_value": th.max_inheritance_cycles}),
        ],
        "kg_relation_changes": [
            ("relation_kept", "ExpectColumnPairValuesAToBeGreaterThanB",
             {"column_A": "kept_share", "column_B": "min_kept_share", "or_equal": True}),
        ],
    }


def kg_suites(th: GateThresholds, rules: Collection[str] | None = None) -> Callable:
    """{suite: [expectations]} for GX (those of `rules` only, if given; a suite left without any is
    left out); each expectation carries its rule id in `meta`."""

    def make(gx) -> dict[str, list]:
        suites = {}
        for suite, specs in expectations(th).items():
            chosen = [getattr(gx.expectations, cls)(**kwargs, meta={"rule": rule})
                      for rule, cls, kwargs in specs if rules is None or rule in rules]
            if chosen:
                suites[suite] = chosen
        return suites

    return make


# --- the aggregates, in DuckDB -----------------------------------------------------------------


class Tables:
    """A DuckDB cursor with temporary views over a KG version (e, t, f, v) and, when there is one, the
    previous version of the same corpora (prev_t, prev_f)."""

    def __init__(self, kg_dir: Path, baseline_dir: Path | None = None):
        from graphmer_core.kg.arrow import cursor, sql_string
        from graphmer_core.kg.manifest import verify

        verify(kg_dir)  # the gates judge the files as their manifest recorded them, or not at all
        if baseline_dir is not None:
            verify(baseline_dir, ("triples.parquet", "files.parquet"))
        self.con = cursor()  # of the process's DuckDB, whose connection the build already made
        self.kg_dir, self.baseline_dir = Path(kg_dir), baseline_dir
        views = {"e": kg_dir / "entities.parquet", "t": kg_dir / "triples.parquet",
                 "f": kg_dir / "files.parquet", "v": kg_dir / "validation.parquet"}
        if baseline_dir is not None:
            views |= {"prev_t": baseline_dir / "triples.parquet", "prev_f": baseline_dir / "files.parquet"}
        for name, path in views.items():
            self.con.execute(f"CREATE TEMP VIEW {name} AS SELECT * FROM read_parquet({sql_string(path.as_posix())})")

    def rows(self, sql: str, params=None) -> tuple[list[str], list[tuple]]:
        rel = self.con.execute(sql, params or [])
        return [d[0] for d in rel.description], rel.fetchall()

    def columns(self, view: str) -> str:
        return ",".join(self.rows(f"SELECT * FROM {view} LIMIT 0")[0])

    def close(self) -> None:
        self.con.close()


PARSED = "status IN ('ok', 'partial')"
ENTITY_REQUIRED = ("entity_id", "kind", "name", "qualified_name", "language", "corpus")
TRIPLE_REQUIRED = ("head_id", "relation", "tail_id", "language", "corpus", "resolution", "kg_version")


def frames(tables: Tables, th: GateThresholds) -> dict[str, tuple[list[str], list[tuple]]]:
    """The four frames GX validates, each a handful of rows however large the KG."""
    null_e = " OR ".join(f"{c} IS NULL" for c in ENTITY_REQUIRED)
    null_t = " OR ".join(f"{c} IS NULL" for c in TRIPLE_REQUIRED)
    out = {
        "kg_entities": tables.rows(f"""
            WITH dup AS (SELECT entity_id FROM e GROUP BY 1 HAVING count(*) > 1)
            SELECT language, kind, count(*) AS entities,
                   count(*) FILTER (WHERE {null_e}) AS null_required,
                   count(*) FILTER (WHERE entity_id IN (SELECT entity_id FROM dup)) AS duplicate_ids,
                   ? AS columns
            FROM e GROUP BY ALL ORDER BY ALL""", [tables.columns("e")]),
        "kg_triples": tables.rows(f"""
            WITH hashed AS (SELECT hash(head_id, relation, tail_id) AS h FROM t GROUP BY 1 HAVING count(*) > 1),
            -- grouping one hash is twice as fast as grouping three strings; only a shared hash is checked exactly
            dup AS (SELECT head_id, relation, tail_id, count(*) AS n FROM t
                    WHERE hash(head_id, relation, tail_id) IN (SELECT h FROM hashed) GROUP BY ALL HAVING count(*) > 1)
            SELECT language, relation, resolution, count(*) AS triples,
                   count(*) FILTER (WHERE {null_t}) AS null_required,
                   count(dup.n) AS duplicate_keys,
                   ? AS columns
            FROM t LEFT JOIN dup USING (head_id, relation, tail_id) GROUP BY ALL ORDER BY ALL""",
                                  [tables.columns("t")]),
        # One row per language with parsed files: a language whose files yield nothing fails here.
        "kg_per_language": tables.rows(f"""
            WITH langs AS (SELECT language, count(*) AS parsed_files FROM f WHERE {PARSED} AND language IS NOT NULL
                           GROUP BY 1),
            ents AS (SELECT language, count(*) FILTER (WHERE path IS NOT NULL) AS internal, count(*) AS n
                     FROM e GROUP BY 1),
            trip AS (SELECT language, count(*) AS n FROM t GROUP BY 1),
            bad AS (SELECT t.language, count(*) AS n FROM v JOIN t USING (relation, head_id, tail_id)
                    WHERE v.rule = 'domain_range' GROUP BY 1),
            cyc AS (SELECT y.language, count(*) AS n FROM v x JOIN e y ON x.head_id = y.entity_id
                    WHERE x.rule = 'cycle' AND x.relation IN ('inherits_from', 'implements') GROUP BY 1)
            SELECT l.language, l.parsed_files, coalesce(ents.internal, 0) AS entities,
                   coalesce(trip.n, 0) AS triples,
                   CASE WHEN ents.internal > 0 THEN round(ents.internal / l.parsed_files, 4) END AS entities_per_file,
                   CASE WHEN ents.n > 0 THEN round(coalesce(trip.n, 0) / ents.n, 4) END AS triples_per_entity,
                   round(1 - coalesce(bad.n, 0) / greatest(coalesce(trip.n, 0), 1), 6) AS domain_range_valid_share,
                   coalesce(cyc.n, 0) AS inheritance_cycles
            FROM langs l LEFT JOIN ents USING (language) LEFT JOIN trip USING (language)
                LEFT JOIN bad USING (language) LEFT JOIN cyc USING (language)
            ORDER BY 1"""),
    }
    out["kg_relation_changes"] = relation_changes(tables, th) if tables.baseline_dir is not None else (
        RELATION_CHANGES, [])
    return out


RELATION_CHANGES = ["corpus", "relation", "previous_triples", "triples", "previous_files", "files", "kept_share",
                    "files_share", "min_kept_share"]


def relation_changes(tables: Tables, th: GateThresholds, previous: tuple[str, str] = ("prev_t", "prev_f")
                     ) -> tuple[list[str], list[tuple]]:
    """Per corpus present in both versions: a relation may shrink as far as its corpus's files did,
    and by max_relation_drop more; relations too small before to judge are left out. `previous`
    names the views of the version compared with (its triples, its files): ("t", "f") compares the
    version with itself, the frame of a next version that keeps every share."""
    prev_t, prev_f = previous
    return RELATION_CHANGES, tables.rows(f"""
        WITH nf AS (SELECT corpus, count(*) AS n FROM f WHERE {PARSED} GROUP BY 1),
        pf AS (SELECT corpus, count(*) AS n FROM {prev_f} WHERE {PARSED} GROUP BY 1),
        nt AS (SELECT corpus, relation, count(*) AS n FROM t GROUP BY ALL),
        pt AS (SELECT corpus, relation, count(*) AS n FROM {prev_t} GROUP BY ALL HAVING count(*) >= ?)
        SELECT pt.corpus, pt.relation, pt.n AS previous_triples, coalesce(nt.n, 0) AS triples,
               pf.n AS previous_files, coalesce(nf.n, 0) AS files,
               round(coalesce(nt.n, 0) / pt.n, 4) AS kept_share,
               round(coalesce(nf.n, 0) / pf.n, 4) AS files_share,
               round(coalesce(nf.n, 0) / pf.n * (1 - ?), 4) AS min_kept_share
        FROM pt JOIN pf USING (corpus) JOIN (SELECT DISTINCT corpus FROM f) USING (corpus)
            LEFT JOIN nt USING (corpus, relation) LEFT JOIN nf USING (corpus)
        ORDER BY 1, 2""", [th.relation_drop_min_triples, th.max_relation_drop])[1]


# Examples behind a failed rule, for one failing row (its key values, in SUITE_KEYS order).
EXAMPLES = {
    "entity_required": f"""SELECT coalesce(entity_id, qualified_name, path) FROM e
        WHERE language IS NOT DISTINCT FROM ? AND kind IS NOT DISTINCT FROM ?
          AND ({" OR ".join(f"{c} IS NULL" for c in ENTITY_REQUIRED)}) LIMIT 3""",
    "entity_unique": """SELECT entity_id FROM e WHERE language IS NOT DISTINCT FROM ? AND kind IS NOT DISTINCT FROM ?
        GROUP BY 1 HAVING count(*) > 1 ORDER BY 1 LIMIT 3""",
    "entity_kind_known": """SELECT entity_id FROM e WHERE language IS NOT DISTINCT FROM ?
        AND kind IS NOT DISTINCT FROM ? ORDER BY 1 LIMIT 3""",
    "entity_language_known": """SELECT entity_id FROM e WHERE language IS NOT DISTINCT FROM ?
        AND kind IS NOT DISTINCT FROM ? ORDER BY 1 LIMIT 3""",
    "triple_required": f"""SELECT concat_ws(' ', head_id, relation, tail_id) FROM t
        WHERE language IS NOT DISTINCT FROM ? AND relation IS NOT DISTINCT FROM ?
          AND resolution IS NOT DISTINCT FROM ? AND ({" OR ".join(f"{c} IS NULL" for c in TRIPLE_REQUIRED)})
        LIMIT 3""",
    "triple_unique": """SELECT concat_ws(' ', head_id, relation, tail_id) FROM t
        WHERE language IS NOT DISTINCT FROM ? AND relation IS NOT DISTINCT FROM ?
          AND resolution IS NOT DISTINCT FROM ? GROUP BY head_id, relation, tail_id HAVING count(*) > 1 LIMIT 3""",
    "relation_known": """SELECT concat_ws(' ', head_id, relation, tail_id) FROM t
        WHERE language IS NOT DISTINCT FROM ? AND relation IS NOT DISTINCT FROM ?
          AND resolution IS NOT DISTINCT FROM ? LIMIT 3""",
    "language_yields_entities": f"""SELECT corpus || ':' || path FROM f WHERE language = ? AND {PARSED}
        ORDER BY 1 LIMIT 3""",
    "domain_range": """SELECT v.detail || ' (' || v.head_id || ' -> ' || v.tail_id || ')'
        FROM v JOIN t USING (relation, head_id, tail_id) WHERE v.rule = 'domain_range' AND t.language = ?
        ORDER BY 1 LIMIT 3""",
    "inheritance_cycles": """SELECT x.detail FROM v x JOIN e y ON x.head_id = y.entity_id
        WHERE x.rule = 'cycle' AND x.relation IN ('inherits_from', 'implements') AND y.language = ?
        ORDER BY 1 LIMIT 3""",
    "relation_kept": """SELECT concat_ws(' ', head_id, relation, tail_id) FROM (
            SELECT head_id, relation, tail_id FROM prev_t WHERE corpus = ? AND relation = ?
            EXCEPT SELECT head_id, relation, tail_id FROM t) ORDER BY 1 LIMIT 3""",
}
EXAMPLES["resolution_known"] = EXAMPLES["triple_language_known"] = EXAMPLES["relation_known"]
# Which side of a bound failed decides which examples say most about it.
EXAMPLES_LOW = {
    "entities_per_file": f"""SELECT f.corpus || ':' || f.path FROM f
        WHERE f.language = ? AND f.{PARSED} AND NOT EXISTS (
            SELECT 1 FROM e WHERE e.corpus = f.corpus AND e.path = f.path) ORDER BY 1 LIMIT 3""",
    "triples_per_entity": """SELECT entity_id FROM e WHERE language = ?
        AND entity_id NOT IN (SELECT head_id FROM t) AND entity_id NOT IN (SELECT tail_id FROM t)
        ORDER BY 1 LIMIT 3""",
}
EXAMPLES_HIGH = {
    "entities_per_file": """SELECT corpus || ':' || path || ' (' || count(*) || ')' FROM e
        WHERE language = ? AND path IS NOT NULL GROUP BY corpus, path ORDER BY count(*) DESC LIMIT 3""",
    "triples_per_entity": """SELECT head_id || ' (' || count(*) || ')' FROM t WHERE language = ?
        GROUP BY head_id ORDER BY count(*) DESC LIMIT 3""",
}


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "null" if value is None else str(value)


def explain(tables: Tables, outcomes: list[SuiteOutcome], frames_: dict, th: GateThresholds) -> list[dict]:
    """One finding per failed rule: its words, the value found per failing row, the threshold,
    a few example files or entities, and the flag and config key that change the threshold."""
    findings = []
    for outcome in outcomes:
        columns, rows = frames_[outcome.suite]
        keys = SUITE_KEYS[outcome.suite]
        for exp in outcome.failed:
            rule = RULES.get(exp["rule"])
            if rule is None:  # an expectation without wording: say what GX said
                findings.append({"rule": exp["type"], "suite": outcome.suite, "line": failure_lines(
                    [SuiteOutcome(outcome.suite, False, 0, [exp])])[0]})
                continue
            found, examples = [], []
            if exp.get("exception"):
                found.append(f"error: {exp['exception']}")
            elif rule.value is None:
                found.append(_fmt(exp["observed_value"]))
            for index in exp.get("unexpected_index_list") or []:
                row = dict(zip(columns, rows[index], strict=True)) if isinstance(index, int) else dict(index)
                label = "/".join(_fmt(row.get(k)) for k in keys)
                value = row.get(rule.value)
                found.append(_found(rule.id, label, value, row))
                examples += _examples(tables, rule, row, keys, th)
            if rule.key:
                change = (f"change with {flag(rule.key)} or gates.{rule.key}" if rule.id not in
                          ("entities_per_file", "triples_per_entity") else
                          f"change with {flag(rule.key)}/{flag(rule.key.replace('min_', 'max_'))} or "
                          f"gates.{rule.key}/{rule.key.replace('min_', 'max_')}")
            else:
                change = rule.fix or "not a threshold"
            shown = found[:4] + ([f"and {len(found) - 4} more"] if len(found) > 4 else [])
            line = f"{rule.words}: found {', '.join(shown) or '?'}; expected {rule.limit(th)}"
            if examples:
                line += f"; e.g. {', '.join(examples[:3])}"
            findings.append({"rule": rule.id, "suite": outcome.suite, "found": shown, "threshold": rule.limit(th),
                             "examples": examples[:3], "key": rule.key, "line": f"{line} ({change})"})
    return findings


def _found(rule: str, label: str, value, row: dict) -> str:
    """The figure a failing row shows, with what it was computed from."""
    if rule == "language_yields_entities":
        return f"{label}: {row['parsed_files']:,} parsed files yield no entities"
    if rule == "relation_kept":
        return (f"{label}: {_fmt(value)} ({row['triples']:,} of {row['previous_triples']:,} triples kept, "
                f"{row['files']:,} of {row['previous_files']:,} parsed files)")
    if rule == "entities_per_file":
        return f"{label}: {_fmt(value)} ({row['entities']:,} entities from {row['parsed_files']:,} parsed files)"
    if rule == "triples_per_entity":
        return f"{label}: {_fmt(value)} ({row['triples']:,} triples)"
    return f"{label}: {_fmt(value)}"


def _examples(tables: Tables, rule: Rule, row: dict, keys: tuple, th: GateThresholds) -> list[str]:
    sql = EXAMPLES.get(rule.id)
    if rule.id in EXAMPLES_LOW:
        low = row.get(rule.value) is not None and row[rule.value] < getattr(th, rule.key)
        sql = (EXAMPLES_LOW if low else EXAMPLES_HIGH)[rule.id]
    if sql is None:
        return []
    params = [row.get(k) for k in keys][: sql.count("?")]
    try:
        return [str(r[0]) for r in tables.rows(sql, params)[1]]
    except Exception as exc:  # noqa: BLE001 - examples are a courtesy; the verdict stands without them
        return [f"(no examples: {exc})"]


# --- verdicts: run, record, reuse --------------------------------------------------------------


class GxMemo:
    """GX's outcome of each expectation, by what it read: its class and arguments (thresholds
    included), the frame's column names, and the rows' values in the columns it judges and in
    the suite's key columns (the labels `observed` writes), in order; with the suites' code and
    GX's version. GX's outcome is a function of these alone, so an expectation whose inputs equal
    ones already validated takes that outcome without GX: an edit that leaves the shares and
    ratios as they were (most edits of one file in a large corpus) is gated without waiting for
    GX's import. One JSON file per key under the lake's `cache/gates/`, holding the sha256 of its
    outcome, checked when read (a file that does not check is a miss); the newest KEEP stay."""

    KEEP = 2048
    CODE = ("kg/quality.py", "kg/ontology.py", "kg/schemas.py")  # the suites and their value sets

    def __init__(self, folder: Path, reuse: bool = True):
        self.folder, self.reuse = Path(folder), reuse  # reuse=False: GX runs, its outcomes stored
        self._salt: dict | None = None

    def key(self, suite: str, cls: str, kwargs: dict, frame: tuple[list[str], list[tuple]]) -> str:
        from graphmer_core.artifacts import code_digest, sha256_json

        if self._salt is None:
            self._salt = {"gx": _gx_version(), "code": code_digest(Path(__file__).resolve().parent.parent, self.CODE)}
        columns, rows = frame
        read = [*SUITE_KEYS[suite], *(kwargs[k] for k in ("column", "column_A", "column_B") if k in kwargs)]
        at = [list(columns).index(c) for c in read]
        return sha256_json({"expectation": [cls, kwargs], "columns": list(columns), "read": read,
                            "rows": [[r[i] for i in at] for r in rows], **self._salt})

    def get(self, key: str) -> tuple[dict, str] | None:
        """The outcome stored under `key` and the KG version whose gates ran GX for it."""
        import json

        from graphmer_core.artifacts import sha256_json

        if not self.reuse:
            return None
        try:
            entry = json.loads((self.folder / f"{key}.json").read_text())
            if sha256_json(entry["outcome"]) != entry["outcome_sha256"]:
                return None
            return entry["outcome"], entry["kg_version"]
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(self, key: str, outcome: dict, kg_version: str) -> None:
        from graphmer_core.artifacts import sha256_json

        write_json_atomic(self.folder / f"{key}.json", {"kg_version": kg_version, "outcome": outcome,
                                                        "outcome_sha256": sha256_json(outcome)})

    def prune(self) -> None:
        kept = sorted(self.folder.glob("*.json"), key=lambda f: f.stat().st_mtime, reverse=True)
        for old in kept[self.KEEP:]:
            old.unlink(missing_ok=True)


@dataclass
class Verdict:
    passed: bool
    outcomes: list[SuiteOutcome]
    findings: list[dict]
    thresholds: dict
    baseline_kg_version: str | None
    checked_at: str
    gates_s: float = 0.0
    reused: bool = False
    frames_sha256: str | None = None
    gx_ran: int | None = None  # expectations GX ran for these gates (None: all; the rest from GxMemo)
    gx_run_for: list[str] = field(default_factory=list)  # the versions whose gates ran GX for the rest

    @property
    def lines(self) -> list[str]:
        return [f["line"] for f in self.findings]

    def suite(self, name: str) -> SuiteOutcome:
        return next(o for o in self.outcomes if o.suite == name)

    def record(self) -> dict:
        return {"passed": self.passed, "checked_at": self.checked_at, "engine": f"great_expectations {_gx_version()}",
                "thresholds": self.thresholds, "baseline_kg_version": self.baseline_kg_version,
                "gates_s": round(self.gates_s, 3), "failures": self.findings,
                "frames_sha256": self.frames_sha256, "gx_ran": self.gx_ran, "gx_run_for": self.gx_run_for,
                "suites": {o.suite: dataclasses.asdict(o) for o in self.outcomes}}

    @classmethod
    def from_record(cls, rec: dict) -> Verdict:
        return cls(rec["passed"], [SuiteOutcome(**o) for o in rec["suites"].values()], rec["failures"],
                   rec["thresholds"], rec.get("baseline_kg_version"), rec["checked_at"], rec.get("gates_s", 0.0),
                   reused=True, frames_sha256=rec.get("frames_sha256"), gx_ran=rec.get("gx_ran"),
                   gx_run_for=rec.get("gx_run_for") or [])


def _gx_version() -> str:
    from importlib.metadata import version

    return version("great-expectations")


def baseline_dir(kg_dir: Path, manifest: dict) -> Path | None:
    """The previous version of the same lake this one is compared with: the version that was current
    when it was staged (the manifest's `changes`), if it is still on disk."""
    previous = (manifest.get("changes") or {}).get("previous_kg_version")
    if not previous or previous == manifest.get("kg_version"):
        return None
    candidate = kg_dir.parent.parent / "kg" / previous
    return candidate if (candidate / "triples.parquet").exists() else None


def recorded_verdict(manifest: dict, thresholds: GateThresholds) -> Verdict | None:
    """The verdict recorded in a manifest, if it was reached under these thresholds."""
    rec = manifest.get("gates")
    if not rec or rec.get("thresholds") != thresholds.as_dict():
        return None
    return Verdict.from_record(rec)


def run_gates(kg_dir: str | os.PathLike, thresholds: GateThresholds | None = None,
              worker: GxWorker | LazyGx | None = None, memo: GxMemo | None = None) -> Verdict:
    """Aggregate the version's tables in DuckDB and validate them with GX (in `worker` if given;
    a LazyGx is started only if GX is needed), except the expectations `memo` holds outcomes for.
    When GX runs, it also validates the frame of a next version that keeps every relation's share
    (see relation_changes), so that such a rebuild finds its outcome in the memo."""
    from graphmer_core.artifacts import sha256_json

    kg_dir, th = Path(kg_dir), thresholds or DEFAULT_GATES
    t = time.perf_counter()
    manifest = _read_manifest(kg_dir)
    base = baseline_dir(kg_dir, manifest)
    tables = Tables(kg_dir, base)
    try:
        frames_ = frames(tables, th)
        specs = expectations(th)
        keys = {(suite, rule): memo.key(suite, cls, kwargs, frames_[suite])
                for suite, items in specs.items() for rule, cls, kwargs in items} if memo is not None else {}
        found: dict[tuple[str, str], tuple[dict, str]] = {
            k: hit for k, key in keys.items() if (hit := memo.get(key)) is not None}
        every = [(suite, rule) for suite, items in specs.items() for rule, _, _ in items]
        missing = [rule for suite, rule in every if (suite, rule) not in found]
        if missing:
            validate = _validator(worker, th)
            for o in validate(frames_, missing):
                for e in o.expectations:
                    found[(o.suite, e["rule"])] = (e, kg_dir.name)
                    if memo is not None:
                        memo.put(keys[(o.suite, e["rule"])], e, kg_dir.name)
            if memo is not None:
                _prefill_kept_shares(tables, th, memo, validate, kg_dir.name, specs)
                memo.prune()
        outcomes = []
        for suite, items in specs.items():
            es = sorted((found[(suite, rule)][0] for rule, _, _ in items), key=lambda e: e["rule"])
            outcomes.append(SuiteOutcome(suite, all(e["success"] for e in es), len(frames_[suite][1]), es))
        findings = explain(tables, outcomes, frames_, th)
    finally:
        tables.close()
    reused = sorted({v for k, (_, v) in found.items() if k[1] not in missing})
    plain = {k: [list(c), [list(r) for r in rows]] for k, (c, rows) in frames_.items()}
    return Verdict(all(o.success for o in outcomes), outcomes, findings, th.as_dict(),
                   None if base is None else base.name, _now(), gates_s=time.perf_counter() - t,
                   frames_sha256=sha256_json(plain),
                   gx_ran=None if len(missing) == len(every) else len(missing), gx_run_for=reused)


def _validator(worker: GxWorker | LazyGx | None, th: GateThresholds) -> Callable[[dict, list[str]], list[SuiteOutcome]]:
    """validate(frames, rules): in the worker (started now if it is a LazyGx not yet started), or here."""
    if isinstance(worker, LazyGx):
        worker.start()
        worker = worker.worker
    if worker is not None:
        return lambda frames_, rules: worker.validate(frames_, th, rules)
    return lambda frames_, rules: validate_frames(frames_, kg_suites(th, rules), "COMPLETE")


def _prefill_kept_shares(tables: Tables, th: GateThresholds, memo: GxMemo, validate, kg_version: str,
                         specs: dict) -> None:
    """GX's outcome for this version compared with itself, stored for the next version to find."""
    frame = relation_changes(tables, th, ("t", "f"))
    (rule, cls, kwargs), = specs["kg_relation_changes"]
    key = memo.key("kg_relation_changes", cls, kwargs, frame)
    if memo.get(key) is None:
        for o in validate({"kg_relation_changes": frame}, [rule]):
            for e in o.expectations:
                memo.put(key, e, kg_version)


def _now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _read_manifest(kg_dir: Path) -> dict:
    import json

    return json.loads((kg_dir / MANIFEST).read_text())


def record_verdict(kg_dir: Path, verdict: Verdict) -> None:
    """Write the verdict into the version's manifest (atomically: temp file and rename)."""
    manifest = _read_manifest(kg_dir)
    manifest["gates"] = verdict.record()
    write_json_atomic(kg_dir / MANIFEST, manifest)


def gate(kg_dir: str | os.PathLike, thresholds: GateThresholds | None = None, regate: bool = False,
         worker: GxWorker | LazyGx | None = None) -> Verdict:
    """The version's verdict: the recorded one if it was reached under these thresholds (GX is not
    even imported), else a fresh one, recorded, with GX's outcomes reused from the lake's GxMemo for
    expectations whose inputs equal ones validated before. `regate=True` always runs GX. A fresh
    verdict is reached under the lake's lock
    (`kg_dir` is `staging/<v>` or `kg/<v>` of a lake), so a build cannot promote the version from
    under the gates or their record."""
    from graphmer_core.lake import Lake

    kg_dir, th = Path(kg_dir), thresholds or DEFAULT_GATES
    if not regate:
        recorded = recorded_verdict(_read_manifest(kg_dir), th)
        if recorded is not None:
            return recorded
    lake = Lake(kg_dir.parent.parent)
    with lake.lock(f"gating KG {kg_dir.name}"):
        if not kg_dir.exists() and lake.kg_dir(kg_dir.name).exists():
            kg_dir = lake.kg_dir(kg_dir.name)  # promoted while this process waited for the lock
        verdict = run_gates(kg_dir, th, worker, GxMemo(lake.root / "cache" / "gates", reuse=not regate))
        record_verdict(kg_dir, verdict)
    return verdict


def enforce_gates(kg_dir: str | os.PathLike, thresholds: GateThresholds | None = None, regate: bool = False,
                  worker: GxWorker | None = None) -> Verdict:
    """Gate the version and raise GateFailed if it failed."""
    verdict = gate(kg_dir, thresholds, regate, worker)
    if not verdict.passed:
        raise GateFailed(Path(kg_dir), verdict.outcomes, lines=verdict.lines)
    return verdict
