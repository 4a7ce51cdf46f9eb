"""Per-corpus partitions: each repository is indexed and parsed on its own, in parallel runs if wanted."""

import dagster as dg
from graphmer_core.corpus.config import DEFAULT_CONFIG, CorporaConfig as CorporaFile
from graphmer_core.corpus.index import index_corpora, write_index
from graphmer_core.kg.manifest import file_summary, files_markdown
from graphmer_core.parsing.batch import parse_files

from graphmer_pipeline.metadata import counts_table
from graphmer_pipeline.resources import CorporaConfig, DataLake

# Static partitions, one per corpus of configs/corpora.yaml (read once at definition load).
corpus_partitions = dg.StaticPartitionsDefinition(
    [spec.name for spec in CorporaFile.from_yaml(DEFAULT_CONFIG).corpora]
)


@dg.asset(group_name="corpora", kinds={"python", "tree-sitter"}, partitions_def=corpus_partitions)
def corpus_files(context: dg.AssetExecutionContext, lake: DataLake, corpora: CorporaConfig) -> dg.MaterializeResult:
    """One corpus indexed and parsed into the shared parse cache; the `kg` group then joins all corpora."""
    name = context.partition_key
    corpus = next((c for c in corpora.load(context.log) if c.name == name), None)
    if corpus is None:
        raise FileNotFoundError(f"corpus {name!r} is not configured or its root is missing")
    outcome = parse_files(index_corpora([corpus]), lake.lake.parse_cache,
                          progress=lambda i, n: context.log.info(f"{name}: parsed {i}/{n} files"))
    digest = write_index(outcome.records, lake.lake.index_dir / "corpora" / f"{name}.parquet")
    summary = file_summary(outcome.records)
    return dg.MaterializeResult(metadata={
        "dagster/row_count": len(outcome.records), "reparsed": outcome.reparsed, "cache_hits": outcome.cache_hits,
        "by_status": counts_table(summary["by_status"], "status", "files"), "root": str(corpus.root), "sha256": digest,
        "summary": dg.MetadataValue.md(files_markdown(summary)),
    })
