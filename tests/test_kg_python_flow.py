"""Value flow, second pass (issue 13): abstract members, getattr with a default, tuple unpacking,
a guarded try with one binding, __getitem__ and slices, arguments of points-to resolved calls."""

from __future__ import annotations

import pytest

from graphmer_core.parsing.python import extract

from kg_helpers import FIXTURES, build_python

S = "py:fx:shapes."


@pytest.fixture(scope="module")
def calls():
    out: dict[str, dict[str, str]] = {}
    for t in build_python(FIXTURES / "python" / "flow2").triple_dicts():
        if t["relation"] in ("calls", "instantiates") and t["head_id"].startswith(S) and t["tail_id"].startswith(S):
            out.setdefault(t["head_id"][len(S):], {})[t["tail_id"][len(S):]] = t["resolution"]
    return out


def test_abstract_members_are_what_the_subclasses_define(calls):
    run = calls["Template.run"]
    assert run.get("Custom.step") == run.get("Posix.step") == "points_to"
    assert run.get("Flavour.parse") == "points_to"  # a class attribute of a subclass
    assert run.get("Template.hook") == "self"
    assert "Custom.hook" not in run                  # an override: `overrides` says it, not `calls`
    assert "Unrelated.step" not in run               # same name, unrelated class
    # `object` has __init__: Plain.__init__ is no abstract member, Made.__init__ is not reached
    assert "Made.__init__" not in calls.get("Made.__init__", {})


def test_getattr_with_default_and_tuple_unpacking(calls):
    assert calls["starter"].get("Result.start") == "points_to"
    assert calls["unpacked"].get("op_a") == "points_to"
    assert "op_b" not in calls["unpacked"]           # each target its own item


def test_guarded_try_with_one_binding_keeps_every_value(calls):
    # `try: handler = self.target.data except AttributeError: return`: no alternative binding
    assert calls["Parser.default"].get("Sink.data") == "points_to"
    assert calls["Parser.default"].get("Other.data") == "points_to"


def test_getitem_and_slices(calls):
    assert calls["lookup"].get("Sink.data") == "points_to"   # Table()["k"] is what __getitem__ returns
    assert calls["tail"].get("Sink.data") == "points_to"     # items[1:] holds the Sinks of feed()


def test_arguments_of_points_to_resolved_calls(calls):
    # self.resultclass(Writer()): only points-to resolves the callee, and links its argument
    assert calls["TextResult.done"].get("Writer.writeln") == "points_to"


def test_extractor_facts_for_these_shapes():
    f = extract(b"def f():\n    a, b = x, y\n    c, *d = x, y\n    g = getattr(o, 'm', None)\n"
                b"    h = getattr(o, 'm', k)\n    s = xs[1:]\n    t = type(o)\n")
    flows = {(row[2], str(row[3])) for row in f["flows"]}
    assert ("a", "['n', 'x']") in flows and ("b", "['n', 'y']") in flows
    assert not any(t in ("c", "d") for t, _ in flows)   # a starred target: no positions
    assert ("g", "['g', ['n', 'o'], 'm']") in flows
    assert ("h", "['g', ['n', 'o'], 'm']") in flows      # the default is no value of o.m
    assert ("s", "['n', 'xs']") in flows and ("t", "['t', ['n', 'o']]") in flows


def test_arguments_line_up_with_parameters(calls):
    # `step = self.walk; step(path, check_dir, check_exists)`: taken as unbound, `test` would be
    # check_exists; bound or not is unknown there, so the arguments are not linked at all
    assert "check_exists" not in calls.get("Walker.walk", {})
    # cls.open(Gz()) of a classmethod: the first argument is its first parameter after cls
    assert calls["Archive.close"].get("Gz.close") == "points_to"


def test_abstract_members_of_self_skip_subclasses_that_override_the_method(calls):
    assert calls["Loader.load"].get("DirectLoader.fetch") == "points_to"
    assert "OwnLoader.fetch" not in calls["Loader.load"]


def test_getattr_default_is_no_value_of_the_attribute(calls):
    assert "Widget.getint" not in calls.get("Image.height", {})
