"""KG tables on disk: staged Parquet, atomic promotion, the current pointer, the DuckDB catalogue.

Every write here happens under the lake's writer lock, and every step leaves a readable lake if the
process dies right after it: staging writes a dot-named temp folder (swept by the next build), a
promotion moves the version folder, then the pointer, then rebuilds the catalogue and records
which version the catalogue shows, so a build that finds them out of step repairs them.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from graphmer_core.artifacts import atomic_path, sha256_file, write_json_atomic
from graphmer_core.faults import crash_point
from graphmer_core.kg import arrow, schemas
from graphmer_core.kg.manifest import MANIFEST, read_manifest, verify  # noqa: F401 - the store's API too
from graphmer_core.lake import Lake, write_pointer

TABLES = ("entities", "triples", "files", "validation")
ENTITY_ORDER = ["entity_id"]
TRIPLE_ORDER = ["relation", "head_id", "tail_id"]


# Column positions in the row tuples of `Resolved` (the schema order).
_E = {name: i for i, name in enumerate(schemas.ENTITIES.names)}
_T = {name: i for i, name in enumerate(schemas.TRIPLES.names)}


def dedup_entities(rows: Iterable[tuple]) -> pa.Table:
    """One row per entity_id: the definition seen first (by path, line); specific kinds beat ExternalSymbol."""
    return arrow.from_rows(list(_best_entities(rows).values()), schemas.ENTITIES, order_by=ENTITY_ORDER)


def _best_entities(rows: Iterable[tuple]) -> dict[str, tuple]:
    best: dict[str, tuple] = {}
    for r in rows:
        cur = best.setdefault(r[0], r)
        if cur is not r and _entity_rank(r) < _entity_rank(cur):
            best[r[0]] = r
    return best


def _entity_rank(r: tuple, path=_E["path"], line=_E["start_line"], kind=_E["kind"]) -> tuple:
    return (r[path] is None, r[path] or "", r[line] or 0, r[kind] == "ExternalSymbol", r[kind])


def dedup_triples(rows: Iterable[tuple], kg_version: str) -> pa.Table:
    """One row per (head, relation, tail), carrying its first evidence (path, line) and resolution."""
    return arrow.from_rows(list(_best_triples(rows).values()), schemas.TRIPLES, order_by=TRIPLE_ORDER,
                           constants={"kg_version": kg_version})


def _best_triples(rows: Iterable[tuple]) -> dict[tuple[str, str, str], tuple]:
    best: dict[tuple[str, str, str], tuple] = {}
    path, line = _T["path"], _T["line"]
    for r in rows:
        key = r[:3]
        cur = best.setdefault(key, r)
        if cur is not r and ((r[path] is None, r[path] or "", r[line] or 0)
                             < (cur[path] is None, cur[path] or "", cur[line] or 0)):
            best[key] = r
    return best


def changed_keys(previous: dict[tuple[str, str], Any], fresh: dict[tuple[str, str], Any]
                 ) -> tuple[set[str], set[tuple]]:
    """The entity ids and triple keys whose rows a source changed: of the sources in `previous`
    (their rows in the last build) and `fresh` (their rows now; both incremental.ResolveCache's),
    every key of one found on one side only, and the keys whose rows a source emits otherwise now
    (other rows, or in another order). A re-resolved file that emits what it did (most of those a
    signature edit reaches) changes no key."""
    entities: set[str] = set()
    triples: set[tuple] = set()
    for source in previous.keys() | fresh.keys():
        old, new = previous.get(source), fresh.get(source)
        if old is None or new is None:
            rows = old if new is None else new
            entities.update(r[0] for r in rows.entities)
            triples.update(r[:3] for r in rows.triples)
        else:
            entities |= _changed(old.entities, new.entities, lambda r: r[0])
            triples |= _changed(old.triples, new.triples, lambda r: r[:3])
    return entities, triples


def _changed(old: list[tuple], new: list[tuple], key) -> set:
    if old == new:
        return set()
    rows: dict[Any, list[list[tuple]]] = {}
    for side, found in enumerate((old, new)):
        for r in found:
            rows.setdefault(key(r), [[], []])[side].append(r)
    return {k for k, (a, b) in rows.items() if a != b}


class Patch:
    """The tables of the previous version, with the rows of the keys a change reached chosen again.

    `affected` holds every entity id and triple key whose rows a source changed since that version
    (`changed_keys`). Every other key has the same rows, from the same sources in the same order,
    so it keeps the row it had; an affected key takes the best of all of this build's rows for it,
    as dedup_* would choose, or leaves the table. The result is the table dedup_* makes, sorted the
    same way, for the cost of reading the previous Parquet and converting the affected rows, where
    dedup_* converts all."""

    def __init__(self, previous: Previous, affected_entities: set[str], affected_triples: set[tuple]):
        self.previous = previous.tables()  # IntegrityError where that version does not check
        self.previous_dir = previous.dir
        self.affected_entities, self.affected_triples = affected_entities, affected_triples
        self.changes: dict | None = None  # the manifest's `changes`, known once triples() ran

    def entities(self, rows: Iterable[tuple]) -> pa.Table:
        best = _best_entities(r for r in rows if r[0] in self.affected_entities)
        new = arrow.from_rows(list(best.values()), schemas.ENTITIES, order_by=ENTITY_ORDER)
        prev = self.previous["entities"]
        affected = {(k,) for k in self.affected_entities}
        merged = _merge(prev, ENTITY_ORDER, affected, new) or _sorted_union(prev, ENTITY_ORDER, affected, new)
        return arrow.conform(merged[0], schemas.ENTITIES)

    def triples(self, rows: Iterable[tuple], kg_version: str) -> pa.Table:
        affected, heads = self.affected_triples, {k[0] for k in self.affected_triples}
        best = _best_triples(r for r in rows if r[0] in heads and r[:3] in affected)  # no slice per row
        new = arrow.from_rows(list(best.values()), schemas.TRIPLES, order_by=TRIPLE_ORDER,
                              constants={"kg_version": kg_version})
        prev = self.previous["triples"]
        affected = {(r, h, t) for h, r, t in self.affected_triples}  # in TRIPLE_ORDER
        out, before = _merge(prev, TRIPLE_ORDER, affected, new) or _sorted_union(prev, TRIPLE_ORDER, affected, new)
        before = {(h, r, t) for r, h, t in before}
        self.changes = _changes(self.previous_dir.name, set(best) - before, before - set(best))
        return arrow.conform(out, schemas.TRIPLES)

    def violations(self, entities: pa.Table, triples: pa.Table) -> pa.Table:
        """validation.validate of the patched tables, from the previous version's violations
        (validation.revalidate) where it can; after triples()."""
        from graphmer_core.kg import validation

        if len(self.affected_triples) > REVALIDATE_MAX_SHARE * triples.num_rows:
            return validation.validate(entities, triples)  # a scope that large costs more than the whole
        previous = self.previous["validation"]
        changed = {rel for rel, n in self.changes["by_relation"].items() if n["added"] or n["removed"]}
        again = validation.revalidate(entities, triples, previous, self.affected_entities, self.affected_triples,
                                      changed)
        return again if again is not None else validation.validate(entities, triples)


class Previous:
    """The tables of the version a rebuild may patch (the current one), verified and read on a
    thread from the end of parsing: DuckDB leaves the GIL while it reads, so the reads overlap the
    resolution, which holds it. The triples take this build's `kg_version` as they are read."""

    def __init__(self, kg_dir: Path, kg_version: str):
        self.dir = kg_dir
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="graphmer-previous")
        self._tables = self._pool.submit(self._read, kg_version)

    def _read(self, kg_version: str) -> dict[str, pa.Table]:
        from graphmer_core.kg.validation import VIOLATIONS

        verify(self.dir, ("entities.parquet", "triples.parquet", "validation.parquet"))
        return {"entities": _read(self.dir / "entities.parquet", schemas.ENTITIES),
                "triples": _read(self.dir / "triples.parquet", schemas.TRIPLES, kg_version=kg_version),
                "validation": _read(self.dir / "validation.parquet", VIOLATIONS)}

    def tables(self) -> dict[str, pa.Table]:
        """The tables, once read (the error reading them raised here)."""
        return self._tables.result()

    def close(self) -> None:
        """Wait for the reads, used or not, and their thread: a build leaves none behind."""
        self._pool.shutdown(wait=True)


