"""Ontology checks on a KG, returning every violation as a row (never just a boolean).

Kinds are taken from the entity table, not from what the extractor assumed when it emitted a
triple, so a resolver bug shows up here as a domain/range violation.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from graphmer_core.kg import ontology
from graphmer_core.kg.arrow import cursor, from_columns, objects

VIOLATIONS = pa.schema([
    ("rule", pa.string()),
    ("relation", pa.string()),
    ("head_id", pa.string()),
    ("tail_id", pa.string()),
    ("entity_ids", pa.list_(pa.string())),  # all offending ids (a cycle's members, say)
    ("detail", pa.string()),
])

RULES = ("null", "unknown_relation", "unknown_kind", "unknown_resolution", "duplicate", "dangling",
         "domain_range", "antisymmetry", "cycle", "container_count")
# Kinds that must sit in exactly one container; packages and modules may be roots.
MUST_BE_CONTAINED = tuple(k for k in ontology.INTERNAL_KINDS if k not in (ontology.PACKAGE, ontology.MODULE))

ENTITY_REQUIRED = ("entity_id", "kind", "name", "qualified_name", "language", "corpus")
TRIPLE_REQUIRED = ("head_id", "relation", "tail_id", "language", "corpus", "resolution")


def register_ontology(con: duckdb.DuckDBPyConnection) -> None:
    """The ontology as tables: allowed, relations, kinds, resolutions."""
    allowed = [(r.name, h, t) for r in ontology.RELATIONS.values() for h in r.domain for t in r.range]
    con.register("allowed", {name: objects([a[i] for a in allowed])
                             for i, name in enumerate(("relation", "head_kind", "tail_kind"))})
    con.register("relations", {"relation": objects(list(ontology.RELATIONS)),
                               "antisymmetric": objects([r.antisymmetric for r in ontology.RELATIONS.values()])})
    con.register("kinds", {"kind": objects(list(ontology.ENTITY_KINDS))})
    con.register("resolutions", {"resolution": objects(list(ontology.RESOLUTIONS))})


def _sql_violations(con: duckdb.DuckDBPyConnection) -> pa.Table:
    null_e = " OR ".join(f"{c} IS NULL" for c in ENTITY_REQUIRED)
    null_t = " OR ".join(f"{c} IS NULL" for c in TRIPLE_REQUIRED)
    contained = ", ".join(f"'{k}'" for k in MUST_BE_CONTAINED)
    return con.sql(f"""
        WITH ek AS MATERIALIZED (SELECT entity_id, any_value(kind) AS kind FROM entities GROUP BY 1),
        -- every triple with its end kinds (NULL: no such entity), joined once for two rules
        tk AS MATERIALIZED (SELECT t.relation, t.head_id, t.tail_id, h.kind AS head_kind, tl.kind AS tail_kind
            FROM triples t LEFT JOIN ek h ON t.head_id = h.entity_id LEFT JOIN ek tl ON t.tail_id = tl.entity_id)
        SELECT 'null', NULL, NULL, NULL, [entity_id], 'entity with a null required column'
            FROM entities WHERE {null_e}
        UNION ALL SELECT 'null', relation, head_id, tail_id, [head_id, tail_id],
            'triple with a null required column' FROM triples WHERE {null_t}
        UNION ALL SELECT 'unknown_relation', relation, head_id, tail_id, [head_id, tail_id],
            'relation ' || relation || ' is not in the ontology'
            FROM triples WHERE relation NOT IN (SELECT relation FROM relations)
        UNION ALL SELECT 'unknown_kind', NULL, NULL, NULL, [entity_id], 'kind ' || kind || ' is not in the ontology'
            FROM entities WHERE kind NOT IN (SELECT kind FROM kinds)
        UNION ALL SELECT 'unknown_resolution', relation, head_id, tail_id, [head_id, tail_id],
            'resolution ' || resolution || ' is unknown'
            FROM triples WHERE resolution NOT IN (SELECT resolution FROM resolutions)
        UNION ALL SELECT 'duplicate', relation, head_id, tail_id, [head_id, tail_id],
            count(*)::VARCHAR || ' rows for one (head, relation, tail)'
            FROM triples GROUP BY relation, head_id, tail_id HAVING count(*) > 1
        UNION ALL SELECT 'duplicate', NULL, NULL, NULL, [entity_id], count(*)::VARCHAR || ' rows for one entity_id'
            FROM entities GROUP BY entity_id HAVING count(*) > 1
        UNION ALL SELECT 'dangling', relation, head_id, tail_id, [head_id, tail_id],
            CASE WHEN head_kind IS NULL THEN 'head' ELSE 'tail' END || ' is not in entities'
            FROM tk WHERE head_kind IS NULL OR tail_kind IS NULL
        UNION ALL SELECT 'domain_range', t.relation, t.head_id, t.tail_id, [t.head_id, t.tail_id],
            t.head_kind || ' -' || t.relation || '-> ' || t.tail_kind || ' is outside the relation''s domain/range'
            FROM tk t LEFT JOIN allowed a
                ON a.relation = t.relation AND a.head_kind = t.head_kind AND a.tail_kind = t.tail_kind
            WHERE t.head_kind IS NOT NULL AND t.tail_kind IS NOT NULL AND a.relation IS NULL
              AND t.relation IN (SELECT relation FROM relations)
        UNION ALL SELECT 'antisymmetry', a.relation, a.head_id, a.tail_id, [a.head_id, a.tail_id],
            CASE WHEN a.head_id = a.tail_id THEN 'self-loop' ELSE 'both directions present' END
            FROM triples a JOIN triples b ON a.relation = b.relation
                AND a.head_id = b.tail_id AND a.tail_id = b.head_id
            WHERE a.head_id <= a.tail_id
              AND a.relation IN (SELECT relation FROM relations WHERE antisymmetric)
        UNION ALL SELECT 'container_count', 'contains', NULL, e.entity_id, [e.entity_id],
            coalesce(c.n, 0)::VARCHAR || ' containers (expected exactly 1)'
            FROM ek e LEFT JOIN (SELECT tail_id, count(DISTINCT head_id) n FROM triples
                                 WHERE relation = 'contains' GROUP BY 1) c ON c.tail_id = e.entity_id
            WHERE (e.kind IN ({contained}) AND coalesce(c.n, 0) != 1) OR coalesce(c.n, 0) > 1
    """).to_arrow_table()


def _cycles(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Every cycle (strongly connected component, or self-loop) of each acyclic relation."""
    out = []
    for rel in (r for r in ontology.RELATIONS.values() if r.acyclic):
        edges = _cycle_candidates(con.sql("SELECT head_id, tail_id FROM triples WHERE relation = ?",
                                          params=[rel.name]).to_arrow_table())
        pairs = zip(edges["head_id"].to_pylist(), edges["tail_id"].to_pylist(), strict=True)
        for members in strongly_connected(pairs):
            out.append({"rule": "cycle", "relation": rel.name, "head_id": members[0],
                        "tail_id": members[-1] if len(members) > 1 else members[0],
                        "entity_ids": members,
                        "detail": f"{rel.name} cycle through {len(members)} entities: " + " -> ".join(members)})
    return out


