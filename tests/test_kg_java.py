"""Java extraction (tree-sitter) and cross-file resolution, on small fixtures and on the JDK."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from graphmer_core.kg import ontology, schemas
from graphmer_core.parsing import extractor, extractor_version
from graphmer_core.parsing.java import EXTRACTOR_VERSION, extract, norm_type
from java_helpers import KG, build, parse_folder

P = "java:fx:com.acme."
EXT = "java:ext:"


@pytest.fixture(scope="module")
def kg() -> KG:
    return KG(build())


# --- extraction -----------------------------------------------------------------------------

def test_dispatch_and_version():
    assert extractor("java") is extract
    assert extractor_version("java") == EXTRACTOR_VERSION == "java-8"


def test_facts_are_json_and_depend_only_on_bytes():
    src = (Path(__file__).parent / "fixtures/java/com/acme/shapes/Circle.java").read_bytes()
    facts = extract(src)
    assert json.loads(json.dumps(facts)) == facts
    assert extract(src) == facts
    assert facts["package"] == "com.acme.shapes"
    assert facts["errors"] == 0
    assert [t[:2] for t in facts["types"]] == [["class", "Circle"]]
    names = [m[1] for m in facts["methods"]]
    assert names.count("<init>") == 2 and "grow" in names
    grow = next(m for m in facts["methods"] if m[1] == "grow")
    assert grow[4] == [["int", "by"]] and grow[5] == "Circle" and grow[6] == ["InvalidShapeException"]


@pytest.mark.parametrize("src", [
    b"class A { void f( { int x = ; } }",
    b"package ;; import static ; class { } }}} @",
    b"\x00\xff\xfe garbage \x80",
    b"",
    "class \u00c9t\u00e9 { void \u00e7a(String s) { s.length(); } }".encode(),
])
def test_extract_never_raises(src):
    facts = extract(src)
    assert isinstance(facts["errors"], int)
    json.dumps(facts)


def test_syntax_errors_are_counted_and_the_rest_extracted():
    facts = extract(b"package p; class A { void ok() { b(); } void f( { } }")
    assert facts["errors"] > 0
    assert facts["package"] == "p"
    assert "ok" in [m[1] for m in facts["methods"]]


def test_norm_type():
    assert norm_type("Map<String, List<Foo>>") == "Map"
    assert norm_type("java.util.List<? extends T>[]") == "java.util.List[]"
    assert norm_type("Outer<String>.Inner") == "Outer.Inner"
    assert norm_type("@NonNull String") == "String"
    assert norm_type("T...") == "T[]"


def test_signature_as_written_generics_stripped_varargs_as_array(kg):
    assert f"{P}util.Box.map(java.util.function.Function,R[])" in kg.entities
    assert f"{P}app.Renderer.origin(Point[],String[])" in kg.entities
    assert f"{P}util.Box.put(T)" in kg.entities


# --- entities -------------------------------------------------------------------------------

def test_entities_have_schema_columns_and_kinds(kg):
    assert {len(e) for e in kg.res.entities} == {len(schemas.ENTITIES)}
    for e in kg.res.entity_dicts():
        assert e["kind"] in ontology.ENTITY_KINDS
        assert e["language"] == "java"
        if e["kind"] in ontology.EXTERNAL_KINDS:
            assert e["path"] is None and e["start_line"] is None and e["file_sha256"] is None
            assert e["entity_id"].startswith(EXT)
    assert {len(t) for t in kg.res.triples} == {len(schemas.TRIPLES) - 1}  # all but kg_version
    for t in kg.triples:
        assert t["resolution"] in ontology.RESOLUTIONS


def test_every_triple_endpoint_is_an_entity_and_fits_the_ontology(kg):
    for t in kg.triples:
        h, tl = kg.entities[t["head_id"]], kg.entities[t["tail_id"]]
        assert ontology.allowed(t["relation"], h["kind"], tl["kind"]), t
        if t["resolution"] in ("external", "unresolved"):
            assert tl["kind"] in ontology.EXTERNAL_KINDS, t


def test_kinds_names_and_spans(kg):
    e = kg.entities
    assert e[f"{P}shapes"]["kind"] == "Package"
    assert e[f"{P}shapes"]["path"] == "com/acme/shapes"
    assert e["java:fx:"]["kind"] == "Package"  # the unnamed package of Main.java
    assert e[f"{P}shapes.Shape"]["kind"] == "Interface"
    assert e[f"{P}shapes.Color"]["kind"] == "Enum"
    assert e[f"{P}util.Pair"]["kind"] == "Class"  # a record
    assert e[f"{P}shapes.Color.RED"]["kind"] == "Field"  # an enum constant
    assert e[f"{P}util.Pair.left"]["kind"] == "Field"  # a record component
    inner = e[f"{P}shapes.AbstractShape.Point"]
    assert inner["kind"] == "Class" and inner["qualified_name"] == "com.acme.shapes.AbstractShape.Point"
    ctor = e[f"{P}shapes.Circle.<init>(double)"]
    assert ctor["kind"] == "Method" and ctor["name"] == "<init>"
    assert ctor["qualified_name"] == "com.acme.shapes.Circle.<init>"
    assert (ctor["path"], ctor["start_line"], ctor["end_line"]) == ("com/acme/shapes/Circle.java", 6, 9)
    assert len(ctor["file_sha256"]) == 64
    assert e["java:fx:Main"]["qualified_name"] == "Main"
    # members of anonymous classes are not entities
    assert not any(".Renderer.run" in i and "area" in i for i in e if i != f"{P}app.Renderer.run()")


def test_contains_tree(kg):
    assert f"{P}shapes.Circle" in kg.tails(f"{P}shapes", "contains")
    assert f"{P}shapes.AbstractShape.Point" in kg.tails(f"{P}shapes.AbstractShape", "contains")
    assert f"{P}shapes.AbstractShape.Point" not in kg.tails(f"{P}shapes", "contains")
    assert f"{P}shapes.Circle.radius" in kg.tails(f"{P}shapes.Circle", "contains")
    assert f"{P}shapes.Circle.<init>()" in kg.tails(f"{P}shapes.Circle", "contains")
    heads: dict[str, str] = {}
    for t in kg.triples:
        if t["relation"] == "contains":
            assert heads.setdefault(t["tail_id"], t["head_id"]) == t["head_id"]  # a forest


# --- hierarchy ------------------------------------------------------------------------------

def test_extends_and_implements(kg):
    assert kg.tails(f"{P}shapes.Circle", "inherits_from") == {f"{P}shapes.AbstractShape": "same_package"}
    assert kg.tails(f"{P}shapes.AbstractShape", "implements") == {f"{P}shapes.Shape": "same_package"}
    assert kg.tails(f"{P}shapes.Solid", "inherits_from") == {f"{P}shapes.Shape": "same_package"}
    assert set(kg.tails(f"{P}shapes.Cube", "implements")) == {f"{P}shapes.Solid", f"{EXT}java.lang.Cloneable"}
    assert kg.tails(f"{P}shapes.InvalidShapeException", "inherits_from") == {
        f"{EXT}java.lang.Exception": "external"}
    assert kg.tails(f"{P}app.Renderer", "implements") == {f"{EXT}java.lang.Runnable": "external"}


def test_overrides_nearest_first(kg):
    # Cube.area: AbstractShape (superclass) before Shape (interface)
    assert kg.tails(f"{P}shapes.Cube.area()", "overrides") == {f"{P}shapes.AbstractShape.area()": "exact"}
    assert kg.tails(f"{P}shapes.Cube.volume()", "overrides") == {f"{P}shapes.Solid.volume()": "exact"}
    assert kg.tails(f"{P}shapes.AbstractShape.area()", "overrides") == {f"{P}shapes.Shape.area()": "exact"}
    # a type variable of the supertype matches any parameter type
    assert kg.tails(f"{P}util.IntBox.put(Integer)", "overrides") == {f"{P}util.Box.put(T)": "inherited"}
    assert not kg.tails(f"{P}util.IntBox.put(int)", "overrides")  # a primitive never replaces T
    # @Override with no internal match: java.lang.Object's method, external
    assert kg.tails(f"{P}shapes.Circle.toString()", "overrides") == {
        f"{EXT}java.lang.Object.toString": "external"}
    assert kg.entities[f"{EXT}java.lang.Object.toString"]["kind"] == "ExternalFunction"
    assert not kg.tails(f"{P}shapes.Circle.<init>(double)", "overrides")


# --- type references ------------------------------------------------------------------------

def test_declared_types(kg):
    assert kg.tails(f"{P}shapes.Circle.grow(int)", "returns_type") == {f"{P}shapes.Circle": "exact"}
    assert not kg.tails(f"{P}shapes.Circle.area()", "returns_type")  # primitive
    assert not kg.tails(f"{P}shapes.AbstractShape.scale(double)", "has_parameter_type")
    assert kg.tails(f"{P}app.Canvas.draw(Shape)", "has_parameter_type") == {f"{P}shapes.Shape": "import"}
    # arrays reduce to the element type; nested type through a single-type import
    assert kg.tails(f"{P}app.Renderer.origin(Point[],String[])", "has_parameter_type") == {
        f"{P}shapes.AbstractShape.Point": "import", f"{EXT}java.lang.String": "external"}
    assert kg.tails(f"{P}app.Renderer.canvas", "has_field_type") == {f"{P}app.Canvas": "same_package"}
    # generics reduce to the raw type; java.util.* is the only on-demand import that can hold Map
    assert kg.tails(f"{P}app.Renderer.cache", "has_field_type") == {f"{EXT}java.util.Map": "external"}
    assert kg.tails(f"{P}util.Box.entry", "has_field_type") == {f"{EXT}java.util.Map.Entry": "external"}
    # type variables produce nothing
    assert not kg.tails(f"{P}util.Box.value", "has_field_type")
    assert not kg.tails(f"{P}util.Box.get()", "returns_type")
    assert set(kg.tails(f"{P}util.Box.map(java.util.function.Function,R[])", "has_parameter_type")) == {
        f"{EXT}java.util.function.Function"}
    # nested type of the current class, without import
    assert kg.tails(f"{P}shapes.AbstractShape.addPoint(Point)", "has_parameter_type") == {
        f"{P}shapes.AbstractShape.Point": "exact"}


def test_java_lang_is_implicit(kg):
    assert kg.tails(f"{P}util.Strings.upper(String)", "returns_type") == {f"{EXT}java.lang.String": "external"}
    assert kg.entities[f"{EXT}java.lang.String"]["kind"] == "ExternalClass"


def test_ambiguous_simple_name_is_never_guessed(kg):
    # Widget exists in com.acme.a and com.acme.b, both imported on demand
    assert kg.tails(f"{P}app.Ambiguous.widget", "has_field_type") == {f"{EXT}?.Widget": "unresolved"}
    assert kg.entities[f"{EXT}?.Widget"]["kind"] == "ExternalSymbol"
    assert not kg.tails(f"{P}app.Ambiguous.go()", "calls")


def test_annotations(kg):
    assert kg.tails(f"{P}shapes.Cube", "annotated_with") == {f"{EXT}java.lang.Deprecated": "external"}
    assert kg.tails(f"{P}shapes.Circle.area()", "annotated_with") == {f"{EXT}java.lang.Override": "external"}
    assert kg.tails(f"{P}shapes.Solid", "annotated_with") == {f"{EXT}java.lang.FunctionalInterface": "external"}


def test_throws_and_catches(kg):
    assert kg.tails(f"{P}shapes.Circle.grow(int)", "throws") == {f"{P}shapes.InvalidShapeException": "same_package"}
    assert kg.tails(f"{P}app.Renderer.origin(Point[],String[])", "throws") == {f"{EXT}java.io.IOException": "external"}
    assert kg.tails(f"{P}app.Renderer.run()", "catches") == {
        f"{P}shapes.InvalidShapeException": "import", f"{EXT}java.lang.IllegalStateException": "external"}


def test_imports(kg):
    r = kg.tails(f"{P}app.Renderer", "imports")
    assert r[f"{P}shapes.Circle"] == "import"
    assert r[f"{P}shapes.AbstractShape.Point"] == "import"  # a nested type
    assert r[f"{P}util"] == "import"  # on demand, a corpus package
    assert r[f"{EXT}java.util"] == "external"  # on demand, outside the corpus
    assert r[f"{EXT}java.io.IOException"] == "external"
    assert r[f"{P}util.Strings.pad(String,int)"] == "import"  # static import of a member
    assert kg.entities[f"{EXT}java.util"]["kind"] == "ExternalSymbol"


# --- calls and instantiation ----------------------------------------------------------------

def test_calls_by_receiver_kind(kg):
    run = kg.tails(f"{P}app.Renderer.run()", "calls")
    assert run[f"{P}shapes.Circle.grow(int)"] == "type_hint"  # local with a declared type
    assert run[f"{P}shapes.Circle.area()"] in ("assigned", "exact")  # var c2 = new Circle(); new Circle().area()
    assert run[f"{P}shapes.Shape.area()"] == "type_hint"  # this.current.area()
    assert run[f"{P}shapes.Shape.name()"] == "type_hint"  # current.name()
    assert run[f"{P}app.Canvas.draw(Shape)"] == "type_hint"
    assert run[f"{P}util.Strings.upper(String)"] == "exact"  # Type.staticMethod(), on-demand import
    assert run[f"{P}util.Strings.pad(String,int)"] == "import"  # static import
    assert run[f"{P}app.Renderer.helper()"] == "exact"
    assert run[f"{EXT}java.util.List.add"] == "external"
    assert kg.entities[f"{EXT}java.util.List.add"]["kind"] == "ExternalFunction"
    # unknown receiver (result of an unresolvable call): no internal edge to any area()
    assert not [t for t in kg.triples if t["line"] == 46 and t["path"].endswith("Renderer.java")
                and t["tail_id"].startswith("java:fx:")]
    assert kg.tails(f"{P}app.Renderer.Inner.work()", "calls") == {
        f"{P}app.Renderer.helper()": "exact", f"{P}app.Canvas.draw(Shape)": "type_hint"}
    assert kg.tails("java:fx:Main.main(String[])", "calls") == {
        f"{P}app.Renderer.run()": "exact", f"{EXT}java.util.Objects.requireNonNull": "external",
        f"{P}util.Strings.upper(String)": "import",  # static on-demand import
        f"{EXT}java.lang.Math.max": "external"}  # static import of an external member
    assert kg.tails("java:fx:Main", "imports") == {
        f"{P}util.Strings": "import", f"{EXT}java.lang.Math.max": "external"}


def test_var_assigned(kg):
    lines = {t["line"]: t["resolution"] for t in kg.triples
             if t["head_id"] == f"{P}app.Renderer.run()" and t["tail_id"] == f"{P}shapes.Circle.area()"}
    assert lines == {26: "assigned", 32: "exact"}


def test_self_super_inherited_and_overloads(kg):
    assert kg.tails(f"{P}shapes.Circle.toString()", "calls") == {f"{P}shapes.AbstractShape.name()": "inherited"}
    assert kg.tails(f"{P}shapes.Cube.name()", "calls") == {f"{P}shapes.AbstractShape.name()": "super"}
    assert kg.tails(f"{P}shapes.Circle.<init>(double)", "calls") == {
        f"{P}shapes.AbstractShape.<init>(String)": "super"}
    assert kg.tails(f"{P}shapes.Circle.<init>()", "calls") == {f"{P}shapes.Circle.<init>(double)": "overload"}
    # arity picks scale(double) among scale(double) / scale(double, double)
    assert kg.tails(f"{P}shapes.Circle.grow(int)", "calls")[f"{P}shapes.AbstractShape.scale(double)"] == "overload"
    assert kg.tails(f"{P}shapes.AbstractShape.scale(double)", "calls") == {
        f"{P}shapes.AbstractShape.scale(double,double)": "overload"}
    # same arity: literal argument kinds decide, an unknown argument decides nothing
    d = kg.tails(f"{P}shapes.Circle.describe(Object)", "calls")
    assert d[f"{P}shapes.Circle.format(String)"] == "overload"
    assert d[f"{P}shapes.Circle.format(int)"] == "overload"
    fmt = [t for t in kg.triples if t["head_id"] == f"{P}shapes.Circle.describe(Object)"
           and "format" in t["tail_id"]]
    assert sorted(t["line"] for t in fmt) == [40, 41]  # format(o) at line 42 has no edge
    assert d[f"{P}shapes.Circle.grow(int)"] == "self"
    assert d[f"{P}shapes.Circle.area()"] == "type_hint"  # this.grow(2).area(): declared return type


def test_anonymous_class_bodies_fold_into_the_enclosing_method(kg):
    # helper() inside `new Shape() {...}`: not in Shape, so the enclosing Renderer's
    lines = {t["line"] for t in kg.triples if t["head_id"] == f"{P}app.Renderer.run()"
             and t["tail_id"] == f"{P}app.Renderer.helper()"}
    assert lines == {33, 38}
    # no instantiates edge to an interface
    assert f"{P}shapes.Shape" not in kg.tails(f"{P}app.Renderer.run()", "instantiates")


def test_instantiates(kg):
    assert kg.tails(f"{P}app.Renderer.run()", "instantiates") == {
        f"{P}shapes.Circle": "import", f"{EXT}java.util.ArrayList": "external"}
    assert kg.tails(f"{P}app.Renderer", "instantiates") == {f"{P}app.Canvas": "same_package"}  # initializer
    assert kg.tails("java:fx:Main.main(String[])", "instantiates") == {f"{P}app.Renderer": "exact"}  # FQN
    assert kg.tails(f"{P}shapes.AbstractShape.Point.translate(int,int)", "instantiates") == {
        f"{P}shapes.AbstractShape.Point": "exact"}


def test_ids_never_cross_corpora(tmp_path):
    files = parse_folder(Path(__file__).parent / "fixtures/java", corpus="other", subdirs=("com/acme/util",))
    from graphmer_core.kg.resolution import resolve

    res = resolve(files)
    assert all(e["entity_id"].startswith(("java:other:", "java:ext:")) for e in res.entity_dicts())


# --- the JDK --------------------------------------------------------------------------------

def _jdk_root() -> Path | None:
    lake = Path(__file__).resolve().parents[1] / "data_lake" / "corpora"
    for cand in (os.environ.get("GRAPHMER_JDK_SRC"), lake / "jdk17" / "java.base", lake / "jdk" / "java.base"):
        if cand and (Path(cand) / "java/util/ArrayList.java").is_file():
            return Path(cand)
    return None


@pytest.mark.skipif(_jdk_root() is None, reason="JDK java.base sources not found (data_lake/corpora/jdk17/"
                    "java.base): set GRAPHMER_JDK_SRC to an unpacked java.base folder of src.zip "
                    "(e.g. from openjdk-17-source)")
def test_jdk_facts():
    root = _jdk_root()
    kg = KG(build(root, corpus="jdk", subdirs=("java/util", "java/lang")))
    J = "java:jdk:java."
    assert f"{J}util.AbstractList" in kg.tails(f"{J}util.ArrayList", "inherits_from")
    assert f"{J}util.List" in kg.tails(f"{J}util.ArrayList", "implements")
    over = {kg.entities[t]["qualified_name"] for e in kg.entities
            if kg.entities[e]["qualified_name"] == "java.util.ArrayList.add"
            for t in kg.tails(e, "overrides")}
    assert "java.util.AbstractList.add" in over
    # when the corpus is the JDK, java.lang resolves internally
    assert kg.tails(f"{J}util.ArrayList.toString()", "returns_type") in (
        {}, {f"{J}lang.String": "import"})
    size = kg.tails(f"{J}util.ArrayList.isEmpty()", "overrides")
    assert size and all(t.startswith(J) for t in size)
    for t in kg.triples:
        h, tl = kg.entities[t["head_id"]], kg.entities[t["tail_id"]]
        assert ontology.allowed(t["relation"], h["kind"], tl["kind"]), t


def test_lambda_parameter_shadows_a_field(kg):
    assert kg.tails(f"{P}app.Canvas.draw(Shape)", "calls") == {f"{P}shapes.Shape.area()": "type_hint"}
    assert kg.tails(f"{P}app.Canvas.each(java.util.List)", "calls") == {f"{EXT}java.util.List.forEach": "external"}


def test_anonymous_class_parameters_shadow_fields(kg):
    # `shape` is the anonymous compare()'s Shape parameter, not the Circle field
    assert kg.tails(f"{P}app.Sorter.byArea()", "calls") == {
        f"{P}shapes.Shape.area()": "type_hint", f"{EXT}java.lang.Double.compare": "external"}


def test_field_named_like_a_member_type_keeps_its_own_id(kg):
    assert kg.entities[f"{P}util.Strings.Blank"]["kind"] == "Class"
    assert kg.entities[f"{P}util.Strings.Blank#field"]["kind"] == "Field"
    assert kg.tails(f"{P}util.Strings.Blank#field", "has_field_type") == {f"{P}util.Strings.Blank": "exact"}


def test_simple_name_in_other_packages_without_import_is_unresolved(kg):
    assert kg.tails(f"{P}app.NoImport.widget", "has_field_type") == {f"{EXT}?.Widget": "unresolved"}
    assert kg.tails(f"{P}app.NoImport.go(Widget)", "has_parameter_type") == {f"{EXT}?.Widget": "unresolved"}
    assert not kg.tails(f"{P}app.NoImport.go(Widget)", "calls")


# --- calls chosen by argument types (issue 13) -------------------------------------------------

OV = f"{P}calls.Overloads."


def _lines(kg, head, tail_prefix):
    return {t["line"]: t["tail_id"] for t in kg.triples
            if t["head_id"] == head and t["relation"] == "calls" and t["tail_id"].startswith(tail_prefix)}


def test_overloads_chosen_by_argument_types(kg):
    calls = kg.tails(f"{OV}calls(Circle,Cube,int)", "calls")
    assert calls[f"{OV}take(Shape)"] == "overload"  # subtyping: Circle -> AbstractShape -> Shape
    assert f"{OV}take(String)" not in calls
    assert calls[f"{OV}box(Integer)"] == "overload"  # boxing of an int literal
    assert f"{OV}box(String)" not in calls
    assert calls[f"{OV}num(long)"] == "overload"  # widening of an int parameter
    assert calls[f"{OV}pick(Circle)"] == "overload"  # the most specific of two that fit
    assert calls[f"{OV}pick(Object)"] == "overload"  # a Cube is no Circle
    assert calls[f"{P}calls.Holder.<init>(int)"] == "overload"
    assert calls[f"{P}calls.Holder.<init>(String)"] == "overload"
    head = f"{OV}calls(Circle,Cube,int)"
    take = _lines(kg, head, f"{OV}take")
    assert set(take.values()) == {f"{OV}take(Shape)"} and len(take) == 2  # also through makeCircle()
    pick = _lines(kg, head, f"{OV}pick")
    assert pick == {48: f"{OV}pick(Circle)", 49: f"{OV}pick(Object)"}


def test_an_argument_of_unknown_type_leaves_an_ambiguous_overload_without_edge(kg):
    calls = kg.tails(f"{OV}calls(Circle,Cube,int)", "calls")
    assert not [t for t in calls if ".amb(" in t]


def test_method_references(kg):
    refs = kg.tails(f"{P}calls.References.refs(java.util.List)", "calls")
    assert refs[f"{P}calls.References.length(String)"] == "method_ref"
    assert refs[f"{P}calls.References.make(int)"] == "method_ref"
    assert not [t for t in refs if "Holder.<init>" in t]  # overloaded constructors: no guess


# --- generics, bounds, var, lambdas (issue 13) -------------------------------------------------

G = "java:fx:gen."


@pytest.fixture(scope="module")
def gen() -> KG:
    return KG(build(subdirs=("gen",)))


def _calls_at(kg: KG, head: str, line: int) -> dict[str, str]:
    return {t["tail_id"][len(G):]: t["resolution"] for t in kg.triples
            if t["head_id"] == head and t["relation"] == "calls" and t["line"] == line}


def test_generic_facts_keep_type_arguments():
    facts = extract(b"class A<T extends Node & Cmp<T>> implements Seq<List<T>> {"
                    b" Map<String, List<Foo>> m;"
                    b" <R extends Leaf> Map<K, V> go(final Map<K, ? super V> a, int b) {"
                    b" var x = m.get(1); for (var y : m) {} m.each(z -> z.f()); } }")
    t = facts["types"][0]
    assert t[9] == [["T", ["Node", "Cmp<T>"]]] and t[10] == ["Seq<List<T>>"]
    assert facts["fields"][0][7] == "Map<String,List<Foo>>"
    m = facts["methods"][0]
    assert m[4] == [["Map", "a"], ["int", "b"]]  # the erased parameters are unchanged
    assert m[10] == ["Map<K,V>", ["Map<K,?superV>", ""], [["R", ["Leaf"]]]]
    locs = {r[1]: r for r in facts["locals"]}
    assert locs["x"][3] == "k:0" and locs["y"][3] == "it:n:m"
    assert facts["lambdas"] == [[0, ["z"], ["?"], 1, 0, -1, ""]]
    assert facts["calls"][2][8] == 0  # z.f() is inside lambda 0


def test_generic_type_arguments_of_fields_locals_and_parameters(gen):
    f = f"{G}Uses.fields()"
    assert _calls_at(gen, f, 9) == {"Seq.get(int)": "type_hint", "Node.visit()": "type_hint"}
    assert _calls_at(gen, f, 10)["Node.parent()"] == "type_hint"  # Seq<E> tail() keeps E
    assert _calls_at(gen, f, 11)["Leaf.leafOnly()"] == "type_hint"  # Table<String, Leaf>.get -> V
    assert _calls_at(gen, f, 12)["Leaf.leafOnly()"] == "type_hint"  # Seq<Entry<K, V>>, nested
    loc = f"{G}Uses.locals(Seq,NodeSeq)"
    assert "Node.visit()" in _calls_at(gen, loc, 17)  # a local Seq<Node>
    assert "Leaf.leafOnly()" in _calls_at(gen, loc, 18)  # a parameter Seq<Leaf>
    assert "Node.visit()" in _calls_at(gen, loc, 19)  # NodeSeq implements Seq<Node>
    assert _calls_at(gen, loc, 21) == {"Leaf.leafOnly()": "assigned"}  # for (var n2 : Seq<Leaf>)


def test_type_variable_bounds(gen):
    use = f"{G}Box.use(T)"
    assert _calls_at(gen, use, 10) == {"Node.visit()": "type_hint"}  # T t, T extends Node
    assert _calls_at(gen, use, 11) == {"Node.parent()": "type_hint"}  # a field of type T
    assert "Node.visit()" in _calls_at(gen, use, 12)  # T get()
    assert "Node.visit()" in _calls_at(gen, use, 13)  # Seq<T>.get -> T -> its bound
    assert _calls_at(gen, f"{G}Box.leafy(U)", 17) == {"Leaf.leafOnly()": "type_hint"}  # a method's <U>
    # an unbounded type variable is no type: no edge
    assert gen.tails(f"{G}Box.free(U,Seq)", "calls") == {f"{G}Seq.get(int)": "type_hint"}


def test_var_with_an_evident_initializer(gen):
    v = f"{G}Uses.vars(Object)"
    assert _calls_at(gen, v, 26) == {"Node.visit()": "assigned"}  # var a = nodes.get(0)
    assert _calls_at(gen, v, 28) == {"Leaf.leafOnly()": "assigned"}  # var b = (Leaf) o
    assert _calls_at(gen, v, 30) == {"Box.get()": "assigned", "Leaf.leafOnly()": "type_hint"}  # new Box<Leaf>()
    assert _calls_at(gen, v, 32) == {"Box.get()": "assigned", "Leaf.leafOnly()": "type_hint"}  # var e = d


def test_lambda_parameters_from_the_functional_interface(gen):
    lam = f"{G}Uses.lambdas()"
    assert _calls_at(gen, lam, 36) == {"Seq.each(Sink)": "type_hint", "Node.visit()": "type_hint"}
    assert _calls_at(gen, lam, 37)["Node.parent()"] == "type_hint"  # declared (Node y)
    assert _calls_at(gen, lam, 38)["Leaf.leafOnly()"] == "type_hint"  # en: Entry<String, Leaf>
    assert _calls_at(gen, lam, 39)["Node.parent()"] == "type_hint"  # Fn<? super E, ? extends R>
    # a lambda parameter shadows the field `Other other`
    assert _calls_at(gen, lam, 40) == {"Seq.each(Sink)": "type_hint", "Node.visit()": "type_hint"}
    # the lambda bodies' calls belong to the enclosing method
    assert {t["head_id"] for t in gen.triples if t["path"] == "gen/Uses.java" and t["line"] in (36, 38)
            and t["relation"] == "calls"} == {lam}


def test_raw_and_unknown_type_arguments_give_no_edge(gen):
    neg = f"{G}Uses.negatives(Seq,Seq,Seq,Seq)"
    for line in (46, 47, 48, 50, 51):  # raw, <?>, <? super Leaf>, raw lambda, <R> inferred
        assert not {k for k in _calls_at(gen, neg, line) if not k.startswith("Seq.")}, line
    assert _calls_at(gen, neg, 49)["Leaf.leafOnly()"] == "type_hint"  # <? extends Leaf>
    assert _calls_at(gen, neg, 52) == {"Node.visit()": "type_hint"}  # Sink<Node> s = q -> ..: see below


T = f"{G}Targets."


def test_lambda_targets_are_recorded_for_lambdas_that_are_no_call_argument():
    facts = extract(b"class A { Sink<Node> f = n -> n.v(); Fn<A, B> g; Sink<B> m() {"
                    b" g = a -> a; this.g = (b) -> b; Object o = (Fn<A, B>) c -> c; Sink<?>[] arr = {};"
                    b" Runnable r = () -> new Object() { Sink<C> i() { return d -> d.v(); } };"
                    b" use(e -> e); return x -> y -> y; } }")
    assert [row[6] for row in facts["lambdas"]] == [
        "c:Sink<Node>", "n:g", "q:this.g", "c:Fn<A,B>", "c:Runnable",
        "",    # an anonymous class's `return` is not m()'s
        "",    # a call argument: typed by the call's parameter instead (row 3 >= 0)
        "r",   # m()'s return type
        ""]    # the body of a lambda: not evident
    assert facts["lambdas"][6][3] >= 0


def test_lambdas_typed_by_what_they_are_assigned_to(gen):
    leaf, node = {"Leaf.leafOnly()": "type_hint"}, {"Node.parent()": "type_hint"}
    assert _calls_at(gen, f"{G}Targets", 5) == {"Node.visit()": "type_hint"}  # a field's initializer
    loc = f"{T}locals()"
    assert _calls_at(gen, loc, 10) == node                                   # Sink<Node> s = q -> ..
    assert _calls_at(gen, loc, 12) == node                                   # f = a -> .. (a local)
    assert _calls_at(gen, loc, 13) == leaf                                   # conv = (l) -> {..} (a field)
    assert _calls_at(gen, loc, 14) == leaf                                   # this.later = (m) -> ..
    assert _calls_at(gen, loc, 15) == leaf                                   # (Sink<Leaf>) k -> ..
    assert _calls_at(gen, loc, 16) == {"Node.visit()": "type_hint"}          # (r -> ..) parenthesized
    assert _calls_at(gen, f"{T}made()", 20) == leaf                          # return leaf -> ..
    assert _calls_at(gen, f"{T}anonymous()", 37) == {"Node.visit()": "type_hint"}
    assert _calls_at(gen, f"{T}choose(boolean)", 47) == leaf                 # both branches of `c ? .. : ..`
    assert _calls_at(gen, f"{T}choose(boolean)", 48) == node                 # return c ? x -> .. : null


def test_lambda_arguments_of_constructors(gen):
    facts = extract(b"class A { void m() { new H(1, (a, b) -> a); new H(c -> c) {}; } }")
    assert [row[6] for row in facts["lambdas"]] == ["ctor:0:1", "ctor:1:0"]
    ctor = f"{T}constructed(Seq)"
    # the constructor chosen among overloads types the lambda: Holder(Sink<Leaf>), Holder(int, Fn<Node, Node>)
    assert _calls_at(gen, ctor, 41) == {"Holder.<init>(Sink)": "overload", "Leaf.leafOnly()": "type_hint"}
    assert _calls_at(gen, ctor, 42) == {"Holder.<init>(int,Fn)": "overload", "Node.parent()": "type_hint"}
    # Holder(Seq<T>, Sink<T>): the class's own T is not recorded for `new Holder<Node>(..)`: no edge
    assert _calls_at(gen, ctor, 43) == {"Holder.<init>(Seq,Sink)": "overload"}


def test_lambda_targets_that_give_no_type_give_no_edge(gen):
    neg = f"{T}negatives()"
    for line in (28, 29, 30):  # raw Sink, Sink<?>, two parameters for a one-parameter method
        assert _calls_at(gen, neg, line) == {}, line
    assert _calls_at(gen, f"{T}nested()", 24) == {}  # the body of a lambda: its type is not followed
    # `return e -> ..` in an anonymous class's method is not the enclosing method's return
    assert _calls_at(gen, f"{T}anonymous()", 35) == {}


def test_same_named_methods_of_an_unrelated_class_are_never_reached(gen):
    assert not [t for t in gen.triples if t["relation"] == "calls" and t["tail_id"].startswith(f"{G}Other.")]