REVALIDATE_MAX_SHARE = 0.05  # of the triples affected, past which the whole graph is validated again
MERGE_MAX = 4096  # affected keys past which the patched table is sorted whole (fewer, larger chunks)


def _read(path: Path, schema: pa.Schema, kg_version: str | None = None) -> pa.Table:
    """A table of the previous version, read by DuckDB (pyarrow's first read_table in a process
    costs a second of imports), with `kg_version` in that column if given (made by DuckDB too:
    a pyarrow scalar would import pandas, 0.3 s, see kg/arrow.py)."""
    con = arrow.cursor()
    select, params = ("* REPLACE (?::VARCHAR AS kg_version)", [kg_version]) if kg_version is not None else ("*", [])
    try:
        return arrow.conform(con.sql(f"SELECT {select} FROM read_parquet({arrow.sql_string(path.as_posix())})",
                                     params=params).to_arrow_table(), schema)
    finally:
        con.close()


def _merge(prev: pa.Table, order: list[str], affected: set[tuple], new: pa.Table
           ) -> tuple[pa.Table, set[tuple]] | None:
    """`prev`, sorted by `order` with unique keys, without the rows of the `affected` keys and with
    the rows of `new` (sorted, keys among the affected) in their places: zero-copy slices of `prev`
    around each change, found by binary search (Python compares str by code point, which is the
    byte order of UTF-8 that the tables are sorted in). Also the affected keys `prev` held. None
    where a key column holds a null or too many keys changed: then `_sorted_union`."""
    cols = [prev.column(c) for c in order]
    if len(affected) > MERGE_MAX or any(c.null_count for c in cols) or any(None in k for k in affected):
        return None
    cols = [c.chunk(0) if c.num_chunks == 1 else c for c in cols]  # an Array's items are read faster
    n = prev.num_rows

    def before(i: int, k: tuple) -> bool:  # key(i) < k, reading a column only while they tie
        for c, part in zip(cols, k, strict=True):
            v = c[i].as_py()
            if v != part:
                return v < part
        return False

    def bisect(k: tuple, lo: int) -> int:
        hi = n
        while lo < hi:
            mid = (lo + hi) // 2
            if before(mid, k):
                lo = mid + 1
            else:
                hi = mid
        return lo

    found, lo = {}, 0
    for k in sorted(affected):  # each search starts where the last one ended
        lo = bisect(k, lo)
        if lo < n and not before(lo, k) and all(c[lo].as_py() == part for c, part in zip(cols, k, strict=True)):
            found[lo] = k
    new_keys = list(zip(*(new.column(c).to_pylist() for c in order), strict=True)) if new.num_rows else []
    inserts: dict[int, list[int]] = {}
    lo = 0
    for j, k in enumerate(new_keys):  # sorted, as `new` is
        lo = bisect(k, lo)
        inserts.setdefault(lo, []).append(j)
    pieces, at = [], 0
    for i in sorted(found.keys() | inserts.keys()):
        pieces.append(prev.slice(at, i - at))
        for j in inserts.get(i, ()):
            pieces.append(new.slice(j, 1))
        at = i + 1 if i in found else i
    pieces.append(prev.slice(at))
    return pa.concat_tables([p for p in pieces if p.num_rows] or [prev.slice(0, 0)]), set(found.values())


