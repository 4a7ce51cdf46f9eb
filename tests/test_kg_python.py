"""Python extraction (tree-sitter facts) and cross-file resolution into entities and triples."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from graphmer_core.kg import ontology as O
from graphmer_core.kg import schemas
from graphmer_core.kg.python import annotation_names, module_name, receiver_annotation
from graphmer_core.parsing import extractor, extractor_version
from graphmer_core.parsing.python import EXTRACTOR_VERSION, extract

from kg_helpers import FIXTURES, build_python

PROJ = FIXTURES / "python" / "proj"
P = "py:fx:"


@pytest.fixture(scope="module")
def kg():
    r = build_python(PROJ)
    entities = {e["entity_id"]: e for e in r.entity_dicts()}
    edges: dict[tuple[str, str, str], dict] = {}
    for t in r.triple_dicts():
        edges.setdefault((t["head_id"], t["relation"], t["tail_id"]), t)
    return r, entities, edges


def edge(kg, head: str, rel: str, tail: str) -> dict | None:
    h = head if head.startswith("py:") else P + head
    t = tail if tail.startswith("py:") else P + tail
    return kg[2].get((h, rel, t))


def tails(kg, head: str, rel: str) -> set[str]:
    return {t for (h, r, t) in kg[2] if h == P + head and r == rel}


# --- extraction ---------------------------------------------------------------------------------

def test_extractor_registered_and_json_serialisable():
    assert extractor("python") is extract
    assert extractor_version("python") == EXTRACTOR_VERSION
    src = (PROJ / "pkg" / "impl.py").read_bytes()
    facts = extract(src)
    assert json.loads(json.dumps(facts)) == facts
    assert facts == extract(src)  # deterministic, bytes only
    assert facts["errors"] == 0
    names = [(d[0], d[1]) for d in facts["defs"]]
    assert ("c", "Parser") in names and ("f", "parse") in names
    parser = next(d for d in facts["defs"] if d[1] == "Parser")
    assert parser[3:5] == [29, 67]


def test_extract_scopes_params_decorators():
    src = b"""import os
@deco
@pkg.wraps(f)
class A(B, m.C[int], metaclass=M):
    x: int = 1
    def f(self, a: "T", *args, b=2, **kw) -> Optional[R]:
        def g():
            return h()
        self.y = Foo()
        return super().f().z()
