"""Rows -> Arrow through DuckDB: the same table pyarrow's own conversion would give."""

import pyarrow as pa
import pytest

from graphmer_core.kg import arrow

SCHEMA = pa.schema([("name", pa.string()), ("line", pa.int32()), ("ids", pa.list_(pa.string()))])


def test_types_nulls_lists_and_byte_order():
    rows = [("b", 2, ["x", "y"]), (None, None, []), ("B", 1, ["z"]), ("é", 3, ["a", "b"])]
    table = arrow.from_rows(rows, SCHEMA, order_by=["name"])
    assert table.schema == SCHEMA
    # byte order (upper case before lower, non-ASCII last), nulls last: as pa.Table.sort_by
    assert table.to_pylist() == pa.Table.from_pylist(
        [dict(zip(SCHEMA.names, r, strict=True)) for r in rows], schema=SCHEMA).sort_by("name").to_pylist()
    assert [r["name"] for r in table.to_pylist()] == ["B", "b", "é", None]


def test_empty_rows_and_wrong_width():
    assert arrow.from_rows([], SCHEMA).num_rows == 0
    assert arrow.from_rows([], SCHEMA).schema == SCHEMA
    with pytest.raises(ValueError, match="2 columns for the 3 fields"):
        arrow.from_columns([["a"], [1]], SCHEMA)


def test_constant_fields_take_one_value_on_every_row():
    table = arrow.from_rows([("a", 1), ("b", None)], SCHEMA, constants={"ids": ["k"]})
    assert table.schema == SCHEMA
    assert table.column("ids").to_pylist() == [["k"], ["k"]]
    assert arrow.from_rows([], SCHEMA, constants={"line": 7}).num_rows == 0
    with pytest.raises(ValueError, match="3 columns for the 2 fields"):
        arrow.from_rows([("a", 1, [])], SCHEMA, constants={"ids": []})


def test_conform_keeps_the_columns_where_their_types_match_and_casts_where_not():
    table = arrow.from_rows([("a", 1, ["x"])], SCHEMA)
    loose = pa.table({"name": ["a"], "line": pa.array([1], pa.int32()), "ids": [["x"]]})  # nullable, no metadata
    assert arrow.conform(loose, SCHEMA).schema == SCHEMA and arrow.conform(loose, SCHEMA).equals(table)
    wide = pa.table({"name": ["a"], "line": pa.array([1], pa.int64()), "ids": [["x"]]})  # int64: cast
    assert arrow.conform(wide, SCHEMA).equals(table)


def test_kg_tables_are_written_in_row_groups_duckdb_reads_in_parallel(tmp_path, monkeypatch):
    import pyarrow.parquet as pq

    from graphmer_core.kg import store

    table = arrow.from_rows([(f"n{i}", i, []) for i in range(25)], SCHEMA)
    store.write_parquet(table, tmp_path / "default.parquet")
    assert pq.ParquetFile(tmp_path / "default.parquet").metadata.num_row_groups == 1
    monkeypatch.setattr(store, "ROW_GROUP_ROWS", 10)
    store.write_parquet(table, tmp_path / "small.parquet")
    assert pq.ParquetFile(tmp_path / "small.parquet").metadata.num_row_groups == 3
    assert pq.read_table(tmp_path / "small.parquet").equals(table)
