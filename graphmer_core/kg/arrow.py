"""Python rows -> Arrow tables through DuckDB, never through pyarrow's own conversion.

pyarrow imports pandas (0.2 s) the first time it converts Python objects, even a lone string
scalar, and every CLI build is a fresh process: that import alone was a tenth of a stdlib build.
DuckDB scans numpy object arrays in C++ without pandas and casts each column to the schema's type
on the way. So the KG build converts rows here, and passes Python scalars to DuckDB as query
parameters, never to pyarrow.compute.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import numpy as np
import pyarrow as pa

_DB: duckdb.DuckDBPyConnection | None = None
_SQL_TYPES = {pa.string(): "VARCHAR", pa.int32(): "INTEGER", pa.int64(): "BIGINT", pa.bool_(): "BOOLEAN",
              pa.list_(pa.string()): "VARCHAR[]"}


def cursor() -> duckdb.DuckDBPyConnection:
    """A fresh cursor on this process's in-memory DuckDB: connecting costs 20 ms, a cursor nothing.
    Each cursor has its own registered tables, so callers on other threads never see them."""
    global _DB
    if _DB is None:
        _DB = duckdb.connect()
    return _DB.cursor()


def sql_string(text: str) -> str:
    """`text` as a SQL string literal, for the one place a value cannot be a bound parameter: the
    file path in a view's definition (DuckDB prepares no DDL). A lake path may hold a quote."""
    return "'" + text.replace("'", "''") + "'"


def objects(values: Sequence) -> np.ndarray:
    """A 1-d object array (lists stay elements, where np.array would make a 2-d array of them)."""
    return np.fromiter(values, dtype=object, count=len(values))


def from_columns(columns: Sequence[Sequence], schema: pa.Schema, order_by: Sequence[str] = (),
                 constants: dict[str, object] | None = None) -> pa.Table:
    """An Arrow table of `schema` from one sequence per field, sorted by `order_by` (byte order,
    nulls last: what `pa.Table.sort_by` gives). Fields named in `constants` take that one value
    on every row instead of a column."""
    constants = constants or {}
    fields = [f for f in schema if f.name not in constants]
    if len(columns) != len(fields):
        raise ValueError(f"{len(columns)} columns for the {len(fields)} fields of {[f.name for f in fields]}")
    con = cursor()
    try:
        con.register("cols", {f"c{i}": objects(c) for i, c in enumerate(columns)})
        index = {f.name: i for i, f in enumerate(fields)}
        select = ", ".join(f'?::{_SQL_TYPES[f.type]} AS "{f.name}"' if f.name in constants
                           else f'c{index[f.name]}::{_SQL_TYPES[f.type]} AS "{f.name}"' for f in schema)
        params = [constants[f.name] for f in schema if f.name in constants]
        order = f" ORDER BY {order_clause(order_by)}" if order_by else ""
        return conform(con.sql(f"SELECT {select} FROM cols{order}", params=params).to_arrow_table(), schema)
    finally:
        con.close()


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """`table.cast(schema)`, without it where the column types already match (DuckDB made them),
    as they almost always do: `Table.cast` imports pyarrow.compute, 25 ms of every CLI rebuild."""
    if table.column_names == schema.names and all(
            c.type == f.type for c, f in zip(table.columns, schema, strict=True)):
        return pa.Table.from_arrays(table.columns, schema=schema)
    return table.cast(schema)


def from_rows(rows: Sequence[Sequence], schema: pa.Schema, order_by: Sequence[str] = (),
              constants: dict[str, object] | None = None) -> pa.Table:
    columns = list(zip(*rows, strict=True)) if rows else [()] * (len(schema) - len(constants or {}))
    return from_columns(columns, schema, order_by, constants)


def order_clause(columns: Sequence[str]) -> str:
    """The ORDER BY terms the KG tables are sorted by: byte order, nulls last."""
    return ", ".join(f'"{c}" ASC NULLS LAST' for c in columns)


def register_keys(con: duckdb.DuckDBPyConnection, name: str, columns: Sequence[str], keys) -> None:
    """A view `name` of string key tuples (`columns`, one per tuple element) on a cursor: typed
    VARCHAR even when there are none, so joins against it bind."""
    rows = list(keys)
    con.register(f"{name}_rows", {c: objects([k[i] for k in rows]) for i, c in enumerate(columns)})
    con.execute(f"CREATE TEMP VIEW {name} AS SELECT {', '.join(f'{c}::VARCHAR AS {c}' for c in columns)} "
                f"FROM {name}_rows")
