"""The Python resolver on code that once aborted whole builds: `typing.overload` stubs (werkzeug),
inheritance that cycles through an import alias, hierarchies and value flows deeper than the
recursion limit (sympy); and a fault in one call's facts, recorded while the build goes on."""

from __future__ import annotations

import sys
from pathlib import Path

from graphmer_core.corpus.discovery import Corpus
from graphmer_core.kg.build import build_kg
from graphmer_core.kg.manifest import read_manifest
from graphmer_core.kg.python.stack import RECURSION_LIMIT
from graphmer_core.kg.resolution import resolve
from graphmer_core.lake import Lake

from kg_helpers import FIXTURES, parsed_python

ROBUST = FIXTURES / "python" / "robust"
P = "py:fx:"


def edges(r) -> dict[tuple[str, str, str], str]:
    return {(t[0], t[1], t[2]): t[7] for t in r.triples}


def test_overload_stubs_link_the_implementation_parameters():
    """werkzeug's `TypeConversionDict.get`: the first `@t.overload` stub has no `default`; the
    implementation returns it, and a call passes `default=fallback` (once a KeyError)."""
    r = resolve(parsed_python(ROBUST / "overload"))
    assert r.errors == []
    e = edges(r)
    # `handler = d.get("handler", default=fallback); handler()`: the returned parameter is the
    # keyword argument of that call, read through the implementation's signature
    assert e[(P + "datastructures.lookup", "calls", P + "datastructures.fallback")] == "points_to"


def test_inheritance_cycle_through_an_alias_is_broken():
    r = resolve(parsed_python(ROBUST / "cycle"))
    assert r.errors == []
    bases = {(h, t) for h, rel, t in edges(r) if rel == "inherits_from"}
    # Node's base `compat.BaseNode` is Node itself: no class inherits from itself
    assert (P + "cyc.core.Node", P + "cyc.core.Node") not in bases
    # Left(Right) and Right(Left) through `from cyc.other import Right as Parent`: both edges, as
    # written (the KG's gates report the cycle), while the MRO walk ends
    pair = {(P + "cyc.pair.Left", P + "cyc.other.Right"), (P + "cyc.other.Right", P + "cyc.pair.Left")}
    assert bases & pair == pair
    e = edges(r)
    assert (P + "cyc.core.use", "calls", P + "cyc.core.Node.run") in e
    assert (P + "cyc.core.Node.run", "calls", P + "cyc.core.helper") in e


def test_hierarchy_deeper_than_the_recursion_limit():
    assert RECURSION_LIMIT > 1200 > sys.getrecursionlimit()  # the fixture is deeper than the default
    r = resolve(parsed_python(ROBUST / "deep", paths=["hierarchy.py"]))
    assert r.errors == []
    e = edges(r)
    assert (P + "hierarchy.use", "calls", P + "hierarchy.C0.root") in e
    assert (P + "hierarchy.C1199", "inherits_from", P + "hierarchy.C1198") in e


def test_value_flow_deeper_than_the_recursion_limit():
    """`f1199()()`: f1199 returns f1198(), ... f0 returns `target` (sympy's chains, longer)."""
    r = resolve(parsed_python(ROBUST / "deep", paths=["chain.py"]))
    assert r.errors == []
    assert edges(r)[(P + "chain.use", "calls", P + "chain.target")] == "points_to"


def test_recursion_limit_restored_after_resolving():
    before = sys.getrecursionlimit()
    resolve(parsed_python(ROBUST / "deep", paths=["chain.py"]))
    assert sys.getrecursionlimit() == before


def _fault_in_one_call(monkeypatch):
    """The resolver's own recursion limit lowered below the chain fixture's depth (the
    interpreter's default of 1000 then holds): the one call that reads the chain fails."""
    import graphmer_core.kg.python.stack as stack

    monkeypatch.setattr(stack, "RECURSION_LIMIT", 0)


def test_a_failed_call_is_recorded_and_the_rest_resolves(monkeypatch):
    _fault_in_one_call(monkeypatch)
    r = resolve(parsed_python(ROBUST / "deep", paths=["chain.py"]))
    assert len(r.errors) == 1
    corpus, path, message = r.errors[0]
    assert (corpus, path) == ("fx", "chain.py")
    assert message.startswith("call (points-to) at line 1214: RecursionError: ")
    e = edges(r)
    assert (P + "chain.use", "calls", P + "chain.target") not in e  # that call's edge is missing ...
    assert (P + "chain.f5", "calls", P + "chain.f4") in e  # ... the file's other calls are there
    assert (P + "chain.use", "calls", P + "chain.f1199") in e


def test_build_finishes_with_the_failure_recorded(monkeypatch, tmp_path: Path):
    """A whole `build_kg`: the file is `partial` with the reason, the manifest counts the error
    and shows it."""
    _fault_in_one_call(monkeypatch)
    src = tmp_path / "src"
    src.mkdir()
    (src / "chain.py").write_bytes((ROBUST / "deep" / "chain.py").read_bytes())
    result = build_kg([Corpus("fx", src)], Lake(tmp_path / "lake"), workers=1, gates=None)
    manifest = read_manifest(result.kg_dir)
    assert manifest["resolver_errors"]["count"] == 1
    assert manifest["resolver_errors"]["first"][0].startswith("fx:chain.py: call (points-to) at line 1214: "
                                                              "RecursionError")
    problems = manifest["files"]["not_ok"]
    assert [(p["path"], p["status"]) for p in problems] == [("chain.py", "partial")]
    assert problems[0]["reason"].startswith("resolver: call (points-to) at line 1214: RecursionError")
    assert manifest["triples"] > 1000  # the rest of the file is there

