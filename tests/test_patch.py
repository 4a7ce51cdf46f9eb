"""store.Patch's merge: the previous table's rows kept around the changed keys, in the order a
whole sort gives (bytes of UTF-8), with the changed keys' new rows in their places."""

import random

import pyarrow as pa

from graphmer_core.kg import arrow, schemas, store


def _rows(keys, line: int) -> list[tuple]:
    return [(h, r, t, "java", "c", "A.java", line, "exact") for r, h, t in keys]


def test_merging_around_changed_keys_equals_sorting_the_whole_table():
    rng = random.Random(5)
    alphabet = ["a", "b", "Z", "_", ".", "é", "ß", "€", "日", "𝔘"]  # code points past ASCII, past the BMP
    for _ in range(40):
        words = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 4))) for _ in range(30)]
        keys = {(rng.choice(["calls", "contains", "overrides"]), rng.choice(words), rng.choice(words))
                for _ in range(rng.randint(0, 120))}
        prev = arrow.from_rows(_rows(keys, 1), schemas.TRIPLES, order_by=store.TRIPLE_ORDER,
                               constants={"kg_version": "v1"})
        pool = list(keys) + [(rng.choice(["calls", "implements"]), rng.choice(words), rng.choice(words))
                             for _ in range(40)]
        affected = set(rng.sample(pool, rng.randint(0, len(pool))))
        kept_new = {k for k in affected if rng.random() < 0.5}  # the affected keys that still have a row
        new = arrow.from_rows(_rows(kept_new, 2), schemas.TRIPLES, order_by=store.TRIPLE_ORDER,
                              constants={"kg_version": "v1"})
        merged, found = store._merge(prev, store.TRIPLE_ORDER, affected, new)
        whole, found_whole = store._sorted_union(prev, store.TRIPLE_ORDER, affected, new)
        assert merged.equals(whole.cast(merged.schema)) and found == found_whole == affected & keys
        expected = sorted((keys - affected) | kept_new, key=lambda k: [s.encode() for s in k])
        assert list(zip(*(merged[c].to_pylist() for c in store.TRIPLE_ORDER), strict=True)) == expected


def test_a_null_key_or_many_changes_take_the_whole_sort():
    prev = pa.table({"entity_id": ["a", None]})
    assert store._merge(prev, ["entity_id"], {("a",)}, prev.slice(0, 0)) is None
    many = {(str(i),) for i in range(store.MERGE_MAX + 1)}
    assert store._merge(pa.table({"entity_id": ["a"]}), ["entity_id"], many, prev.slice(0, 0)) is None


def test_changed_keys_are_those_whose_rows_a_source_emits_otherwise():
    from graphmer_core.kg.resolution import Resolved

    a = ("A", "calls", "B", "java", "c", "A.java", 3, "exact")
    a_moved = a[:6] + (4,) + a[7:]  # the same key from another line
    b = ("A", "calls", "C", "java", "c", "A.java", 5, "exact")
    b_again = b[:6] + (6,) + b[7:]
    e = ("A", "Class", "A", "A", "java", "c", "A.java", 1, 9, "0" * 64)
    same = Resolved([e], [a, b])
    previous = {("java:c", "A.java"): same, ("java:c", "Gone.java"): Resolved([], [("G", "calls", "H") + a[3:]]),
                ("java:c", "Order.java"): Resolved([], [b, b_again])}
    fresh = {("java:c", "A.java"): Resolved([e], [a, b]),  # re-resolved, emits what it did
             ("java:c", "New.java"): Resolved([("N",) + e[1:]], []),
             ("java:c", "Order.java"): Resolved([], [b_again, b])}  # one key's rows in another order
    assert store.changed_keys(previous, fresh) == ({"N"}, {("G", "calls", "H"), ("A", "calls", "C")})
    fresh[("java:c", "A.java")] = Resolved([e], [a_moved, b])
    assert store.changed_keys(previous, fresh)[1] == {("G", "calls", "H"), ("A", "calls", "C"), ("A", "calls", "B")}
