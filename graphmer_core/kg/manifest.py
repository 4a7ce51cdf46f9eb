"""The manifest of a KG version: what it holds, what it skipped and why, what changed."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from graphmer_core.artifacts import verify_checksums

if TYPE_CHECKING:  # pyarrow and DuckDB are imported where tables are made: a reused version needs neither
    import pyarrow as pa

    from graphmer_core.corpus.index import FileRecord

SCHEMA_VERSION = "1.0"
MANIFEST = "manifest.json"


def read_manifest(kg_dir: Path) -> dict:
    return json.loads((Path(kg_dir) / MANIFEST).read_text())


def verify(kg_dir: Path, names: tuple[str, ...] | None = None) -> dict:
    """Check the Parquet files of a KG version (all, or those named) against its manifest; return
    the manifest. Raises IntegrityError naming a file that changed."""
    manifest = read_manifest(kg_dir)
    expected = manifest["files_sha256"]
    verify_checksums(kg_dir, expected if names is None else {n: expected[n] for n in names})
    return manifest


def _counts(tables: dict[str, pa.Table], columns: dict[str, tuple[str, ...]]) -> dict[str, dict[str, int]]:
    """{"<table>_by_<column>": {value: rows}}, counted by DuckDB (pyarrow.compute's value_counts
    cost a rebuild 0.12 s of imports it needed for nothing else)."""
    from graphmer_core.kg.arrow import cursor

    out = {}
    con = cursor()
    try:
        for name, table in tables.items():
            con.register("tbl", table)
            for c in columns[name]:
                found = con.execute(f'SELECT "{c}", count(*) FROM tbl GROUP BY 1').fetchall()
                out[f"{name}_by_{c}"] = {str(v): int(n) for v, n in sorted(found, key=lambda x: str(x[0]))}
            con.unregister("tbl")
    finally:
        con.close()
    return out


def file_summary(records: list[FileRecord]) -> dict:
    by_status = Counter(r.status for r in records)
    problems = [
        {"corpus": r.corpus, "path": r.path, "status": r.status, "reason": r.reason}
        for r in records if r.status != "ok"
    ]
    return {
        "seen": len(records),
        "by_status": dict(sorted(by_status.items())),
        "bytes": sum(r.size_bytes for r in records if r.status in ("ok", "partial")),
        "not_ok": problems,
    }


def table_summary(entities: pa.Table, triples: pa.Table) -> dict:
    return {
        "entities": entities.num_rows,
        "triples": triples.num_rows,
        **_counts({"entities": entities, "triples": triples},
                  {"entities": ("kind", "language"), "triples": ("relation", "language", "resolution")}),
    }


def changes(previous_dir: Path | None, triples: pa.Table) -> dict | None:
    """Triples added and removed per relation since the previous promoted version. One outer join
    on the key (unique in both: the tables are deduplicated), half the time of EXCEPT both ways."""
    if previous_dir is None or not (previous_dir / "triples.parquet").exists():
        return None
    verify(previous_dir, ("triples.parquet",))
    from graphmer_core.kg.arrow import cursor

    con = cursor()
    con.register("new", triples.select(["head_id", "relation", "tail_id"]))
    old = (previous_dir / "triples.parquet").as_posix()
    with con:
        rows = con.execute("""
            SELECT coalesce(n.relation, o.relation), count(*) FILTER (WHERE o.old IS NULL),
                   count(*) FILTER (WHERE n.new IS NULL)
            FROM (SELECT *, true AS new FROM new) n
            FULL JOIN (SELECT head_id, relation, tail_id, true AS old FROM read_parquet(?)) o
                ON n.head_id IS NOT DISTINCT FROM o.head_id AND n.relation IS NOT DISTINCT FROM o.relation
                   AND n.tail_id IS NOT DISTINCT FROM o.tail_id
            WHERE n.new IS NULL OR o.old IS NULL GROUP BY 1 ORDER BY 1
        """, [old]).fetchall()
    return {
        "previous_kg_version": previous_dir.name,
        "by_relation": {rel: {"added": int(a), "removed": int(r)} for rel, a, r in rows},
        "added": int(sum(a for _, a, _ in rows)),
        "removed": int(sum(r for _, _, r in rows)),
    }


def resolve_summary(resolve: dict[str, Any]) -> str:
    """A manifest's `resolve` section in a line: "re-resolved 4 of 33 file(s) (java:jfx: Circle.java,
    Renderer.java, Sorter.java, ...)", "re-resolved 3,091 of 3,091 file(s) in 2 processes"."""
    total = resolve["resolved_files"] + resolve["reused_files"]
    shown = [f"{group}: {', '.join(p.rpartition('/')[2] for p in g['resolved_paths'][:3])}"
             + (", ..." if g["resolved"] > 3 else "")
             for group, g in resolve["groups"].items() if g.get("resolved_paths")]
    listed = f" ({'; '.join(shown)})" if shown else ""
    pooled = max((g.get("workers", 1) for g in resolve["groups"].values()), default=1)  # absent before it was kept
    processes = f" in {pooled} processes" if pooled > 1 else ""
    return f"re-resolved {resolve['resolved_files']:,} of {total:,} file(s){processes}{listed}"


def files_markdown(summary: dict, limit: int = 50) -> str:
    """A file_summary() as markdown: counts by status, then every file that is not ok, with its reason."""
    lines = [f"Files: {summary['seen']:,} seen; "
             + ", ".join(f"{n:,} {s}" for s, n in summary["by_status"].items())]
    if summary["not_ok"]:
        lines += ["", "| file | status | reason |", "|---|---|---|",
                  *(f"| {p['corpus']}:{p['path']} | {p['status']} | {p['reason']} |"
                    for p in summary["not_ok"][:limit])]
        if len(summary["not_ok"]) > limit:
            lines.append(f"\n... and {len(summary['not_ok']) - limit:,} more")
    return "\n".join(lines)


def markdown_summary(manifest: dict) -> str:
    """A KG version at a glance, for the Dagster UI."""
    files = manifest["files"]
    lines = [
        f"**KG {manifest['kg_version']}** from " + ", ".join(f"`{c['name']}`" for c in manifest["corpora"]),
        "",
        "| relation | triples |", "|---|---:|",
        *(f"| {r} | {n:,} |" for r, n in sorted(manifest["triples_by_relation"].items(), key=lambda kv: -kv[1])),
        "",
        "| kind | entities |", "|---|---:|",
        *(f"| {k} | {n:,} |" for k, n in sorted(manifest["entities_by_kind"].items(), key=lambda kv: -kv[1])),
    ]
    lines += ["", files_markdown(files)]
    if manifest.get("changes"):
        ch = manifest["changes"]
        lines += ["", f"Since `{ch['previous_kg_version']}`: +{ch['added']:,} / -{ch['removed']:,} triples"]
    return "\n".join(lines)