def _cycle_candidates(edges: pa.Table) -> pa.Table:
    """The edges left after peeling, in Arrow, every edge out of a node nothing points to or into a
    node that points nowhere: they lie on no cycle. A tree (contains) peels away completely, one
    level per pass, so the Python search below only sees what may really be a cycle."""
    import pyarrow.compute as pc

    while edges.num_rows:
        heads, tails = edges["head_id"], edges["tail_id"]
        keep = pc.and_(pc.is_in(heads, value_set=pc.unique(tails)), pc.is_in(tails, value_set=pc.unique(heads)))
        if pc.all(keep).as_py():
            break
        edges = edges.filter(keep)
    return edges


def strongly_connected(edges: list[tuple[str, str]]) -> list[list[str]]:
    """Components of size > 1, and self-loops, of a directed graph (iterative Tarjan)."""
    graph: dict[str, list[str]] = {}
    loops = set()
    for h, t in edges:
        graph.setdefault(h, []).append(t)
        graph.setdefault(t, [])
        if h == t:
            loops.add(h)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(graph[start]))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph[child])))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    comp.append(member)
                    if member == node:
                        break
                if len(comp) > 1 or node in loops:
                    found.append(sorted(comp))
    return sorted(found)


def validate(entities: pa.Table, triples: pa.Table) -> pa.Table:
    """All violations of the ontology's rules, one row each (see RULES)."""
    con = cursor()
    try:
        con.register("entities", entities)
        con.register("triples", triples)
        register_ontology(con)
        sql = _sql_violations(con).rename_columns(VIOLATIONS.names).cast(VIOLATIONS)
        cycles = _cycles(con)
    finally:
        con.close()
    cycles = from_columns([[c[n] for c in cycles] for n in VIOLATIONS.names], VIOLATIONS)
    return pa.concat_tables([sql, cycles]).sort_by([("rule", "ascending"), ("relation", "ascending"),
                                                    ("head_id", "ascending"), ("tail_id", "ascending")])


def rates(violations: pa.Table, entities: pa.Table, triples: pa.Table) -> dict:
    """Violation counts per rule and the shares the quality gates read."""
    rules, relations = violations["rule"].to_pylist(), violations["relation"].to_pylist()
    counts = {rule: 0 for rule in RULES}
    for rule in rules:
        counts[rule] = counts.get(rule, 0) + 1
    n = max(triples.num_rows, 1)
    return {
        "violations_by_rule": counts,
        "domain_range_valid_share": 1.0 - counts["domain_range"] / n,
        "dangling_share": counts["dangling"] / n,
        "inheritance_cycles": sum(rule == "cycle" and rel in ("inherits_from", "implements")
                                  for rule, rel in zip(rules, relations, strict=True)),
    }
