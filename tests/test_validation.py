"""Every ontology rule flags what violates it, and only that; the GX gates read the same tables."""

import pyarrow as pa
import pytest

from graphmer_core.kg import ontology, schemas, validation


def ent(entity_id, kind, path="m.py", **kw):
    row = dict(entity_id=entity_id, kind=kind, name=entity_id.split(".")[-1], qualified_name=entity_id,
               language="python", corpus="c", path=None if kind.startswith("External") else path,
               start_line=1, end_line=2, file_sha256="0" * 64)
    row.update(kw)
    return row


def tri(head, relation, tail, **kw):
    row = dict(head_id=head, relation=relation, tail_id=tail, language="python", corpus="c", path="m.py",
               line=1, resolution="exact", kg_version="v")
    row.update(kw)
    return row


# A small, valid KG: module m with classes A(B) and B(ext), function f calling A.run.
GOOD_E = [ent("m", "Module"), ent("m.A", "Class"), ent("m.B", "Class"), ent("m.A.run", "Method"),
          ent("m.f", "Function"), ent("ext.Base", "ExternalClass")]
GOOD_T = [tri("m", "contains", "m.A"), tri("m", "contains", "m.B"), tri("m", "contains", "m.f"),
          tri("m.A", "contains", "m.A.run"), tri("m.A", "inherits_from", "m.B"),
          tri("m.B", "inherits_from", "ext.Base", resolution="external"), tri("m.f", "calls", "m.A.run")]


def check(extra_e=(), extra_t=(), drop_t=()):
    e = pa.Table.from_pylist(GOOD_E + list(extra_e), schema=schemas.ENTITIES)
    t = pa.Table.from_pylist([x for x in GOOD_T if (x["head_id"], x["relation"], x["tail_id"]) not in drop_t]
                             + list(extra_t), schema=schemas.TRIPLES)
    return validation.validate(e, t).to_pylist()


def test_a_valid_kg_has_no_violations():
    assert check() == []


@pytest.mark.parametrize("extra_e, extra_t, rule, offending", [
    ([], [tri("m.f", "inherits_from", "m.A")], "domain_range", ["m.f", "m.A"]),
    ([], [tri("m.f", "calls", "m.B")], "domain_range", ["m.f", "m.B"]),  # a class is instantiated, not called
    ([], [tri("m.f", "calls", "nowhere")], "dangling", ["m.f", "nowhere"]),
    ([], [tri("m.f", "eats", "m.A")], "unknown_relation", ["m.f", "m.A"]),
    ([ent("m.X", "Gadget")], [tri("m", "contains", "m.X")], "unknown_kind", ["m.X"]),
    ([], [tri("m.f", "calls", "m.A.run", resolution="guess")], "unknown_resolution", ["m.f", "m.A.run"]),
    ([], [tri("m.f", "calls", "m.A.run", line=9)], "duplicate", ["m.f", "m.A.run"]),
    ([ent("m.f", "Function", start_line=5)], [], "duplicate", ["m.f"]),
    ([], [tri("m.A.run", "overrides", "m.A.run")], "antisymmetry", ["m.A.run", "m.A.run"]),
    ([ent("m.g", "Function")], [tri("m", "contains", "m.g"), tri("m.f", "contains", "m.g")],
     "container_count", ["m.g"]),
    ([ent("m.h", "Function")], [], "container_count", ["m.h"]),
    ([ent("m.n", "Class", qualified_name=None)], [tri("m", "contains", "m.n")], "null", ["m.n"]),
])
def test_each_rule_flags_its_violation(extra_e, extra_t, rule, offending):
    found = [v for v in check(extra_e, extra_t) if v["rule"] == rule]
    assert found, f"{rule} not reported"
    assert found[0]["entity_ids"] == offending


def test_inheritance_cycle_reports_every_member_and_antisymmetry():
    found = check(extra_t=[tri("m.B", "inherits_from", "m.A")])
    cycles = [v for v in found if v["rule"] == "cycle"]
    assert [(c["relation"], c["entity_ids"]) for c in cycles] == [("inherits_from", ["m.A", "m.B"])]
    assert any(v["rule"] == "antisymmetry" for v in found)


def test_three_cycle_found_by_scc():
    comps = validation.strongly_connected([("a", "b"), ("b", "c"), ("c", "a"), ("c", "d"), ("e", "e")])
    assert comps == [["a", "b", "c"], ["e"]]


def test_peeling_keeps_every_cycle_edge_and_drops_the_rest():
    edges = [("r", "p"), ("p", "q"), ("p", "a"),               # a tree leading into the cycle
             ("a", "b"), ("b", "c"), ("c", "a"),               # the cycle
             ("c", "d"), ("d", "e"), ("x", "x")]               # a tail out of it, a self-loop
    table = pa.table({"head_id": [h for h, _ in edges], "tail_id": [t for _, t in edges]})
    left = validation._cycle_candidates(table)
    assert sorted(zip(left["head_id"].to_pylist(), left["tail_id"].to_pylist(), strict=True)) == [
        ("a", "b"), ("b", "c"), ("c", "a"), ("x", "x")]
    tree = pa.table({"head_id": ["r", "r", "p"], "tail_id": ["p", "q", "s"]})
    assert validation._cycle_candidates(tree).num_rows == 0