"""
    facts = extract(src)
    cls, f, g = facts["defs"]
    assert cls[:3] == ["c", "A", -1] and cls[5] == ["deco", "pkg.wraps"] and cls[6] == ["B", "m.C[int]"]
    assert f[:3] == ["f", "f", 0] and f[7] == "Optional[R]"
    assert f[6] == [["self", None, ""], ["a", '"T"', ""], ["args", None, "*"], ["b", None, ""],
                    ["kw", None, "*"]]
    assert g[:3] == ["f", "g", 1]
    calls = {(c[0], c[2]) for c in facts["calls"]}
    assert {(2, "h"), (1, "Foo"), (1, "super().f"), (-1, "pkg.wraps")} <= calls
    asg = {(a[0], a[2], a[3], a[4], a[5]) for a in facts["asg"]}
    assert (0, "x", "", None, "int") in asg and (1, "self.y", "c", "Foo", None) in asg
    assert facts["imports"] == [[-1, 1, None, -1, [["os", None]]]]


def test_extract_bindings_globals_nonlocals():
    facts = extract(b"def f():\n  x = 1\n  def g():\n    nonlocal x\n    global y\n    y = x\n"
                    b"    for a, (b, c) in z: pass\n    with o() as w: pass\n    return [i for i in a]\n")
    assert facts["globals"] == [[1, "y"]]
    binds = {(a[0], a[2]) for a in facts["asg"] if a[3] == "b"}
    assert {(1, "x"), (1, "a"), (1, "b"), (1, "c"), (1, "w"), (1, "i")} <= binds
    assert [1, 6, "y", "n", "x", None] in facts["asg"]


def test_extract_value_flow_facts():
    src = (b"import sys\n"
           b"if sys.platform == 'win32':\n    import ntpath as path\nelse:\n    import posixpath as path\n"
           b"class C:\n    try:\n        from _c import m\n    except ImportError:\n        def m(self): pass\n"
           b"def f(x):\n"
           b"    try:\n        w = _w\n    except NameError:\n        w = None\n"
           b"    try:\n        v = 1\n    except KeyError:\n        v = 2\n"
           b"    if x:\n        pass\n"
           b"    d = {'a': g, k: h}\n"
           b"    len(x)\n"
           b"    return wrap(x, key=d['a'])\n")
    facts = extract(src)
    # module and class if/try statements; a function's try only when it catches a missing name
    assert facts["conds"] == [[-1, 2, 5], [0, 7, 10], [2, 12, 15]]
    assert [2, 22, "d", ["l", [["n", "g"], ["n", "h"]], ["a", None]]] in facts["flows"]
    assert facts["rets"] == [[2, ["c", ["n", "wrap"], [["n", "x"]], [["key", ["i", ["n", "d"], "a"]]]]]]
    assert not any(c[2] == ["n", "len"] for c in facts["pcalls"])  # a builtin no file rebinds


def test_extract_never_raises_on_broken_or_binary_input():
    for src in (b"", b"def f(:\n  x = (1,\nclass", b"\xff\xfe\x00def \x80(x):\n  y\xff()\n", b"x = \n" * 3):
        facts = extract(src)
        json.dumps(facts)
        assert isinstance(facts["errors"], int)
    assert extract(b"def f(:\n  x = (1,\nclass")["errors"] > 0
    facts = extract("def caf\u00e9(): r\u00e9sum\u00e9()\n".encode())
    assert facts["defs"][0][1] == "caf\u00e9" and facts["calls"][0][2] == "r\u00e9sum\u00e9"


def test_helpers():
    assert module_name("pkg/mod.py") == ("pkg.mod", False)
    assert module_name("pkg/__init__.py") == ("pkg", True)
    assert module_name("foo.py") == ("foo", False)
    assert annotation_names("Optional[Foo]") == ["Foo"]
    assert annotation_names("dict[str, a.Bar] | None") == ["str", "a.Bar"]
    assert annotation_names("'Foo'") == ["Foo"]
    assert annotation_names("Literal['x', 'y']") == []
    assert receiver_annotation("Optional[Foo]") == "Foo"
    assert receiver_annotation("Foo | None") == "Foo"
    assert receiver_annotation('"pkg.Foo"') == "pkg.Foo"
    assert receiver_annotation("list[Foo]") is None


# --- entities -----------------------------------------------------------------------------------

def test_entities_kinds_and_columns(kg):
    r, entities, _ = kg
    expected = {
        "pkg": O.PACKAGE, "pkg.sub": O.PACKAGE, "nsp": O.PACKAGE, "nsp.inner": O.PACKAGE,
        "pkg.impl": O.MODULE, "top": O.MODULE, "nsp.inner.mod": O.MODULE,
        "pkg.impl.Parser": O.CLASS, "pkg.impl.Color": O.ENUM, "pkg.impl.Parser.parse": O.METHOD,
        "pkg.impl.make_parser": O.FUNCTION, "pkg.util.traced.wrapper": O.FUNCTION,
        "pkg.sub.base.Child.traced_method.inner": O.FUNCTION,
        "pkg.impl.Parser.registry": O.FIELD, "pkg.impl.Parser.tokenizer": O.FIELD,
        "pkg.impl.Parser.depth": O.FIELD, "pkg.impl.Tokenizer.kind": O.FIELD,
        "pkg.impl._default": O.FIELD, "pkg.util.VERSION": O.FIELD, "pkg.impl.Color.RED": O.FIELD,
        "pkg.util._state": O.FIELD,
    }
    for qname, kind in expected.items():
        assert entities[P + qname]["kind"] == kind, qname
        assert entities[P + qname]["qualified_name"] == qname
    # locals are not fields; a property's name is its method, not a field
    assert P + "pkg.sub.client.locals_demo.p" not in entities
    assert entities[P + "pkg.impl.Parser.size"]["kind"] == O.METHOD
    cols = [f.name for f in schemas.ENTITIES]
    for e in r.entity_dicts():
        assert list(e) == cols
        assert e["language"] == "python"
        assert e["corpus"] == ("<external>" if e["entity_id"].startswith("py:ext:") else "fx")
    e = entities[P + "pkg.impl.Parser"]
    assert (e["path"], e["start_line"], e["end_line"], e["name"]) == ("pkg/impl.py", 29, 67, "Parser")
    assert len(e["file_sha256"]) == 64
    assert entities[P + "pkg"]["path"] == "pkg/__init__.py"
    assert entities[P + "nsp.inner"]["path"] == "nsp/inner" and entities[P + "nsp.inner"]["start_line"] is None
    ext = entities["py:ext:builtins.ValueError"]
    assert ext["kind"] == O.EXTERNAL_CLASS and ext["path"] is None and ext["file_sha256"] is None
    assert entities["py:ext:builtins.len"]["kind"] == O.EXTERNAL_FUNCTION
    assert entities["py:ext:os"]["kind"] == O.EXTERNAL_MODULE


def test_triples_are_well_formed(kg):
    r, entities, _ = kg
    cols = [f.name for f in schemas.TRIPLES if f.name != "kg_version"]
    for t in r.triple_dicts():
        assert list(t) == cols
        assert t["head_id"] in entities and t["tail_id"] in entities, t
        assert O.allowed(t["relation"], entities[t["head_id"]]["kind"], entities[t["tail_id"]]["kind"]), t
        assert t["resolution"] in O.RESOLUTIONS
        if t["tail_id"].startswith("py:ext:"):
            assert t["resolution"] not in ("exact", "local", "syntax")


def test_contains(kg):
    for head, tail in [("pkg", "pkg.impl"), ("pkg", "pkg.sub"), ("pkg.sub", "pkg.sub.base"),
                       ("nsp", "nsp.inner"), ("nsp.inner", "nsp.inner.mod"),
                       ("pkg.impl", "pkg.impl.Parser"), ("pkg.impl.Parser", "pkg.impl.Parser.parse"),
                       ("pkg.impl.Parser", "pkg.impl.Parser.tokenizer"), ("pkg.impl", "pkg.impl._default"),
                       ("pkg.util.traced", "pkg.util.traced.wrapper"),
                       ("pkg.sub.base.Child.traced_method", "pkg.sub.base.Child.traced_method.inner")]:
        assert edge(kg, head, "contains", tail)["resolution"] == "syntax", (head, tail)


# --- imports --------------------------------------------------------------------------------------

def test_imports(kg):
    # relative, re-exported through pkg/__init__, aliased, absolute, star, external
    assert edge(kg, "pkg", "imports", "pkg.impl.Parser")
    assert edge(kg, "pkg.sub.client", "imports", "pkg.impl.Parser")          # from pkg import Parser
    assert edge(kg, "pkg.sub.client", "imports", "pkg.impl.Tokenizer")       # Lexer re-export alias
    assert edge(kg, "pkg.sub.client", "imports", "pkg.util.helper_fn")       # from ..util import ... as hf
    assert edge(kg, "pkg.sub.client", "imports", "pkg.impl")                 # import pkg.impl (as pimpl)
    assert edge(kg, "pkg.sub.client", "imports", "pkg.sub.base")             # from .base import *
    assert edge(kg, "pkg.sub.client", "imports", "pkg.impl._default")        # a module-level field
    assert edge(kg, "pkg.impl", "imports", "pkg.util")                       # from . import util
    assert edge(kg, "pkg.impl", "imports", "py:ext:os")["resolution"] == "external"
    assert edge(kg, "pkg.impl", "imports", "py:ext:enum.Enum")
    # `from . import errors` inside pkg/__init__.py names the submodule (no self-reference loop)
    assert edge(kg, "pkg", "imports", "pkg.errors")
    assert edge(kg, "nsp.inner.mod", "imports", "pkg.errors")  # function-level import: module head


# --- hierarchy -------------------------------------------------------------------------------------

def test_inheritance_and_overrides(kg):
    assert edge(kg, "pkg.errors.ParseError", "inherits_from", "py:ext:builtins.ValueError")
    assert edge(kg, "pkg.errors.FatalError", "inherits_from", "pkg.errors.ParseError")["resolution"] == "exact"
    assert edge(kg, "pkg.impl.Color", "inherits_from", "py:ext:enum.Enum")
    assert tails(kg, "pkg.sub.base.Child", "inherits_from") == {P + "pkg.sub.base.Mixin", P + "pkg.sub.base.Base"}
    # MRO Child -> Mixin -> Base: Child.step overrides Mixin.step, not Base.step
    assert tails(kg, "pkg.sub.base.Child.step", "overrides") == {P + "pkg.sub.base.Mixin.step"}
    assert tails(kg, "pkg.sub.base.GrandChild.hook", "overrides") == {P + "pkg.sub.base.Base.hook"}
    assert not tails(kg, "pkg.sub.base.Base.step", "overrides")
    # builtin bases by introspection: ValueError.__str__ is BaseException's
    assert edge(kg, "pkg.errors.FatalError.__str__", "overrides", "py:ext:builtins.BaseException.__str__")
    assert kg[1]["py:ext:builtins.BaseException.__str__"]["kind"] == O.EXTERNAL_FUNCTION
    assert not tails(kg, "pkg.impl.Parser.__init__", "overrides")  # object's methods are not edges


# --- calls -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("head,tail,relation,resolution", [
    ("pkg.impl.Tokenizer.run", "pkg.impl.Tokenizer.tokens", "calls", "self"),
    ("pkg.impl.Parser.reset", "pkg.impl.Parser.parse", "calls", "self"),
    ("pkg.impl.Parser.create", "pkg.impl.Parser", "instantiates", "self"),          # cls(...)
    ("pkg.impl.Parser.describe", "pkg.impl.Parser.version", "calls", "self"),       # cls.version()
    ("pkg.sub.base.Base.run", "pkg.sub.base.Base.step", "calls", "self"),
    ("pkg.sub.base.Child.go", "pkg.sub.base.Base.run", "calls", "inherited"),
    ("pkg.sub.base.Child.go", "pkg.sub.base.Mixin.mixed", "calls", "inherited"),
    ("pkg.sub.base.Child.go", "pkg.sub.base.Base.hook", "calls", "exact"),          # Base.hook(self)
    ("pkg.sub.base.Child.step", "pkg.sub.base.Mixin.step", "calls", "super"),
    ("pkg.sub.base.GrandChild.hook", "pkg.sub.base.Base.hook", "calls", "super"),
    ("pkg.impl.Parser.__init__", "pkg.impl.Tokenizer", "instantiates", "exact"),
    ("pkg.impl.Parser.parse", "pkg.impl.Tokenizer.tokens", "calls", "assigned"),    # self.tokenizer = ...
    ("pkg.impl.Parser.parse", "pkg.util.check", "calls", "import"),                 # from . import util
    ("pkg.impl.Parser.parse", "py:ext:os.path.join", "calls", "import"),            # import os.path as osp
    ("pkg.impl.parse_default", "pkg.impl.Parser.parse", "calls", "assigned"),       # _default = Parser()
    ("pkg.sub.client.use", "pkg.impl.Parser.parse", "calls", "type_hint"),          # p: Parser
    ("pkg.sub.client.use", "pkg.impl.Tokenizer.tokens", "calls", "type_hint"),      # q: "Lexer"
    ("pkg.sub.client.use", "pkg.impl.Parser.reset", "calls", "type_hint"),          # Optional[Parser]
    ("pkg.sub.client.locals_demo", "pkg.impl.Parser", "instantiates", "import"),
    ("pkg.sub.client.locals_demo", "pkg.impl.Parser.parse", "calls", "assigned"),   # p = Parser(); p.parse()
    ("pkg.sub.client.locals_demo", "pkg.impl.Parser.reset", "calls", "type_hint"),  # m = make_parser()
    ("pkg.sub.client.locals_demo", "pkg.util.helper_fn", "calls", "local"),         # x = hf; x(1)
    ("pkg.sub.client.locals_demo", "pkg.impl.parse_default", "calls", "import"),    # pimpl.parse_default()
    ("pkg.sub.client.locals_demo", "pkg.impl.Parser.create", "calls", "import"),
    ("pkg.sub.client.locals_demo", "py:ext:builtins.len", "calls", "external"),
    ("pkg.sub.client.locals_demo", "pkg.sub.base.Child.go", "calls", "assigned"),   # Child().go()
    ("pkg.sub.client.locals_demo", "pkg.sub.base.helper", "calls", "import"),       # alias import
    ("pkg.sub.client.locals_demo", "pkg.sub.base.Child.step", "calls", "inherited"),
    ("pkg.sub.client.locals_demo", "pkg.impl.Tokenizer.run", "calls", "assigned"),  # Lexer("t").run()
    ("pkg.sub.client.Holder.work", "pkg.impl.Parser.parse", "calls", "type_hint"),  # via typed param
    ("pkg.sub.client.Holder.work", "pkg.impl.Tokenizer.tokens", "calls", "assigned"),
    ("pkg.sub.client.alias_builtin", "py:ext:builtins.object", "instantiates", "external"),
    ("pkg.sub.base.Child.traced_method.inner", "pkg.sub.base.helper", "calls", "exact"),
    ("pkg.util.traced", "py:ext:functools.wraps", "calls", "import"),
    ("top", "pkg.impl.Parser", "instantiates", "import"),                           # module-level head
    ("top", "pkg.impl.Parser.parse", "calls", "assigned"),
    ("top", "pkg.util.helper_fn", "calls", "import"),                               # from pkg import *
    ("nsp.inner.mod.boom", "pkg.errors.FatalError", "instantiates", "import"),
    ("nsp.inner.mod.boom2", "pkg.errors.ParseError", "instantiates", "import"),    # local import
    ("top", "pkg.errors.FatalError", "instantiates", "import"),                     # pkg.errors.X()
    ("pkg.util.bump_state", "pkg.util.Counter.bump", "calls", "assigned"),          # `global _state`
])
def test_call_resolution(kg, head, tail, relation, resolution):
    e = edge(kg, head, relation, tail)
    assert e is not None, (head, relation, tail)
    assert e["resolution"] == resolution


def test_module_level_instances_through_imports(kg):
    demo = tails(kg, "pkg.sub.client.locals_demo", "calls")
    assert P + "pkg.impl.Parser.parse" in demo  # _default.parse() and pkg.impl._default.parse()
    lines = sorted(t["line"] for t in kg[0].triple_dicts() if t["head_id"] == P + "pkg.sub.client.locals_demo"
                   and t["tail_id"] == P + "pkg.impl.Parser.parse")
    assert {26, 27, 36, 37} <= set(lines)


def test_negative_cases_make_no_internal_edges(kg):
    demo = tails(kg, "pkg.sub.client.locals_demo", "calls")
    # obj.run() on an untyped receiver: run() exists in Runner, Base and Tokenizer
    runs = {P + "pkg.sub.client.Runner.run", P + "pkg.sub.base.Base.run"}
    assert not demo & runs
    lines = {t["line"] for t in kg[0].triple_dicts() if t["head_id"] == P + "pkg.sub.client.locals_demo"}
    assert 32 not in lines        # obj.run()
    assert 34 not in lines        # parse = factory(); parse()
    assert 35 not in lines        # undefined_function(): defined nowhere
    # helper = factory(); helper() shadows the star-imported helper
    assert not tails(kg, "pkg.sub.client.shadow", "calls")
    assert not tails(kg, "pkg.sub.client.shadow", "instantiates")
    # star imports: `__all__` of pkg leaves `errors` out; no `__all__` in base leaves `_hidden` out
    assert not tails(kg, "pkg.sub.client.star_negatives", "calls")
    assert not [t for t in kg[0].triple_dicts() if t["head_id"] == P + "top" and t["line"] == 8]
    # comprehension variables and lambda parameters shadow the module-level `_default` and `p`
    assert P + "pkg.impl.Parser.parse" not in tails(kg, "pkg.sub.client.comprehension_shadow", "calls")
    # nothing resolved by a bare name match
    assert not any(t.startswith("py:ext:?") for (_, _, t) in kg[2])


def test_exceptions_decorators_and_types(kg):
    assert edge(kg, "pkg.impl.Parser.parse", "raises", "pkg.errors.ParseError")["resolution"] == "import"
    assert edge(kg, "pkg.impl.Parser.parse", "catches", "pkg.errors.ParseError")
    assert edge(kg, "pkg.impl.Parser.parse", "catches", "py:ext:builtins.ValueError")
    assert edge(kg, "pkg.util.check", "raises", "py:ext:builtins.ValueError")["resolution"] == "external"
    assert edge(kg, "nsp.inner.mod.boom", "raises", "pkg.errors.FatalError")
    assert edge(kg, "pkg.impl.Parser.size", "decorated_by", "py:ext:builtins.property")
    assert edge(kg, "pkg.impl.Parser.create", "decorated_by", "py:ext:builtins.classmethod")
    assert edge(kg, "pkg.util.traced.wrapper", "decorated_by", "py:ext:functools.wraps")
    assert edge(kg, "pkg.sub.base.Child.traced_method", "decorated_by", "pkg.util.traced")["resolution"] == "import"
    assert edge(kg, "pkg.impl.make_parser", "returns_type", "pkg.impl.Parser")
    assert edge(kg, "pkg.impl.maybe_parser", "returns_type", "pkg.impl.Parser")    # Optional[Parser]
    assert not tails(kg, "pkg.impl.maybe_parser", "returns_type") - {P + "pkg.impl.Parser"}
    assert edge(kg, "pkg.sub.client.use", "has_parameter_type", "pkg.impl.Parser")
    assert edge(kg, "pkg.sub.client.use", "has_parameter_type", "pkg.impl.Tokenizer")  # "Lexer"
    assert edge(kg, "pkg.impl.Parser.depth", "has_field_type", "py:ext:builtins.int")  # self.depth: int
    assert edge(kg, "pkg.impl.Tokenizer.kind", "has_field_type", "py:ext:builtins.str")


def test_same_bytes_same_facts_and_corpus_isolation(tmp_path):
    (tmp_path / "a").mkdir()
    src = (PROJ / "pkg" / "util.py").read_bytes()
    (tmp_path / "a" / "util.py").write_bytes(src)
    (tmp_path / "b.py").write_bytes(src)
    r = build_python(tmp_path, corpus="other")
    ids = {e["entity_id"] for e in r.entity_dicts()}
    assert {"py:other:a.util.check", "py:other:b.check", "py:other:a"} <= ids
    assert not any(i.startswith("py:fx:") for i in ids)


# --- the CPython standard library -------------------------------------------------------------------

STDLIB = Path(sysconfig.get_paths()["stdlib"])
STD_FILES = ["json/__init__.py", "json/decoder.py", "json/encoder.py", "json/scanner.py", "json/tool.py",
             "argparse.py", "collections/__init__.py", "http/__init__.py", "http/client.py"]


@pytest.fixture(scope="module")
def std():
    if not all((STDLIB / f).is_file() for f in STD_FILES):
        pytest.skip("CPython stdlib sources not available")
    r = build_python(STDLIB, corpus="std", paths=STD_FILES)
    edges: dict = {}
    for t in sorted(r.triple_dicts(), key=lambda t: (t["path"] or "", t["line"] or 0)):
        edges.setdefault((t["head_id"], t["relation"], t["tail_id"]), t)  # first evidence, as the store keeps
    return r, {e["entity_id"]: e for e in r.entity_dicts()}, edges


def test_stdlib_facts(std):
    _, entities, edges = std
    S = "py:std:"

    def has(head, rel, tail, resolution=None):
        t = edges.get((S + head, rel, tail if tail.startswith("py:") else S + tail))
        return t is not None and (resolution is None or t["resolution"] == resolution)

    assert has("json.decoder.JSONDecodeError", "inherits_from", "py:ext:builtins.ValueError")
    assert has("argparse.ArgumentParser", "inherits_from", "argparse._AttributeHolder")
    assert has("argparse.ArgumentParser", "inherits_from", "argparse._ActionsContainer")
    # json.loads -> _default_decoder.decode(s), a module-level JSONDecoder instance
    assert has("json.loads", "calls", "json.decoder.JSONDecoder.decode", "assigned")
    assert has("json.dumps", "calls", "json.encoder.JSONEncoder.encode", "assigned")
    assert has("json.load", "calls", "json.loads", "exact")
    assert has("json", "imports", "json.decoder.JSONDecoder")
    assert has("json.decoder.JSONDecoder.decode", "calls", "json.decoder.JSONDecoder.raw_decode", "self")
    assert has("argparse.RawDescriptionHelpFormatter._fill_text", "overrides", "argparse.HelpFormatter._fill_text")
    assert has("argparse.ArgumentParser.error", "calls", "argparse.ArgumentParser.exit", "self")
    assert has("http.client.HTTPResponse", "inherits_from", "py:ext:io.BufferedIOBase")
    # response = self.response_class(...) (a class attribute = HTTPResponse); response.begin()
    assert has("http.client.HTTPConnection.getresponse", "calls", "http.client.HTTPResponse.begin", "assigned")
    assert entities[S + "collections.OrderedDict"]["kind"] == O.CLASS
    assert entities[S + "json"]["kind"] == O.PACKAGE


# --- output order: a function of the source alone -------------------------------------------------

# tree-sitter returns captures that start at one byte (`super().__init__` and `super`, `a.b().c` and
# `a.b`) in an order that changes from one extraction to the next, even in one process
EXTRACT_TWICE = """
import hashlib, json, sys
from graphmer_core.parsing.python import extract
data = open(sys.argv[1], "rb").read()
print(json.dumps([hashlib.sha256(json.dumps(extract(data)).encode()).hexdigest() for _ in range(2)]))
"""
STAGE = """
import sys
from pathlib import Path
from graphmer_core.corpus.discovery import Corpus
from graphmer_core.kg.build import stage_kg
from graphmer_core.lake import Lake
print(stage_kg([Corpus("small", Path(sys.argv[1]))], Lake(Path(sys.argv[2])), workers=1).kg_dir)
"""
TIES = ["typing.py", "enum.py", "weakref.py"]  # many `super().m(...)` and `f().m(...)` calls


def _run(code: str, seed: str, *args) -> str:
    out = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True,
                         env={**os.environ, "PYTHONHASHSEED": seed}, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.strip().splitlines()[-1]


def test_calls_starting_at_one_byte_come_outer_first():
    for _ in range(20):  # the old order was drawn afresh on each extraction
        facts = extract(b"class A(B):\n    def f(self):\n        super().__init__(a.b().c(1))\n")
        assert [c[2] for c in facts["calls"]] == ["super().__init__", "super", "a.b().c", "a.b"]
        assert [p[2] for p in facts["pcalls"]] == [["a", ["S"], "__init__"], ["a", ["c", ["n", "a.b"]], "c"]]


def test_argument_lists_found_by_position_in_files_of_many_calls():
    """Past MANY_CALLS call sites, argument lists come from a query of every `argument_list` (class
    bases and decorators too), picked by where they start: the rows match the few-calls path."""
    from graphmer_core.parsing.python import MANY_CALLS

    body = (b"@deco(k=v)\nclass A(B, metaclass=M):\n    def f(self, g):\n"
            b"        return a.b(1).c(g, key=self.h)(x for x in y)\n"
            b"x = (a\n  .b(f)  # note\n  .c(g))\nd[k](f)\nf (  g)\n")
    few = extract(body)["pcalls"]
    many = extract(body + b"z(q)\n" * MANY_CALLS)["pcalls"]
    assert len(few) >= 6 and many[:len(few)] == few


def test_facts_are_identical_across_processes_and_hash_seeds():
    path = STDLIB / TIES[0]
    if not path.is_file():
        pytest.skip("CPython stdlib sources not available")
    digests = {d for seed in ("1", "4242") for d in json.loads(_run(EXTRACT_TWICE, seed, path))}
    assert len(digests) == 1


def test_two_cold_builds_write_byte_identical_parquet(tmp_path):
    if not all((STDLIB / f).is_file() for f in TIES):
        pytest.skip("CPython stdlib sources not available")
    corpus = tmp_path / "corpus" / "pkg"
    corpus.mkdir(parents=True)
    (corpus / "__init__.py").write_bytes(b"")
    for f in TIES:
        shutil.copy(STDLIB / f, corpus / f)
    dirs = [Path(_run(STAGE, seed, corpus.parent, tmp_path / f"lake{seed}")) for seed in ("1", "4242")]
    for table in ("triples.parquet", "entities.parquet"):
        a, b = (hashlib.sha256((d / table).read_bytes()).hexdigest() for d in dirs)
        assert a == b, table


# --- value flow (issue 13) ----------------------------------------------------------------------------

FLOW = FIXTURES / "python" / "flow"
F = "py:fx:patterns."


@pytest.fixture(scope="module")
def flow():
    r = build_python(FLOW)
    edges: dict = {}
    for t in sorted(r.triple_dicts(), key=lambda t: t["line"] or 0):
        edges.setdefault((t["head_id"], t["relation"], t["tail_id"]), t)
    return edges


def calls_of(flow, head: str) -> set[str]:
    return {t[len(F):] for (h, r, t) in flow if h == F + head and r in ("calls", "instantiates")
            and t.startswith(F)}


@pytest.mark.parametrize("head,tail,resolution", [
    ("Registry.put", "Registry.touch", "self"),            # self[k] = v no longer hides self
    ("Registry.put", "Mixin.mixed", "points_to"),          # a builtin base (dict) lacks `mixed`
    ("Registry.clone", "Registry", "points_to"),           # type(self)() and self.__class__()
    ("SubRegistry.touch", "Registry.touch", "points_to"),  # base = super(); base.touch()
    ("patterns", "register", "decorator"),                 # @register applies register
    ("Holder.fire", "Handler.handle", "points_to"),        # self.target = target or Handler()
    ("Holder.fire", "Other.handle", "points_to"),          # self.choice = Handler() if c else Other()
    ("use", "Handler.handle", "points_to"),                # a parameter: use(Handler())
    ("apply", "func", "points_to"),                        # a function passed as an argument
    ("run", "func", "points_to"),                          # a parameter default
    ("outer.inner", "func", "points_to"),                  # a closure over outer's parameter
    ("dispatch", "func", "local"),                         # a = b = func; b()
    ("dispatch", "Handler.handle", "points_to"),           # make().handle(), loops, getattr
    ("dispatch", "Other.handle", "points_to"),             # for h in [Handler(), Other()]
    ("dispatch", "op_a", "points_to"),                     # OPS[key]() and for fn in (op_a, op_b)
    ("dispatch", "op_b", "points_to"),
    ("dispatch", "outer.inner", "points_to"),              # outer(func)()
    ("Logger.child", "Manager.get_logger", "assigned"),    # Logger.manager = Manager() after the class
    ("Stack.top", "Handler.handle", "points_to"),          # xs.append(h) stores h; xs[-1].handle()
    ("branches", "op_a", "points_to"),                     # two branches: both edges
    ("branches", "op_b", "points_to"),
])
def test_points_to_patterns(flow, head, tail, resolution):
    rel = "instantiates" if tail[:1].isupper() and "." not in tail else "calls"
    e = flow.get((F + head if head != "patterns" else "py:fx:patterns", rel, F + tail))
    assert e is not None, (head, tail)
    assert e["resolution"] == resolution


def test_points_to_lines(flow):
    lines = {(t["head_id"][len(F):], t["tail_id"][len(F):], t["line"]) for t in build_python(FLOW).triple_dicts()}
    assert ("dispatch", "func", 110) in lines          # make_cb()()
    assert ("dispatch", "Handler.handle", 118) in lines  # getattr(Handler(), "handle")()


def test_points_to_negatives(flow):
    # a value set over the bound (9 functions > 8) gives no edge at all
    assert not calls_of(flow, "too_many")
    # a dict read with a literal key gives the value under that key only
    assert calls_of(flow, "keyed") == {"op_a"}
    # nothing reaches the same-named method of an unrelated class; an untyped receiver stays unknown
    assert not any(t == F + "Unrelated.handle" for (_, r, t) in flow if r == "calls")
    assert not calls_of(flow, "untyped")


def test_points_to_bound_is_configurable():
    from graphmer_core.kg.python import resolve

    from kg_helpers import parsed_python
    tight = {(t[0], t[2]) for t in resolve("fx", parsed_python(FLOW), bound=1).triples if t[1] == "calls"}
    assert (F + "branches", F + "op_a") not in tight        # two values > 1: nothing
    assert (F + "use", F + "Handler.handle") in tight       # one value: still there


# --- package roots and corpora built together -----------------------------------------------------------

def test_src_layout_tests_link_to_own_code():
    from kg_helpers import parsed_python
    from graphmer_core.kg.resolution import resolve

    r = resolve(parsed_python(FIXTURES / "python" / "srcproj", corpus="mini"))
    ids = {e["entity_id"]: e for e in r.entity_dicts()}
    assert ids["py:mini:minilib.core.Engine"]["path"] == "src/minilib/core.py"
    assert not any(i.startswith("py:mini:src") for i in ids)
    edges = {(t["head_id"], t["relation"], t["tail_id"]) for t in r.triple_dicts()}
    head = "py:mini:tests.check_core.test_engine"
    assert (head, "instantiates", "py:mini:minilib.core.Engine") in edges
    assert (head, "calls", "py:mini:minilib.core.helper") in edges
    assert (head, "calls", "py:mini:minilib.core.Engine.run") in edges
    assert not any(t.startswith("py:ext:minilib") for (_, _, t) in edges)


def test_imports_across_corpora_and_one_external_entity():
    from kg_helpers import parsed_python
    from graphmer_core.kg.resolution import resolve

    files = parsed_python(FIXTURES / "python" / "srcproj", corpus="mini") + \
        parsed_python(FIXTURES / "python" / "srcapp", corpus="app")
    r = resolve(files)
    edges = {(t["head_id"], t["relation"], t["tail_id"]): t for t in r.triple_dicts()}
    e = edges[("py:app:app.main", "calls", "py:mini:minilib.core.helper")]
    assert e["resolution"] == "cross_corpus" and e["corpus"] == "app"
    assert ("py:app:app", "imports", "py:mini:minilib") in edges
    assert ("py:app:app.main", "instantiates", "py:mini:minilib.core.Engine") in edges
    ext = [e for e in r.entity_dicts() if e["entity_id"] == "py:ext:os.getcwd"]
    assert ext and all(e["corpus"] == "<external>" for e in ext)


B = "py:fx:branches."


def test_points_to_alternatives(flow):
    """Module and class bodies: names bound in `if`/`try` statements (platform branches, import
    fallbacks) hold one binding per run, so they reach a callable only when all agree."""
    use = {t for (h, r, t) in flow if h == B + "use" and r == "calls"}
    assert B + "same" in use                                   # one entity on every branch
    assert (B + "select", "calls", B + "_selector") in flow    # f = cached(f) in a branch: still f
    for tail in ("py:fx:altpath_nt.join", "py:fx:altpath_posix.join",   # import a as path / import b as path
                 B + "_win_sep", B + "_posix_sep",             # sep = _win_sep / sep = _posix_sep
                 B + "fast",                                   # accelerator or pure-Python fallback
                 B + "_fspath"):                               # an external `import *` may bind it
        assert tail not in use, tail
    # a function's `try` that catches NameError/ImportError/AttributeError: a fallback, not both
    assert (B + "bootstrap", "calls", B + "bootstrap._wrap") not in flow
    # a parameter default never holds the function it is the default of
    assert (B + "Hooks.__init__.changed", "calls", B + "Hooks.__init__.changed") not in flow
    # `f = Wrapper(f or RawFile())`: the argument f is the one from before the assignment
    assert (B + "Wrapper.read", "calls", B + "RawFile.read") in flow
    assert (B + "Wrapper.read", "calls", B + "Wrapper.read") not in flow
    go = {t for (h, r, t) in flow if h == B + "Shell.go" and r == "calls"}
    assert not go & {B + "Shell.run", B + "_posix_sep"}       # a method defined per platform


def test_points_to_returned_parameter_per_call_site(flow):
    """`def wrap(fn): return fn`: each call gets back its own argument, not every caller's."""
    first = {t for (h, r, t) in flow if h == B + "use_first" and r == "calls"}
    second = {t for (h, r, t) in flow if h == B + "use_second" and r == "calls"}
    assert B + "first" in first and B + "second" not in first
    assert B + "second" in second and B + "first" not in second
