"""The promoted KG -> splits -> tokenizer -> leafy-chain dataset of the training profile."""

import dagster as dg
import pyarrow.parquet as pq

from graphmer_core.artifacts import sha256_file
from graphmer_core.data import build
from graphmer_core.data.splits import group_sizes
from graphmer_core.data.summary import markdown_summary
from graphmer_pipeline.assets.kg import kg_catalog
from graphmer_pipeline.metadata import counts_table
from graphmer_pipeline.resources import DataLake, TrainingProfile


def _stage(lake: DataLake, profile: TrainingProfile) -> build.Stage:
    return build.open_stage(lake.lake, profile.load().dataset)


@dg.asset(group_name="dataset", kinds={"python", "parquet"}, deps=[kg_catalog], pool="graphmer_lake")
def data_splits(context: dg.AssetExecutionContext, lake: DataLake, profile: TrainingProfile) -> dg.MaterializeResult:
    """Train/valid/test by file; identical and near-duplicate files share a split."""
    stage = _stage(lake, profile)
    result = build.stage_splits(stage)
    context.log.info(f"dataset {stage.version} of KG {stage.kg_manifest['kg_version']}: "
                     f"{'reused' if result.reused else 'splits staged'}")
    files = result.info["files"]
    groups = group_sizes(pq.read_table(result.path))
    return dg.MaterializeResult(metadata={
        "dataset_version": stage.version, "kg_version": stage.kg_manifest["kg_version"], "reused": result.reused,
        "dagster/row_count": sum(files.values()), "files_per_split": counts_table(files, "split", "files"), **groups,
        "summary": dg.MetadataValue.md("| split | files |\n|---|---:|\n" + "\n".join(
            f"| {s} | {n:,} |" for s, n in files.items())
            + f"\n\n{groups['files_in_shared_groups']:,} files share a group with a copy or near-copy "
              f"(largest group {groups['largest_group']:,} files)."),
    })


@dg.asset(group_name="dataset", kinds={"python"}, deps=[data_splits], pool="graphmer_lake")
def tokenizer(context: dg.AssetExecutionContext, lake: DataLake, profile: TrainingProfile) -> dg.MaterializeResult:
    """Byte-level BPE trained on a capped sample of the training split only."""
    stage = _stage(lake, profile)
    result = build.stage_tokenizer(stage)
    info = result.info
    context.log.info(f"tokenizer: vocabulary {info['vocab_size']:,} from {info['sample_bytes']:,} bytes")
    return dg.MaterializeResult(metadata={
        "dataset_version": stage.version, "reused": result.reused, "vocab_size": info["vocab_size"],
        "sample_bytes": info["sample_bytes"], "sample_bytes_cap": info["sample_bytes_cap"],
        "sample_files": info["sample_files"], "sha256": info["sha256"],
    })


@dg.asset(group_name="dataset", kinds={"python", "safetensors"}, deps=[tokenizer], pool="graphmer_lake")
def training_dataset(context: dg.AssetExecutionContext, lake: DataLake,
                     profile: TrainingProfile) -> dg.MaterializeResult:
    """Token streams and head occurrences per split, leak-checked, renamed into datasets/<version>/."""
    stage = _stage(lake, profile)
    result = build.stage_sequences(stage, log=context.log.info)
    m = result.info
    return dg.MaterializeResult(metadata={
        "dataset_version": stage.version, "kg_version": m["kg_version"], "reused": result.reused,
        "path": dg.MetadataValue.path(str(result.path)),
        "dagster/row_count": sum(s["windows"] for s in m["splits"].values()),
        "tokens": counts_table({s: v["tokens"] for s, v in m["splits"].items()}, "split", "tokens"),
        "triples_placed": m["triples_total"]["placed"],
        "placed_share_of_kg": m["triples_total"]["placed_share_of_kg"],
        "leaked_windows": m["leak_check"]["leaked_windows"],
        "manifest_sha256": dg.MetadataValue.text(sha256_file(result.path / "manifest.json")),
        "summary": dg.MetadataValue.md(markdown_summary(m)),
    })