def _sorted_union(prev: pa.Table, order: list[str], affected: set[tuple], new: pa.Table
                  ) -> tuple[pa.Table, set[tuple]]:
    """What `_merge` gives, by a DuckDB anti join and a sort of the whole table."""
    con = arrow.cursor()
    try:
        con.register("prev", prev)
        con.register("new", new)
        arrow.register_keys(con, "aff", order, affected)
        same = " AND ".join(f"prev.{c} IS NOT DISTINCT FROM aff.{c}" for c in order)
        before = set(con.sql(f"SELECT {', '.join(f'prev.{c}' for c in order)} FROM prev SEMI JOIN aff ON {same}"
                             ).fetchall())
        out = con.sql(f"SELECT * FROM prev ANTI JOIN aff ON {same} UNION ALL SELECT * FROM new "
                      f"ORDER BY {arrow.order_clause(order)}").to_arrow_table()
    finally:
        con.close()
    return out, before


def _changes(previous: str, added: set[tuple], removed: set[tuple]) -> dict:
    """manifest.changes() from the keys added and removed."""
    by_relation: dict = {}
    for side, keys in (("added", added), ("removed", removed)):
        for _, relation, _ in keys:
            by_relation.setdefault(relation, {"added": 0, "removed": 0})[side] += 1
    return {"previous_kg_version": previous,
            "by_relation": dict(sorted(by_relation.items(), key=lambda kv: (kv[0] is None, kv[0] or ""))),
            "added": len(added), "removed": len(removed)}


