"""Resolvers leave no reference cycles behind: a large corpus's facts must go when the build
drops them, not wait for a cyclic collection that has to scan every object alive by then."""

from __future__ import annotations

import gc

import pytest

from graphmer_core.kg.resolution import ParsedFile, resolve
from java_helpers import FIXTURES as JAVA
from java_helpers import parse_folder
from kg_helpers import FIXTURES, parsed_python


@pytest.mark.parametrize("files", [lambda: parsed_python(FIXTURES / "python" / "proj"), lambda: parse_folder(JAVA)],
                         ids=["python", "java"])
def test_resolved_facts_are_freed_without_the_cyclic_collector(files):
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        parsed = files()
        res = resolve(parsed)
        assert res.triples
        del parsed, res
        gc.collect()
        leaked = [o for o in gc.garbage if isinstance(o, ParsedFile)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert not leaked, f"{len(leaked)} ParsedFile objects were only reachable through reference cycles"
