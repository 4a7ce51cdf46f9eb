"""Files that could hang a build: a syntax tree nested past the bound is skipped with its reason, and a
file swapped for a FIFO after indexing is refused, not waited on."""

from __future__ import annotations

import os
import threading

import pytest

from graphmer_core.corpus.discovery import Corpus
from graphmer_core.corpus.index import index_corpora
from graphmer_core.parsing import depth
from graphmer_core.parsing.batch import parse_files, to_parse

GOOD = "def f(x):\n    return x\n\n\ny = f(1)\n"
N = 20_000  # nested calls: 40,000 levels, past the default bound of 25,000


def _statuses(root, **kw) -> dict:
    out = parse_files(index_corpora([Corpus("c", root)]), workers=1, **kw)
    return {r.path: (r.status, r.reason) for r in out.records}, {p.path for p in out.parsed}


def test_a_tree_past_the_bound_is_skipped_with_its_reason(make_tree):
    root = make_tree({
        "good.py": GOOD,
        "deep_calls.py": "x = " + "f(" * N + "1" + ")" * N + "\n",
        "deep_chain.py": "x = (a" + "\n    .b()" * N + ")\n",  # no bracket nests: a chain 40,000 levels deep
        "Deep.java": "class Deep { int x = " + "f(" * N + "1" + ")" * N + "; }\n",
        "Good.java": "class Good { int f(int x) { return f(x); } }\n",
        "nested.py": GOOD + "w = " + "f(" * 10_000 + "1" + ")" * 10_000 + "\n",  # deep, within the bound
    })
    statuses, parsed = _statuses(root)
    for path in ("deep_calls.py", "deep_chain.py", "Deep.java"):
        status, reason = statuses[path]
        assert status == "skipped", (path, status, reason)
        assert "more than 25,000 levels deep" in reason and depth.ENV in reason
    for path in ("good.py", "Good.java", "nested.py"):
        assert statuses[path] == ("ok", None), path
    assert parsed == {"good.py", "Good.java", "nested.py"}


def test_the_bound_is_configurable(make_tree, monkeypatch):
    root = make_tree({"good.py": GOOD, "nested.py": "x = " + "f(" * 30 + "1" + ")" * 30 + "\n"})
    statuses, _ = _statuses(root, max_depth=40)
    assert statuses["good.py"] == ("ok", None)
    assert statuses["nested.py"][0] == "skipped" and "more than 40 levels deep" in statuses["nested.py"][1]
    monkeypatch.setenv(depth.ENV, "40")  # what parse_files uses when no bound is passed
    assert _statuses(root)[0] == statuses
    monkeypatch.setenv(depth.ENV, "deep")
    with pytest.raises(ValueError, match=r"GRAPHMER_MAX_SYNTAX_DEPTH must be a whole number .* got 'deep'"):
        _statuses(root)


def test_cached_facts_are_not_served_past_a_lower_bound(make_tree, tmp_path, monkeypatch):
    """A file parsed under the default bound and cached is checked again when the bound is lowered
    (the cache held it as `ok` before), and served from the cache again under the default."""
    root = make_tree({"good.py": GOOD, "nested.py": "x = " + "f(" * 30 + "1" + ")" * 30 + "\n"})
    cache = tmp_path / "parse-cache"
    records = index_corpora([Corpus("c", root)])
    first = parse_files(records, cache, workers=1)
    assert first.reparsed == 2 and {r.status for r in first.records} == {"ok"}
    assert to_parse(records, cache) == 0
    monkeypatch.setenv(depth.ENV, "40")
    assert to_parse(records, cache) == 2
    lower = parse_files(records, cache, workers=1)
    assert lower.reparsed == 2
    assert {r.path: r.status for r in lower.records} == {"good.py": "ok", "nested.py": "skipped"}
    monkeypatch.delenv(depth.ENV)
    again = parse_files(records, cache, workers=1)
    assert again.cache_hits == 2 and {r.status for r in again.records} == {"ok"}


def test_a_file_swapped_for_a_fifo_during_the_build_is_refused(make_tree):
    root = make_tree({"good.py": GOOD, "swapped.py": GOOD.replace("f", "g")})
    records = index_corpora([Corpus("c", root)])
    assert {r.path: r.status for r in records} == {"good.py": "ok", "swapped.py": "ok"}
    os.unlink(root / "swapped.py")
    os.mkfifo(root / "swapped.py")  # a plain open() waits for a writer forever
    result = {}
    worker = threading.Thread(target=lambda: result.update(out=parse_files(records, workers=1)), daemon=True)
    worker.start()
    worker.join(60)
    if worker.is_alive():  # let the blocked open() go before failing
        os.close(os.open(root / "swapped.py", os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("parse_files waited on a FIFO")
    statuses = {r.path: (r.status, r.reason) for r in result["out"].records}
    assert statuses["swapped.py"] == ("skipped", "not a regular file: a FIFO")
    assert statuses["good.py"] == ("ok", None)


def _lambdas(source: bytes):
    from tree_sitter import Query, QueryCursor

    from graphmer_core.parsing import java

    st = java._state()
    root = st["parser"].parse(source).root_node
    query = Query(st["parser"].language, "(lambda_expression) @l")
    return root, sorted(QueryCursor(query).captures(root).get("l", ()), key=lambda n: (n.start_byte, n.end_byte))


def test_java_lambda_ancestors_follow_one_cursor_and_agree_with_node_parent(fixtures):
    """The Java extractor finds what a lambda is assigned to from one TreeCursor walked in document
    order (Node.parent walks down from the root: 10,000 nested lambdas took 12.5 s); for every
    lambda of the fixtures, of deep nestings and of broken code, the ancestors are Node.parent's."""
    from graphmer_core.parsing.java import _Ancestry, _node_ancestors

    nested = "f(x -> " * 200 + "(y -> c ? (z -> 1) : w -> 2)" + ")" * 200
    sources = [p.read_bytes() for p in sorted((fixtures / "java").rglob("*.java"))] + [
        f"class A {{ Object o = {nested}; Fn g = (a) -> (Fn) b -> a; void m() {{ h = x -> x; return y -> y; }} }}"
        .encode(),
        b"class B { void m() { f(x -> , y -> g(z -> ; Sink s = q -> { int = ; } } class C { r = () -> 1 }",
    ]
    seen = 0
    for source in sources:
        root, lambdas = _lambdas(source)
        ancestry = _Ancestry(root)
        for n in lambdas:
            assert [a.id for a in ancestry.of(n)] == [a.id for a in _node_ancestors(n)]
            seen += 1
    assert seen > 200