# DuckDB reads a Parquet file's row groups in parallel, one per thread: in pyarrow's default (1M
# rows) java.base's 349k triples were one group, read by one core, in the gates and the next
# rebuild. In groups of 50k rows they read in 0.044 s instead of 0.099, and their size is the same.
ROW_GROUP_ROWS = 50_000


def write_parquet(table: pa.Table, path: Path) -> str:
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd", row_group_size=ROW_GROUP_ROWS)
    return sha256_file(path)


class Stager:
    """Writes a KG version under staging/: a temp folder, renamed whole by `finish`.

    Each table is written (and hashed) on a thread as soon as it exists, while the caller goes on
    to the next one: Arrow's Parquet writer, hashlib and DuckDB all release the GIL, so the writes
    overlap the validation queries. Leaving the block without `finish` removes the temp folder.
    """

    def __init__(self, lake: Lake, kg_version: str):
        self.lake = lake
        self.final = lake.staged_dir(kg_version)
        self.tmp = lake.staging / f".{kg_version}.{os.getpid()}.partial"
        self._pool = ThreadPoolExecutor(len(TABLES) + 1)  # a write per table, and one table made
        self._digests: dict[str, Future] = {}
        self._lock = lake.lock(f"staging KG {kg_version}")

    def __enter__(self) -> Stager:
        self._lock.__enter__()
        try:
            sweep_staging(self.lake)
            self.tmp.mkdir(parents=True)
        except BaseException:
            self._lock.__exit__(None, None, None)
            raise
        return self

    def write(self, name: str, table: pa.Table) -> None:
        self._digests[f"{name}.parquet"] = self._pool.submit(write_parquet, table, self.tmp / f"{name}.parquet")

    def run(self, fn, *args) -> Future:
        """`fn(*args)` on the writers' threads (a table still to be made)."""
        return self._pool.submit(fn, *args)

    def finish(self, manifest: dict) -> Path:
        """Wait for the tables, write the manifest with their sha256, and move the folder into place."""
        checksums = {name: digest.result() for name, digest in self._digests.items()}
        crash_point("kg.stage")  # tables written, no manifest, not renamed
        write_json_atomic(self.tmp / MANIFEST, {**manifest, "files_sha256": checksums})
        shutil.rmtree(self.final, ignore_errors=True)
        os.replace(self.tmp, self.final)
        return self.final

    def __exit__(self, *exc) -> None:
        try:
            self._pool.shutdown(wait=True, cancel_futures=True)
            shutil.rmtree(self.tmp, ignore_errors=True)  # gone already after finish()
        finally:
            self._lock.__exit__(None, None, None)