def test_rates_give_the_gate_figures():
    e = pa.Table.from_pylist(GOOD_E, schema=schemas.ENTITIES)
    t = pa.Table.from_pylist(GOOD_T + [tri("m.f", "inherits_from", "m.A"), tri("m.B", "inherits_from", "m.A")],
                             schema=schemas.TRIPLES)
    r = validation.rates(validation.validate(e, t), e, t)
    assert r["domain_range_valid_share"] == pytest.approx(1 - 1 / 9)
    assert r["inheritance_cycles"] == 1
    assert set(r["violations_by_rule"]) == set(validation.RULES)


def test_ontology_is_consistent():
    for rel in ontology.RELATIONS.values():
        assert rel.domain <= set(ontology.ENTITY_KINDS) and rel.range <= set(ontology.ENTITY_KINDS), rel.name
    assert ontology.allowed("inherits_from", "Class", "ExternalClass")
    assert not ontology.allowed("inherits_from", "Function", "Class")
    assert set(ontology.hierarchy_relations()) >= {"inherits_from", "overrides"}


def _canonical(violations: pa.Table) -> list[tuple]:
    return sorted((v["rule"], v["relation"] or "", v["head_id"] or "", v["tail_id"] or "", tuple(v["entity_ids"]),
                   v["detail"]) for v in violations.to_pylist())


def _random_kg(rng, ids: list[str]) -> tuple[dict[str, dict], dict[tuple, dict]]:
    kinds = ["Module", "Class", "Interface", "Function", "Method", "Field", "ExternalClass", "Gadget"]
    relations = ["contains", "inherits_from", "implements", "calls", "overrides", "eats"]
    entities = {i: ent(i, rng.choice(kinds)) for i in ids if rng.random() < 0.85}
    triples = {}
    for _ in range(3 * len(ids)):
        h, r, t = rng.choice(ids), rng.choice(relations), rng.choice(ids)
        triples[(h, r, t)] = tri(h, r, t, resolution=rng.choice(["exact", "exact", "guess"]))
    return entities, triples


def _tables(entities: dict, triples: dict) -> tuple[pa.Table, pa.Table]:
    return (pa.Table.from_pylist(list(entities.values()), schema=schemas.ENTITIES),
            pa.Table.from_pylist(list(triples.values()), schema=schemas.TRIPLES))


def test_revalidating_the_changed_scope_equals_validating_everything():
    """Random KGs full of violations (dangling ends, unknown kinds and relations, both directions,
    cycles, several or no containers), then random changes to a few rows: the previous violations
    with the changed keys' scope judged again are exactly what validating the new tables finds."""
    import random

    rng = random.Random(7)
    judged = set()
    for _ in range(60):
        ids = [f"m.x{i}" for i in range(rng.randint(4, 24))]
        entities, triples = _random_kg(rng, ids)
        before = validation.validate(*_tables(entities, triples))
        new_e, new_t = dict(entities), dict(triples)
        for _ in range(rng.randint(1, 4)):
            i = rng.choice(ids)
            what = rng.random()
            if what < 0.25:
                new_e.pop(i, None)
            elif what < 0.5:
                new_e[i] = ent(i, rng.choice(["Class", "Function", "Module", "Gadget"]), start_line=rng.randint(1, 9))
            elif what < 0.75 and new_t:
                new_t.pop(rng.choice(list(new_t)))
            else:
                h, r, t = i, rng.choice(["contains", "inherits_from", "calls", "overrides"]), rng.choice(ids)
                new_t[(h, r, t)] = tri(h, r, t, line=rng.randint(1, 9))
        affected_e = {i for i in set(entities) | set(new_e) if entities.get(i) != new_e.get(i)}
        affected_t = {k for k in set(triples) | set(new_t) if triples.get(k) != new_t.get(k)}
        edges = {k[1] for k in set(triples) ^ set(new_t)}
        e, t = _tables(new_e, new_t)
        again = validation.revalidate(e, t, before, affected_e, affected_t, edges)
        assert _canonical(again) == _canonical(validation.validate(e, t))
        judged |= {v["rule"] for v in again.to_pylist()}
    assert judged >= {"dangling", "domain_range", "unknown_kind", "unknown_relation", "unknown_resolution",
                      "antisymmetry", "cycle", "container_count"}, judged
    # a null-keyed violation before: no shortcut
    e, t = _tables({"m.n": ent("m.n", "Class", qualified_name=None)}, {})
    assert validation.revalidate(e, t, validation.validate(e, t), set(), set(), set()) is None
