"""A dataset manifest at a glance: lines for the shell, markdown for the Dagster UI."""

from __future__ import annotations

from graphmer_core.data.splits import SPLITS


def _share(x) -> str:
    return "-" if x is None else f"{x:.0%}"


def relation_rows(manifest: dict) -> list[tuple[str, int, int, str, str, str]]:
    """(relation, KG triples, placed, placed share, train/valid/test placed, in-window share)."""
    rows = []
    for rel, row in sorted(manifest["triples"].items(), key=lambda kv: -kv[1]["kg"]):
        per_split = "/".join(f"{row[s]['placed']:,}" for s in SPLITS)
        rows.append((rel, row["kg"], row["placed"], _share(row["placed_share_of_kg"]), per_split,
                     _share(manifest["in_window_share"].get(rel))))
    return rows


def text_summary(manifest: dict, path: str) -> str:
    t = manifest["triples_total"]
    lines = [f"dataset {manifest['dataset_version']}  (KG {manifest['kg_version']}, "
             f"vocab {manifest['tokenizer']['vocab_size']:,})"]
    for s in SPLITS:
        sp = manifest["splits"][s]
        lines.append(f"  {s:<5}  {sp['files']:>6,} files  {sp['tokens']:>11,} tokens  "
                     f"{sp['windows']:>8,} windows at R={manifest['leak_check']['roots']}")
    lines.append(f"  triples placed in windows: {t['placed']:,} of {t['kg']:,} in the KG "
                 f"({_share(t['placed_share_of_kg'])})")
    lines.append(f"  {'relation':<20} {'KG':>9} {'placed':>9} {'share':>6}  {'train/valid/test':>22} {'in-window':>9}")
    for rel, kg, placed, share, per_split, inw in relation_rows(manifest):
        lines.append(f"  {rel:<20} {kg:>9,} {placed:>9,} {share:>6}  {per_split:>22} {inw:>9}")
    leak = manifest["leak_check"]
    lines.append(f"  leak check: {leak['leaked_windows']} held-out windows repeat training windows")
    if manifest["skipped_files"]:
        lines.append(f"  skipped files: {len(manifest['skipped_files'])} (see manifest.json)")
    lines.append(f"  files: {path}")
    return "\n".join(lines)


def markdown_summary(manifest: dict) -> str:
    lines = [f"**Dataset {manifest['dataset_version']}** from KG `{manifest['kg_version']}`, "
             f"vocabulary {manifest['tokenizer']['vocab_size']:,}", "",
             "| split | files | tokens | windows |", "|---|---:|---:|---:|",
             *(f"| {s} | {manifest['splits'][s]['files']:,} | {manifest['splits'][s]['tokens']:,} | "
               f"{manifest['splits'][s]['windows']:,} |" for s in SPLITS), "",
             "| relation | KG triples | placed | share | train/valid/test | tail in window |",
             "|---|---:|---:|---:|---:|---:|",
             *(f"| {r} | {kg:,} | {p:,} | {sh} | {ps} | {iw} |" for r, kg, p, sh, ps, iw in relation_rows(manifest))]
    return "\n".join(lines)
