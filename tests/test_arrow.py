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
