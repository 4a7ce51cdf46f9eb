"""Corpus -> parsed files -> staged KG -> gated, promoted KG with its DuckDB catalogue."""


import dagster as dg

from graphmer_core.corpus.index import index_corpora, read_index, write_index
from graphmer_core.kg import build, store
from graphmer_core.kg.manifest import file_summary, files_markdown, markdown_summary
from graphmer_core.parsing.batch import parse_files
from graphmer_pipeline.assets.corpus import corpus_files
from graphmer_pipeline.resources import CorporaConfig, DataLake

SOURCE_INDEX = "source_files.parquet"
PARSED_INDEX = "parsed_files.parquet"


@dg.asset(group_name="kg", kinds={"python", "parquet"}, pool="graphmer_lake", deps=[corpus_files])
def source_files(context: dg.AssetExecutionContext, lake: DataLake, corpora: CorporaConfig) -> dg.MaterializeResult:
    """Every file of every corpus with its sha256; the content fingerprint fixes the kg_version."""
    loaded = corpora.load(context.log)
    records = index_corpora(loaded, cache=build.index_cache(lake.lake))
    version = build.kg_version_of(records, build.package_layouts(loaded))
    digest = write_index(records, lake.lake.index_dir / SOURCE_INDEX, {"kg_version": version})
    summary = file_summary(records)
    return dg.MaterializeResult(metadata={
        "dagster/row_count": len(records),
        "by_status": summary["by_status"],
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
        "by_status": summary["by_status"],
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
    common = {"kg_version": result.kg_version, "reused": result.reused,
              "gates_recorded": "none" if gates is None else f"{'passed' if gates['passed'] else 'failed'} "
                                                             f"({gates['checked_at']})",
              "path": dg.MetadataValue.path(str(result.kg_dir))}
    yield dg.MaterializeResult(asset_key="kg_entities", metadata={
        **common, "dagster/row_count": m["entities"], "by_kind": m["entities_by_kind"],
        "sha256": m["files_sha256"]["entities.parquet"],
        "summary": dg.MetadataValue.md("| kind | entities |\n|---|---:|\n" + "\n".join(
            f"| {k} | {n:,} |" for k, n in sorted(m["entities_by_kind"].items(), key=lambda kv: -kv[1])))})
    yield dg.MaterializeResult(asset_key="kg_triples", metadata={
        **common, "dagster/row_count": m["triples"], "by_relation": m["triples_by_relation"],
        "by_resolution": m["triples_by_resolution"], "sha256": m["files_sha256"]["triples.parquet"],
        "validation": m["validation"]["violations_by_rule"],
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
        "catalog": dg.MetadataValue.path(str(lake.lake.catalog)),
        "entities": manifest["entities"],
        "triples": manifest["triples"],
        "summary": dg.MetadataValue.md(markdown_summary(manifest)),
    })