def sweep_staging(lake: Lake) -> list[Path]:
    """Remove what killed writers left (their temp folders under staging/ and kg/, temp catalogues).
    Called under the lake lock, when no other writer can be midway."""
    found = [p for root in (lake.staging, lake.kg_root) if root.is_dir()
             for p in root.iterdir() if p.name.startswith(".") and p.name.endswith((".partial", ".tmp", ".deleting"))]
    found += [p for p in lake.root.glob(f".{lake.catalog.name}.*.tmp*")] if lake.root.is_dir() else []
    for p in found:
        shutil.rmtree(p) if p.is_dir() else p.unlink(missing_ok=True)
    return found


def promote(lake: Lake, kg_version: str) -> Path:
    """Move a staged version into kg/ and switch the current pointer; the old version stays on disk."""
    with lake.lock(f"promoting KG {kg_version}"):
        staged, final = lake.staged_dir(kg_version), lake.kg_dir(kg_version)
        if staged.exists():
            manifest = verify(staged)
            final.parent.mkdir(parents=True, exist_ok=True)
            if final.exists():
                shutil.rmtree(staged)
            else:
                os.replace(staged, final)
        elif final.exists():
            manifest = verify(final)
        else:
            raise FileNotFoundError(f"KG version {kg_version} is neither staged nor promoted under {lake.root}")
        crash_point("kg.promote.moved")  # in kg/, not yet current
        write_pointer(lake.current_pointer, kg_version)
        crash_point("kg.promote.pointed")  # current, the catalogue still over the previous version
        refresh_catalog(lake, manifest)
        return final


def catalog_is_current(lake: Lake) -> bool:
    """Whether graphmer.duckdb exists and shows the current version (cheap: two small files)."""
    current = lake.current_version()
    return current is not None and lake.catalog_version() == current


def refresh_catalog(lake: Lake, verified: dict | None = None) -> Path:
    """Rebuild graphmer.duckdb: views over the current version's Parquet files (absolute paths).
    `verified` is the current version's manifest when its files were just checked against it."""
    with lake.lock("refreshing the catalogue"):
        return _refresh_catalog(lake, verified)


def _refresh_catalog(lake: Lake, verified: dict | None) -> Path:
    current = lake.current_dir()
    if current is None:
        raise FileNotFoundError(f"no promoted KG under {lake.root}: build one first")
    manifest = verified if verified is not None else verify(current)
    with atomic_path(lake.catalog) as tmp:
        tmp.unlink()  # duckdb creates its own file
        con = duckdb.connect(str(tmp))
        try:
            for name in TABLES:
                f = current / f"{name}.parquet"
                if f.exists():
                    con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet({arrow.sql_string(f.as_posix())})")
            con.execute("CREATE TABLE kg_info AS SELECT ? AS kg_version, ? AS kg_dir, ? AS manifest",
                        [manifest["kg_version"], str(current), json.dumps(manifest)])
        finally:
            con.close()
    write_pointer(lake.catalog_pointer, manifest["kg_version"])
    return lake.catalog


def query(lake: Lake, sql: str) -> pa.Table:
    if not lake.catalog.exists():
        raise FileNotFoundError(f"no catalogue at {lake.catalog}: run `graphmer build-kg` first")
    shown = lake.catalog_version()
    if shown is not None:  # the files the views read, checked against their manifest on every query
        verify(lake.kg_dir(shown))
    con = duckdb.connect(str(lake.catalog), read_only=True)
    try:
        return con.sql(sql).to_arrow_table()
    finally:
        con.close()
