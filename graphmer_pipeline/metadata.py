"""How results read in the Dagster UI: tables with a schema (sortable, not JSON blocks) and bar
charts embedded as PNG images, so a person sees the gates and the KG's shape without a query."""

import base64
import io
from collections.abc import Iterable, Mapping
from pathlib import Path

import dagster as dg

GATE_SCHEMA = dg.TableSchema(columns=[
    dg.TableColumn("suite", description="the suite (or check) the rule belongs to"),
    dg.TableColumn("rule", description="what must hold"),
    dg.TableColumn("threshold", description="the limit it is held to"),
    dg.TableColumn("observed", description="what this version shows"),
    dg.TableColumn("result", description="pass or FAIL"),
])


def gate_table(rows: Iterable[Mapping]) -> dg.TableMetadataValue:
    """Rows of suite, rule, threshold, observed and passed as a table; failures first."""
    rows = sorted(rows, key=lambda r: bool(r["passed"]))
    return dg.MetadataValue.table([dg.TableRecord({
        "suite": str(r.get("suite", "")), "rule": str(r["rule"]), "threshold": str(r["threshold"]),
        "observed": str(r["observed"]), "result": "pass" if r["passed"] else "FAIL"}) for r in rows], GATE_SCHEMA)


def counts_table(counts: Mapping[str, int], key: str, value: str = "count") -> dg.TableMetadataValue:
    """A {name: count} mapping as a two-column table, largest first."""
    schema = dg.TableSchema(columns=[dg.TableColumn(key), dg.TableColumn(value, "int")])
    return dg.MetadataValue.table([dg.TableRecord({key: str(k), value: int(n)})
                                   for k, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))], schema)


def png_markdown(image: Path | bytes, title: str) -> str:
    """An image inlined as a data URL, so it shows in the metadata without a file server."""
    data = image.read_bytes() if isinstance(image, Path) else image
    return f"![{title}](data:image/png;base64,{base64.b64encode(data).decode()})"


def stacked_bars(counts: Mapping[tuple[str, str], int], title: str, xlabel: str) -> str:
    """Horizontal bars per first key, stacked by second key (say, triples per relation by
    resolution), as Markdown with the PNG inlined."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bars = sorted({a for a, _ in counts}, key=lambda a: sum(n for (x, _), n in counts.items() if x == a))
    stacks = sorted({b for _, b in counts}, key=lambda b: -sum(n for (_, y), n in counts.items() if y == b))
    fig, ax = plt.subplots(figsize=(9, 0.3 * len(bars) + 1.4), dpi=90)
    left = [0] * len(bars)
    for b in stacks:
        widths = [counts.get((a, b), 0) for a in bars]
        ax.barh(bars, widths, left=left, label=b)
        left = [x + w for x, w in zip(left, widths, strict=True)]
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return png_markdown(buf.getvalue(), title)


def parquet_chart(kg_dir: Path, manifest: dict, table: str, columns: tuple[str, str]) -> dg.MarkdownMetadataValue:
    """Rows of a KG table counted per (first, second) column, as stacked bars; the Parquet file is
    checked against the sha256 in the version's manifest first (IntegrityError naming it)."""
    import pyarrow.parquet as pq

    from graphmer_core.artifacts import verify_checksums

    path = Path(kg_dir) / f"{table}.parquet"
    verify_checksums(kg_dir, {path.name: manifest["files_sha256"][path.name]})
    a, b = columns
    rows = pq.read_table(path, columns=[a, b]).group_by([a, b]).aggregate([([], "count_all")]).to_pylist()
    return dg.MetadataValue.md(stacked_bars({(r[a], r[b]): r["count_all"] for r in rows},
                                            f"{table.capitalize()} per {a}, by {b}", table))
