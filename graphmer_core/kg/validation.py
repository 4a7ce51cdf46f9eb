"""Ontology checks on a KG, returning every violation as a row (never just a boolean).

Kinds are taken from the entity table, not from what the extractor assumed when it emitted a
triple, so a resolver bug shows up here as a domain/range violation.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from graphmer_core.kg import ontology
from graphmer_core.kg.arrow import conform, cursor, from_columns, objects, order_clause, register_keys

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


def _sql_violations(con: duckdb.DuckDBPyConnection, ent: str = "entities", tri: str = "triples") -> pa.Table:
    """The violations of every rule but `cycle`, of the entity rows in `ent` and the triple rows in
    `tri` (views of part of `entities` and `triples`, for `revalidate`), judged against the whole
    tables: a triple's ends, its reverse, an entity's containers are looked up in all of them."""
    null_e = " OR ".join(f"{c} IS NULL" for c in ENTITY_REQUIRED)
    null_t = " OR ".join(f"{c} IS NULL" for c in TRIPLE_REQUIRED)
    contained = ", ".join(f"'{k}'" for k in MUST_BE_CONTAINED)
    whole = ent == "entities"
    ents = "ek" if whole else f"(SELECT entity_id, any_value(kind) AS kind FROM {ent} GROUP BY 1)"
    of_ents = "" if whole else f"AND tail_id IN (SELECT entity_id FROM {ent})"
    return con.sql(f"""
        WITH ek AS MATERIALIZED (SELECT entity_id, any_value(kind) AS kind FROM entities GROUP BY 1),
        -- every triple with its end kinds (NULL: no such entity), joined once for two rules
        tk AS MATERIALIZED (SELECT t.relation, t.head_id, t.tail_id, h.kind AS head_kind, tl.kind AS tail_kind
            FROM {tri} t LEFT JOIN ek h ON t.head_id = h.entity_id LEFT JOIN ek tl ON t.tail_id = tl.entity_id)
        SELECT 'null', NULL, NULL, NULL, [entity_id], 'entity with a null required column'
            FROM {ent} WHERE {null_e}
        UNION ALL SELECT 'null', relation, head_id, tail_id, [head_id, tail_id],
            'triple with a null required column' FROM {tri} WHERE {null_t}
        UNION ALL SELECT 'unknown_relation', relation, head_id, tail_id, [head_id, tail_id],
            'relation ' || relation || ' is not in the ontology'
            FROM {tri} WHERE relation NOT IN (SELECT relation FROM relations)
        UNION ALL SELECT 'unknown_kind', NULL, NULL, NULL, [entity_id], 'kind ' || kind || ' is not in the ontology'
            FROM {ent} WHERE kind NOT IN (SELECT kind FROM kinds)
        UNION ALL SELECT 'unknown_resolution', relation, head_id, tail_id, [head_id, tail_id],
            'resolution ' || resolution || ' is unknown'
            FROM {tri} WHERE resolution NOT IN (SELECT resolution FROM resolutions)
        UNION ALL SELECT 'duplicate', relation, head_id, tail_id, [head_id, tail_id],
            count(*)::VARCHAR || ' rows for one (head, relation, tail)'
            FROM {tri} GROUP BY relation, head_id, tail_id HAVING count(*) > 1
        UNION ALL SELECT 'duplicate', NULL, NULL, NULL, [entity_id], count(*)::VARCHAR || ' rows for one entity_id'
            FROM {ent} GROUP BY entity_id HAVING count(*) > 1
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
            FROM {tri} a JOIN triples b ON a.relation = b.relation
                AND a.head_id = b.tail_id AND a.tail_id = b.head_id
            WHERE a.head_id <= a.tail_id
              AND a.relation IN (SELECT relation FROM relations WHERE antisymmetric)
        UNION ALL SELECT 'container_count', 'contains', NULL, e.entity_id, [e.entity_id],
            coalesce(c.n, 0)::VARCHAR || ' containers (expected exactly 1)'
            FROM {ents} e LEFT JOIN (SELECT tail_id, count(DISTINCT head_id) n FROM triples
                                     WHERE relation = 'contains' {of_ents} GROUP BY 1) c ON c.tail_id = e.entity_id
            WHERE (e.kind IN ({contained}) AND coalesce(c.n, 0) != 1) OR coalesce(c.n, 0) > 1
    """).to_arrow_table()


def _cycles(con: duckdb.DuckDBPyConnection, triples: str = "triples") -> list[dict]:
    """Every cycle (strongly connected component, or self-loop) of each acyclic relation."""
    out = []
    for rel in (r for r in ontology.RELATIONS.values() if r.acyclic):
        edges = _cycle_candidates(con.sql(f"SELECT head_id, tail_id FROM {triples} WHERE relation = ?",
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
        sql = conform(_sql_violations(con).rename_columns(VIOLATIONS.names), VIOLATIONS)
        cycles = _cycles(con)
    finally:
        con.close()
    cycles = from_columns([[c[n] for c in cycles] for n in VIOLATIONS.names], VIOLATIONS)
    return _sorted(pa.concat_tables([sql, cycles]))


def _sorted(violations: pa.Table) -> pa.Table:
    """By rule, relation, head and tail, then the rest (so ties come out the same whichever way
    the rows were found), sorted by DuckDB: `Table.sort_by` imports pyarrow.compute, 25 ms of
    every rebuild."""
    if violations.num_rows < 2:
        return violations
    con = cursor()
    try:
        con.register("v", violations)
        order = order_clause(["rule", "relation", "head_id", "tail_id", "detail", "entity_ids"])
        return conform(con.sql(f"SELECT * FROM v ORDER BY {order}").to_arrow_table(), VIOLATIONS)
    finally:
        con.close()


def revalidate(entities: pa.Table, triples: pa.Table, previous: pa.Table, affected_entities: set[str],
               affected_triples: set[tuple], edges_changed: set[str]) -> pa.Table | None:
    """`validate(entities, triples)`, from the violations of the previous version (`previous`)
    when only the rows of these entity ids and triple keys (head, relation, tail) may differ from
    it and only the relations in `edges_changed` gained or lost keys. Each rule judges one entity
    or one triple key, and what it reads of the rest is bounded: a triple reads its ends' kinds and
    its reverse, an entity its containers. So the violations of a scope are judged again (the
    affected keys, their reverses, the triples that touch an affected entity, the entities an
    affected `contains` key points to) and the previous ones outside it stay; cycles are found
    again only where an acyclic relation's keys changed. None where a key or a previous violation
    is null-keyed (then `validate`)."""
    if (any(None in k for k in affected_triples) or None in affected_entities
            or "null" in previous["rule"].to_pylist()):
        return None
    con = cursor()
    try:
        con.register("all_e", entities)
        con.register("all_t", triples)
        con.register("prev", previous)
        register_ontology(con)
        register_keys(con, "aff_e", ["entity_id"], ((k,) for k in affected_entities))
        register_keys(con, "aff_t", ["head_id", "relation", "tail_id"], affected_triples)
        # What is judged again (scope_t, scope_e), and all the rules read of the rest: the scope's
        # triples with their reverses and the `contains` triples into the scope's entities, the
        # entities at their ends. Two scans of the triples, one of the entities; the rules then
        # run over these few rows as they would over the whole tables.
        con.execute("""
            CREATE TEMP TABLE scope_t AS
                SELECT relation, head_id, tail_id FROM aff_t
                UNION SELECT relation, tail_id, head_id FROM aff_t
                UNION SELECT relation, head_id, tail_id FROM all_t
                    WHERE head_id IN (SELECT entity_id FROM aff_e) OR tail_id IN (SELECT entity_id FROM aff_e);
            CREATE TEMP TABLE scope_e AS
                SELECT entity_id FROM aff_e UNION SELECT tail_id FROM aff_t WHERE relation = 'contains';
            CREATE TEMP TABLE read_t AS
                SELECT relation, head_id, tail_id FROM scope_t UNION SELECT relation, tail_id, head_id FROM scope_t;
            CREATE TEMP TABLE triples AS SELECT * FROM all_t t
                WHERE EXISTS (SELECT 1 FROM read_t r WHERE r.relation = t.relation AND r.head_id = t.head_id
                              AND r.tail_id = t.tail_id)
                   OR (t.relation = 'contains' AND t.tail_id IN (SELECT entity_id FROM scope_e));
            CREATE TEMP TABLE entities AS SELECT * FROM all_e WHERE entity_id IN (
                SELECT entity_id FROM scope_e UNION SELECT head_id FROM triples UNION SELECT tail_id FROM triples);
            CREATE TEMP VIEW ent AS SELECT * FROM entities SEMI JOIN scope_e USING (entity_id);
            CREATE TEMP VIEW tri AS SELECT * FROM triples SEMI JOIN scope_t USING (relation, head_id, tail_id);
        """)
        fresh = conform(_sql_violations(con, "ent", "tri").rename_columns(VIOLATIONS.names), VIOLATIONS)
        kept = conform(con.sql("""
            SELECT * FROM prev v WHERE rule <> 'cycle' AND CASE
                WHEN relation IS NULL OR rule = 'container_count'
                    THEN v.entity_ids[1] NOT IN (SELECT entity_id FROM scope_e)
                ELSE NOT EXISTS (SELECT 1 FROM scope_t s WHERE s.relation = v.relation
                                 AND s.head_id = v.head_id AND s.tail_id = v.tail_id) END
        """).to_arrow_table(), VIOLATIONS)
        acyclic = {r.name for r in ontology.RELATIONS.values() if r.acyclic}
        if acyclic & edges_changed:
            cycles = _cycles(con, "all_t")
            cycles = from_columns([[c[n] for c in cycles] for n in VIOLATIONS.names], VIOLATIONS)
        else:
            cycles = conform(con.sql("SELECT * FROM prev WHERE rule = 'cycle'").to_arrow_table(), VIOLATIONS)
    finally:
        con.close()
    return _sorted(pa.concat_tables([kept, fresh, cycles]))


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
