"""Query results as text: an aligned table for people, CSV or JSON for programs.

Table cells longer than the width are cut with a visible ellipsis (never silently), control
characters are shown escaped (a path may hold a newline and would break the table), and wide
characters (CJK) count two columns. CSV and JSON carry every value whole.
"""

from __future__ import annotations

import csv
import json
import sys
import unicodedata
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    import pyarrow as pa

FORMATS = ("table", "csv", "json")
CELL_WIDTH = 60
ELLIPSIS = "…"
_ESCAPES = {c: repr(chr(c))[1:-1] for c in (*range(0x20), 0x7F)}


def write(table: pa.Table, fmt: str = "table", full: bool = False, out: TextIO | None = None,
          footer: str = "") -> None:
    out = out or sys.stdout
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(table.column_names)
        writer.writerows([_csv_value(v) for v in row.values()] for row in table.to_pylist())
    elif fmt == "json":
        json.dump(table.to_pylist(), out, ensure_ascii=False, default=str)
        out.write("\n")
    elif fmt == "table":
        out.write(text_table(table, None if full else CELL_WIDTH))
        n = table.num_rows
        out.write(f"({n} row{'s' if n != 1 else ''}{'; ' + footer if footer else ''})\n")
    else:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")


def text_table(table: pa.Table, width: int | None = CELL_WIDTH) -> str:
    """Aligned columns, numbers to the right; cells cut to `width` columns with an ellipsis."""
    import pyarrow as pa

    cols = table.column_names
    right = [pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t) for t in table.schema.types]
    rows = [[cell(h, width) for h in cols]]
    rows += [[cell(v, width) for v in row.values()] for row in table.to_pylist()]
    widths = [max(display_width(r[i]) for r in rows) for i in range(len(cols))]
    rows.insert(1, ["-" * w for w in widths])
    lines = []
    for r in rows:
        parts = [_pad(v, w, rj) for v, w, rj in zip(r, widths, right, strict=True)]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines) + "\n"


def cell(value, width: int | None) -> str:
    """A value as one line of at most `width` display columns (None: whole)."""
    text = "" if value is None else str(value)
    text = text.translate(_ESCAPES)
    if width is None or display_width(text) <= width:
        return text
    out, used = [], 0
    for ch in text:
        w = _char_width(ch)
        if used + w > width - 1:
            break
        out.append(ch)
        used += w
    return "".join(out) + ELLIPSIS


def display_width(text: str) -> int:
    return sum(_char_width(ch) for ch in text)


def _char_width(ch: str) -> int:
    if ch.isascii():
        return 1
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def _pad(text: str, width: int, right: bool) -> str:
    fill = " " * (width - display_width(text))
    return fill + text if right else text + fill


def _csv_value(value):
    return json.dumps(value, ensure_ascii=False, default=str) if isinstance(value, (list, dict)) else value
