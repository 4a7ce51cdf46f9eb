"""Corpus -> parsed files -> staged KG -> gated, promoted KG with its DuckDB catalogue."""


import dagster as dg

from graphmer_core.corpus.index import index_corpora, read_index, write_index
from graphmer_core.kg import build, store
from graphmer_core.kg.manifest import file_summary, files_markdown, markdown_summary, resolve_summary
from graphmer_core.parsing.batch import parse_files
from graphmer_pipeline.metadata import counts_table, parquet_chart
from graphmer_pipeline.resources import CorporaConfig, DataLake

SOURCE_INDEX = "source_files.parquet"
PARSED_INDEX = "parsed_files.parquet"


@dg.asset(group_name="kg", kinds={"python", "parquet"}, pool="graphmer_lake")
def source_files(context: dg.AssetExecutionContext, lake: DataLake, corpora: CorporaConfig) -> dg.MaterializeResult:
    """Every file of every corpus with its sha256; the content fingerprint fixes the kg_version."""
    loaded = corpora.load(context.log)
    records = index_corpora(loaded, cache=build.index_cache(lake.lake))
    version = build.kg_version_of(records, build.package_layouts(loaded))
    digest = write_index(records, lake.lake.index_dir / SOURCE_INDEX, {"kg_version": version})
    summary = file_summary(records)
    return dg.MaterializeResult(metadata={
        "dagster/row_count": len(records),
        "by_status": counts_table(summary["by_status"], "status", "files"),
        "bytes": sum(r.size_bytes for r in records),
        "kg_version": version,
        "sha256": digest,
        "path": dg.MetadataValue.path(str(lake.lake.index_dir / SOURCE_INDEX)),
        "summary": dg.MetadataValue.md(files_markdown(summary)),
    })


@dg.asset(group_name="kg", kinds={"python", "tree-sitter"}, deps=[source_files], pool="graphmer_lake")
def parsed_files(context: dg.AssetExecutionContext, lake: DataLake) -> dg.MaterializeResult:
    """Syntax facts of every file, through the content-addressed parse cache (unchanged files cost nothing)."""
    records, meta = read_index(lake.lake.index_dir / SOURCE_INDEX)
    outcome = parse_files(records, lake.lake.parse_cache,
                          progress=lambda i, n: context.log.info(f"parsed {i}/{n} files"))
    digest = write_index(outcome.records, lake.lake.index_dir / PARSED_INDEX, meta)
    summary = file_summary(outcome.records)
    return dg.MaterializeResult(metadata={
        "dagster/row_count": len(outcome.records),
        "files": len(outcome.records),
        "reparsed": outcome.reparsed,
        "cache_hits": outcome.cache_hits,
        "by_status": counts_table(summary["by_status"], "status", "files"),
        "sha256": digest,
        "summary": dg.MetadataValue.md(
            f"Reparsed {outcome.reparsed:,}, {outcome.cache_hits:,} from the cache.\n\n" + files_markdown(summary)),
    })


@dg.multi_asset(
    group_name="kg",
    pool="graphmer_lake",
    specs=[
        dg.AssetSpec("kg_entities", kinds={"parquet"}, deps=[parsed_files],
                     description="Entities of the staged KG version (entities.parquet)."),
        dg.AssetSpec("kg_triples", kinds={"parquet"}, deps=[parsed_files],
                     description="Resolved triples of the staged KG version (triples.parquet)."),
    ],
)
def kg_tables(context: dg.AssetExecutionContext, lake: DataLake, corpora: CorporaConfig):
    """Resolve the parsed files into a KG version under staging/; the gates run on it before promotion."""
    records, _ = read_index(lake.lake.index_dir / SOURCE_INDEX)
    result = build.stage_kg(corpora.load(), lake.lake, records=records)
    build.mark_candidate(lake.lake, result.kg_version)
    m = result.manifest
    context.log.info(f"KG {result.kg_version}: {'reused' if result.reused else 'staged'} at {result.kg_dir}")
    gates = m.get("gates")
    final = lake.lake.kg_dir(result.kg_version)  # where the files live once the gates let them through
    common = {"kg_version": result.kg_version, "reused": result.reused,
              "resolution": "none: the version was reused" if result.reused else resolve_summary(m["resolve"]),
              "gates_recorded": "none" if gates is None else f"{'passed' if gates['passed'] else 'failed'} "
                                                             f"({gates['checked_at']})"}
    yield dg.MaterializeResult(asset_key="kg_entities", metadata={
        **common, "path": dg.MetadataValue.path(str(final / "entities.parquet")),
        "dagster/row_count": m["entities"], "sha256": m["files_sha256"]["entities.parquet"],
        "by_kind": counts_table(m["entities_by_kind"], "kind", "entities"),
        "by_language": counts_table(m["entities_by_language"], "language", "entities"),
        "chart": parquet_chart(result.kg_dir, m, "entities", ("kind", "language")),
    })
    yield dg.MaterializeResult(asset_key="kg_triples", metadata={
        **common, "path": dg.MetadataValue.path(str(final / "triples.parquet")),
        "dagster/row_count": m["triples"], "sha256": m["files_sha256"]["triples.parquet"],
        "by_relation": counts_table(m["triples_by_relation"], "relation", "triples"),
        "by_resolution": counts_table(m["triples_by_resolution"], "resolution", "triples"),
        "by_language": counts_table(m["triples_by_language"], "language", "triples"),
        "validation": counts_table(m["validation"]["violations_by_rule"], "ontology rule", "violations"),
        "chart": parquet_chart(result.kg_dir, m, "triples", ("relation", "resolution")),
        "summary": dg.MetadataValue.md(markdown_summary(m))})


@dg.asset(group_name="kg", kinds={"duckdb"}, deps=["kg_entities", "kg_triples"], pool="graphmer_lake")
def kg_catalog(context: dg.AssetExecutionContext, lake: DataLake) -> dg.MaterializeResult:
    """Promote the gated candidate (atomic rename + pointer switch) and rebuild the DuckDB views over it."""
    candidate = lake.lake.candidate_dir()
    if candidate is None:
        raise FileNotFoundError("no staged KG candidate: materialize kg_entities/kg_triples first")
    kg_dir = store.promote(lake.lake, candidate.name)
    manifest = store.read_manifest(kg_dir)
    return dg.MaterializeResult(metadata={
        "kg_version": manifest["kg_version"],
        "path": dg.MetadataValue.path(str(kg_dir)),
        "catalog": dg.MetadataValue.path(str(lake.lake.catalog)),
        "entities": manifest["entities"],
        "triples": manifest["triples"],
        "summary": dg.MetadataValue.md(markdown_summary(manifest)),
    })
