"""Corpora -> staged KG version -> gated, promoted KG: the library behind the CLI and the Dagster assets.

Rebuilding unchanged content is meant to cost almost nothing, so this module imports only what
finding the version takes (hashing); parsing, resolution, Arrow and DuckDB are imported when a
version is actually built, and Great Expectations only when a version has no verdict yet.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from graphmer_core.artifacts import code_digest
from graphmer_core.corpus.discovery import Corpus
from graphmer_core.corpus.index import FileRecord, fingerprint, index_corpora
from graphmer_core.corpus.layout import PackageLayout, package_layout
from graphmer_core.kg import manifest as mf
from graphmer_core.kg import quality
from graphmer_core.kg.quality import DEFAULT_GATES, GateFailed, GateThresholds
from graphmer_core.lake import Lake, write_pointer

if TYPE_CHECKING:
    import pyarrow as pa

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
# The code whose output a KG version depends on: change any of it and the version changes.
# (The table schemas live in kg/schemas.py, so they are part of it.)
VERSIONED_CODE = ("corpus", "parsing", "kg")

Progress = Callable[[str, int, int], None]
# Builds that parse fewer files start importing Great Expectations at once, larger ones after parsing.
GX_EARLY_MAX_FILES = 2000
# Rebuilds that parse at most this many files start GX only when the gates need it (see _build_kg).
GX_MEMO_MAX_FILES = 8


@functools.cache
def code_version() -> str:
    return code_digest(PACKAGE_ROOT, VERSIONED_CODE)


def package_layouts(corpora: list[Corpus]) -> dict[str, PackageLayout]:
    """Each corpus's declared Python package roots (a ValueError naming the corpus for a bad
    `package_roots`)."""
    layouts = {}
    for c in corpora:
        try:
            layouts[c.name] = package_layout(c.root, c.package_roots)
        except ValueError as exc:
            raise ValueError(f"corpus {c.name!r}: {exc}") from None
    return layouts


def kg_version_of(records: list[FileRecord], layouts: dict[str, PackageLayout]) -> str:
    """Same corpus content, package roots and code give the same version; nothing else enters it
    (the roots name the modules, so a version built under other roots is never reused)."""
    roots = "".join(f"\n{name}\t{layouts[name].key()}" for name in sorted(layouts))
    return fingerprint(records, salt=f"kg:{code_version()}{roots}")[:16]


def files_table(records: list[FileRecord]) -> pa.Table:
    from graphmer_core.kg import arrow, schemas

    return arrow.from_rows([tuple(r.row().values()) for r in records], schemas.FILES)


def index_cache(lake: Lake) -> Path:
    """Where the corpus index keeps (size, mtime, inode) -> sha256, so unchanged files are not reread."""
    return lake.root / "cache" / "index"


def resolve_cache(lake: Lake) -> Path:
    """Where resolved rows are kept between builds (graphmer_core.kg.incremental)."""
    return lake.root / "cache" / "resolve"


def existing_version(lake: Lake, version: str) -> Path | None:
    """The folder of a version already promoted or staged, if any."""
    for folder in (lake.kg_dir(version), lake.staged_dir(version)):
        if (folder / mf.MANIFEST).exists():
            return folder
    return None


@dataclass
class StageResult:
    kg_version: str
    kg_dir: Path
    manifest: dict
    reused: bool  # the version already existed: nothing was parsed or written
    reparsed: int = 0
    cache_hits: int = 0
    resolved: int = 0  # files re-resolved (the rest reused from the resolve cache)
    timings: dict[str, float] = field(default_factory=dict)
    verdict: quality.Verdict | None = None  # the quality gates' verdict, when they were asked for
    gx_started: bool = False  # a GX worker was started for the gates (GxMemo had not every outcome)


def stage_kg(
    corpora: list[Corpus],
    lake: Lake,
    workers: int | None = None,
    progress: Progress | None = None,
    records: list[FileRecord] | None = None,
    after_parse: Callable[[int], object] | None = None,
) -> StageResult:
    """Build a KG version under staging/, unless that exact version is already staged or promoted.
    `after_parse` is called with how many files were parsed (not served by the parse cache) once
    they are (the rest of the build runs on one core).
    Holds the lake's writer lock throughout, so a concurrent build of the same content waits and
    then reuses this one."""
    with lake.lock("building a KG"):
        return _stage_kg(corpora, lake, workers, progress, records, after_parse)


def _stage_kg(corpora, lake, workers, progress, records, after_parse) -> StageResult:
    t0 = time.perf_counter()
    layouts = package_layouts(corpora)
    records = index_corpora(corpora, cache=index_cache(lake)) if records is None else records
    version = kg_version_of(records, layouts)
    timings = {"index_s": time.perf_counter() - t0}
    existing = existing_version(lake, version)
    if existing is not None:
        return StageResult(version, existing, mf.verify(existing), reused=True, timings=timings)
    from graphmer_core.parsing.batch import paused_gc

    # Millions of acyclic fact/row objects live through the build: full collections over them
    # cost seconds and free nothing, so the cyclic collector waits until the build is done.
    with paused_gc():
        return _build_version(corpora, lake, workers, progress, records, version, timings, after_parse, layouts)


def _build_version(corpora, lake, workers, progress, records, version, timings, after_parse, layouts) -> StageResult:
    from graphmer_core.kg import store
    from graphmer_core.kg.incremental import ResolveCache
    from graphmer_core.kg.resolution import resolve
    from graphmer_core.parsing.batch import default_workers, parse_files

    t = time.perf_counter()
    outcome = parse_files(
        records, lake.parse_cache, workers,
        progress=None if progress is None else (lambda i, n: progress("parse", i, n)),
    )
    timings["parse_s"] = time.perf_counter() - t
    if after_parse is not None:
        after_parse(outcome.reparsed)

    current = lake.current_dir()
    previous = None if current is None else store.Previous(current, version)  # read while resolving
    try:
        t = time.perf_counter()
        with ResolveCache(resolve_cache(lake), version, lake.current_version(),
                          workers=workers or default_workers()) as cache:
            resolved = resolve(outcome.parsed, {name: layout.roots for name, layout in layouts.items()}, cache)
        timings["resolve_s"] = time.perf_counter() - t
        try:
            return _write_version(lake, version, corpora, records, layouts, outcome, resolved, cache, previous,
                                  timings)
        finally:
            cache.wait()  # the resolve cache's file, written meanwhile on a thread
    finally:
        if previous is not None:
            previous.close()


def _write_version(lake, version, corpora, records, layouts, outcome, resolved, cache, previous, timings
                   ) -> StageResult:
    from graphmer_core.kg import store, validation
    from graphmer_core.kg.resolution import resolver_errors, with_resolver_errors
    from graphmer_core.parsing import LANGUAGES, extractor_version

    file_records = with_resolver_errors(outcome.records, resolved.errors)  # `partial` where one failed

    with store.Stager(lake, version) as stage:  # each table is written while the next is made
        t = time.perf_counter()
        patch = _patch(previous, resolved, cache)
        if patch is None:
            rows = resolved.whole()
            entities = store.dedup_entities(rows.entities)
            stage.write("entities", entities)
            triples = store.dedup_triples(rows.triples, version)
        else:  # the rows of the keys it changes, decoded from the sources that may hold them
            rows = resolved.rows_for(patch.affected_entities, {k[0] for k in patch.affected_triples})
            entities = patch.entities(rows.entities)
            stage.write("entities", entities)
            triples = patch.triples(rows.triples, version)
        del rows
        stage.write("triples", triples)
        # the ontology's checks on a thread (DuckDB leaves the GIL), beside the files and the counts
        judged = stage.run(validation.validate if patch is None else patch.violations, entities, triples)
        stage.write("files", files_table(file_records))
        counts = mf.table_summary(entities, triples)
        violations = judged.result()
        stage.write("validation", violations)
        timings["tables_s"] = time.perf_counter() - t
        t = time.perf_counter()
        manifest = {
            "schema_version": mf.SCHEMA_VERSION,
            "kg_version": version,
            "code_version": code_version(),
            "extractor_versions": {lang: extractor_version(lang) for lang in LANGUAGES},
            "corpora": [{"name": c.name, "root": str(c.root), "package_roots": layouts[c.name].as_dict()}
                        for c in corpora],
            "corpus_fingerprint": fingerprint(records),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "files": mf.file_summary(file_records),
            "resolver_errors": resolver_errors(resolved.errors),
            "parse": {"reparsed": outcome.reparsed, "cache_hits": outcome.cache_hits},
            "resolve": cache.stats.as_dict(),
            "tables_from": ({"mode": "rows"} if patch is None else
                            {"mode": "patch", "previous_kg_version": patch.previous_dir.name,
                             "entity_ids": len(patch.affected_entities), "triple_keys": len(patch.affected_triples)}),
            "changes": patch.changes if patch is not None else mf.changes(lake.current_dir(), triples),
            "validation": validation.rates(violations, entities, triples),
            **counts,
        }
        timings["manifest_s"] = time.perf_counter() - t
        t = time.perf_counter()
        kg_dir = stage.finish(manifest)
        timings["write_s"] = time.perf_counter() - t  # what is left of the writes after the above
    return StageResult(version, kg_dir, mf.read_manifest(kg_dir), reused=False,
                       reparsed=outcome.reparsed, cache_hits=outcome.cache_hits, timings=timings,
                       resolved=cache.stats.resolved)


def _patch(previous, resolved, cache):
    """A store.Patch of the current version's tables (`previous`, a store.Previous), when the
    resolve cache knows what changed since that version and it is a small part of the rows; else
    None (the tables are made anew)."""
    from graphmer_core.artifacts import IntegrityError
    from graphmer_core.kg import store
    from graphmer_core.kg.incremental import PATCH_MAX_SHARE

    if cache.previous is None or previous is None:
        return None
    entities, triples = store.changed_keys(cache.previous, cache.fresh)
    rows_e, rows_t = resolved.counts()
    if len(triples) > PATCH_MAX_SHARE * rows_t or len(entities) > PATCH_MAX_SHARE * rows_e:
        return None
    try:
        return store.Patch(previous, entities, triples)
    except IntegrityError:  # a previous version that does not check is no base (its triples' check names it)
        return None


def build_kg(corpora: list[Corpus], lake: Lake, workers: int | None = None, progress: Progress | None = None,
             gates: GateThresholds | None = DEFAULT_GATES, regate: bool = False) -> StageResult:
    """Stage, gate, then promote and refresh the catalogue: the CLI path (Dagster runs the same
    gates as blocking asset checks between staging and promotion). `gates=None` skips them.

    A version already gated under the same thresholds keeps its recorded verdict (`regate=True`
    runs the gates again); otherwise Great Expectations is imported in a worker process while the
    version is built. Raises GateFailed (nothing promoted) when the verdict is a fail. Holds the
    lake's writer lock from indexing to promotion: a second build waits, then finds this version."""
    with lake.lock("graphmer build-kg"):
        return _build_kg(corpora, lake, workers, progress, gates, regate)


