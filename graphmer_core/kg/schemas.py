"""Arrow schemas of the KG tables: one name per concept across Parquet, DuckDB and Dagster."""

import pyarrow as pa

ENTITIES = pa.schema([
    ("entity_id", pa.string()),
    ("kind", pa.string()),
    ("name", pa.string()),
    ("qualified_name", pa.string()),
    ("language", pa.string()),
    ("corpus", pa.string()),
    ("path", pa.string()),          # relative to the corpus root; null for externals
    ("start_line", pa.int32()),
    ("end_line", pa.int32()),
    ("file_sha256", pa.string()),
])

TRIPLES = pa.schema([
    ("head_id", pa.string()),
    ("relation", pa.string()),
    ("tail_id", pa.string()),
    ("language", pa.string()),
    ("corpus", pa.string()),
    ("path", pa.string()),          # file holding the first evidence
    ("line", pa.int32()),           # first evidence line (1-based)
    ("resolution", pa.string()),
    ("kg_version", pa.string()),
])

FILES = pa.schema([
    ("corpus", pa.string()),
    ("path", pa.string()),
    ("language", pa.string()),
    ("sha256", pa.string()),
    ("size_bytes", pa.int64()),
    ("status", pa.string()),        # ok | skipped | failed
    ("reason", pa.string()),        # why skipped/failed; null when ok
])