def _build_kg(corpora, lake, workers, progress, gates, regate) -> StageResult:
    from graphmer_core.parsing.batch import to_parse

    t = time.perf_counter()
    records = index_corpora(corpora, cache=index_cache(lake))
    version = kg_version_of(records, package_layouts(corpora))
    index_s = time.perf_counter() - t
    existing = existing_version(lake, version)
    needs_gx = gates is not None and (
        regate or existing is None or quality.recorded_verdict(mf.read_manifest(existing), gates) is None)
    # A rebuild (of a lake with a current version) that parses a handful of files mostly leaves the
    # gates' shares and ratios as they were, and GxMemo has GX's outcomes for them: GX is started
    # only if the gates miss one, or once the rebuild has parsed more than GX_MEMO_MAX_FILES (so
    # that how many it parses is not asked of the parse cache first: a key scan of the whole
    # cache). Else GX's import (~2.3 s of one core) starts beside the build: at once where it
    # parses few files (a small corpus) and runs the rest on one core, after parsing where it
    # parses many (the resolve workers then share the cores with it; started after resolution
    # instead, the JDK's cold build took as long: what resolution gained, the tables lost).
    rebuild = not regate and lake.current_version() is not None
    after_parse = None
    with quality.LazyGx() as gx:
        if needs_gx and rebuild and existing is None:
            def after_parse(parsed: int) -> None:
                if parsed > GX_MEMO_MAX_FILES:
                    gx.start()
        elif needs_gx and not rebuild:
            if existing is not None or to_parse(records, lake.parse_cache) < GX_EARLY_MAX_FILES:
                gx.start()
            else:
                def after_parse(parsed: int) -> None:
                    gx.start()
        result = stage_kg(corpora, lake, workers, progress, records, after_parse=after_parse)
        result.timings["index_s"] = index_s
        if gates is not None:
            t = time.perf_counter()
            result.verdict = quality.gate(result.kg_dir, gates, regate, gx)
            result.timings["gates_s"] = time.perf_counter() - t
            result.gx_started = gx.worker is not None
            if not result.verdict.passed:
                raise GateFailed(result.kg_dir, result.verdict.outcomes, lines=result.verdict.lines)
    t = time.perf_counter()
    if lake.current_version() != result.kg_version or lake.catalog_version() != result.kg_version:
        from graphmer_core.kg import store  # also repairs a catalogue a killed promotion left behind

        result.kg_dir = store.promote(lake, result.kg_version)
        result.manifest = mf.read_manifest(result.kg_dir)
    elif result.verdict is not None and not result.verdict.reused:
        result.manifest = mf.read_manifest(result.kg_dir)
    result.timings["promote_s"] = time.perf_counter() - t
    return result


def mark_candidate(lake: Lake, kg_version: str) -> None:
    """Name the version the quality gates should judge next (staged or already promoted)."""
    with lake.lock(f"marking KG {kg_version} for its gates"):
        write_pointer(lake.candidate_pointer, kg_version)
