"""Incremental resolution: a rebuild after each kind of change gives the KG of a cold build, triple
for triple, and re-resolves only the files the change can reach (graphmer_core.kg.incremental)."""

from __future__ import annotations

import marshal
import shutil
from dataclasses import replace
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from graphmer_core.corpus.discovery import Corpus
from graphmer_core.kg.build import build_kg
from graphmer_core.kg import incremental
from graphmer_core.kg.incremental import ROWS_FILE
from graphmer_core.lake import Lake
from graphmer_core.kg import summaries
from graphmer_core.kg.summaries import JavaCorpus, java_summary
from incremental_fuzz import JDK_BASE, copy_parts, rounds, same_violations
from java_helpers import parse_folder

FIXTURES = Path(__file__).parent / "fixtures"
APP = '''from shop.cart import Cart
from shop.pricing import PriceList


def run(prices: PriceList) -> float:
    cart = Cart(prices)
    cart.add("x")
    return cart.total()
'''


def _tables(kg_dir: Path) -> tuple[list[dict], list[dict]]:
    return (pq.read_table(kg_dir / "entities.parquet").to_pylist(),
            pq.read_table(kg_dir / "triples.parquet").to_pylist())


class Corpora:
    """A Java corpus (tests/fixtures/java) and two Python corpora, `app` importing `shop`, in
    tmp_path; `build()` rebuilds in one lake and cold in a fresh one, and compares the KGs."""

    def __init__(self, tmp: Path, workers: int = 1):
        self.tmp, self.workers = tmp, workers  # of the incremental builds; the cold ones resolve in one process
        self.java = tmp / "src" / "jfx"
        shutil.copytree(FIXTURES / "java", self.java)
        shutil.copytree(FIXTURES / "shop" / "shop", tmp / "src" / "shop" / "shop")
        (tmp / "src" / "app").mkdir()
        (tmp / "src" / "app" / "main.py").write_text(APP)
        self.corpora = [Corpus("jfx", self.java), Corpus("shop", tmp / "src" / "shop"),
                        Corpus("app", tmp / "src" / "app")]
        self.lake = Lake(tmp / "lake")
        self.colds = 0
        self.modes: list[str] = []  # how each incremental build made its tables (store.Patch or rows)
        self.java_files = sum(1 for _ in self.java.rglob("*.java"))

    def java_only(self, package: str, sources: dict[str, str]) -> int:
        """The Java corpus alone, with these classes added in `package` (name -> its body, after
        the package line); the count of its files."""
        self.corpora = self.corpora[:1]
        (self.java / package).mkdir()
        for name, body in sources.items():
            (self.java / package / f"{name}.java").write_text(f"package {package};\n\n{body}")
        return self.java_files + len(sources)

    def edit(self, rel: str, old: str, new: str) -> None:
        p = self.tmp / "src" / rel
        text = p.read_text()
        assert old in text, (rel, old)
        p.write_text(text.replace(old, new, 1))

    def build(self) -> dict:
        """The incremental build's manifest `resolve` section, after checking it against a cold build."""
        warm = build_kg(self.corpora, self.lake, workers=self.workers, gates=None)
        assert not warm.reused
        self.colds += 1
        cold = build_kg(self.corpora, Lake(self.tmp / f"cold{self.colds}"), workers=1, gates=None)
        assert warm.kg_version == cold.kg_version
        w_entities, w_triples = _tables(warm.kg_dir)
        c_entities, c_triples = _tables(cold.kg_dir)
        assert w_triples == c_triples
        assert w_entities == c_entities
        assert same_violations(warm.kg_dir, cold.kg_dir)
        assert cold.manifest["resolve"]["reused_files"] == 0 and cold.manifest["tables_from"] == {"mode": "rows"}
        self.modes.append(warm.manifest["tables_from"]["mode"])
        assert warm.resolved == warm.manifest["resolve"]["resolved_files"]
        groups = warm.manifest["resolve"]["groups"]
        self.paths = {g: sorted(v.get("resolved_paths", ())) for g, v in groups.items()}
        self.pooled = {g: v["workers"] for g, v in groups.items()}
        return {g: (v["mode"], v["resolved"], v["files"]) for g, v in groups.items()}


@pytest.mark.parametrize("patch_max_share", [incremental.PATCH_MAX_SHARE, 1.0])
def test_rebuilds_match_cold_builds_and_resolve_what_changes_reach(tmp_path, monkeypatch, patch_max_share):
    """Also with every rebuild patching the previous version's tables (patch_max_share 1.0), however
    much of them a change reached."""
    monkeypatch.setattr(incremental, "PATCH_MAX_SHARE", patch_max_share)
    c = Corpora(tmp_path)
    n = c.java_files
    py = "python:app+shop"
    java = "java:jfx"
    assert c.build() == {java: ("per_file", n, n), py: ("corpus", 4, 4)}

    def rebuilt(*paths: str, files: int | None = None) -> None:
        """The rebuild re-resolved exactly these Java files (of `files`) and reused Python."""
        assert c.build() == {java: ("per_file", len(paths), files or n), py: ("corpus", 0, 4)}
        assert c.paths[java] == sorted(paths)

    # A method body edit that moves the lines after it: that file alone.
    c.edit("jfx/com/acme/shapes/Circle.java", "        format(3);\n", "        format(3);\n\n        grow(1);\n")
    rebuilt("com/acme/shapes/Circle.java")
    # A body edit that drops a call of an external method another, reused file calls too: its
    # entity must still come from the reused file's rows.
    c.edit("jfx/com/acme/app/Renderer.java", '        names.add("a");\n', "")
    rebuilt("com/acme/app/Renderer.java")

    # A signature edit: Circle and the three files that name Circle (each looks it up).
    c.edit("jfx/com/acme/shapes/Circle.java", "public void format(int count)", "public void format(long count)")
    rebuilt("com/acme/shapes/Circle.java", "com/acme/app/Renderer.java", "com/acme/app/Sorter.java",
            "com/acme/calls/Overloads.java")

    # A renamed interface: Cube implements it by name; Overloads passes a Cube, whose ancestors
    # (a memo Overloads reads) looked the name up.
    c.edit("jfx/com/acme/shapes/Solid.java", "interface Solid ", "interface Solid3 ")
    rebuilt("com/acme/shapes/Solid.java", "com/acme/shapes/Cube.java", "com/acme/calls/Overloads.java")
    # A changed import: a file's imports are part of its summary (the names in its declarations
    # resolve through them), so Renderer, which uses Canvas, is resolved again too.
    c.edit("jfx/com/acme/app/Canvas.java", "import com.acme.shapes.Shape;", "import com.acme.shapes.*;")
    rebuilt("com/acme/app/Canvas.java", "com/acme/app/Renderer.java")

    # An added file no other file names: itself alone.
    square = c.java / "com" / "acme" / "shapes" / "Square.java"
    square.write_text("package com.acme.shapes;\n\npublic class Square extends AbstractShape {\n"
                      "    public Square() { super(\"square\"); }\n"
                      "    public double area() { return 1.0; }\n}\n")
    rebuilt("com/acme/shapes/Square.java", files=n + 1)
    # An added file that changes what a name means elsewhere: Canvas's `Shape` came from its
    # on-demand import and now is this same-package class (a lookup that found nothing before).
    shadow = c.java / "com" / "acme" / "app" / "Shape.java"
    shadow.write_text("package com.acme.app;\n\npublic class Shape {\n}\n")
    rebuilt("com/acme/app/Shape.java", "com/acme/app/Canvas.java", files=n + 2)
    # Both deleted (and a file touched, so that the version is new): the files whose lookups found
    # them, and the touched one.
    square.unlink()
    shadow.unlink()
    c.edit("jfx/com/acme/shapes/Cube.java", "package com.acme.shapes;", "package com.acme.shapes;\n")
    rebuilt("com/acme/shapes/Cube.java", "com/acme/app/Canvas.java")
    (c.java / "Main.java").unlink()
    rebuilt(files=n - 1)

    # A change in `shop`, which `app` imports: the points-to analysis spans both, so the Python
    # corpora are re-resolved together; Java is reused.
    c.edit("shop/shop/cart.py", "    def total(self) -> float:", "    def total(self) -> int:")
    assert c.build() == {java: ("per_file", 0, n - 1), py: ("corpus", 4, 4)}
    # the first build has no previous version; every later one follows the version before it
    assert c.modes[0] == "rows" and ("rows" not in c.modes[1:] if patch_max_share == 1.0 else "patch" in c.modes)


def test_a_file_in_a_cyclic_hierarchy_is_resolved_in_every_build(tmp_path):
    """A lookup that meets a memo still being computed (here `A.X`, through A -> B -> A; some
    type has a member type X, so the hierarchy is searched) cannot know its keys: that file is
    never reused, and the others are."""
    c = Corpora(tmp_path)
    n = c.java_only("cyc", {"A": "class A extends B {\n    A.X x;\n}\n", "B": "class B extends A {\n}\n",
                            "C": "class C {\n    static class X {\n    }\n}\n"})
    assert c.build() == {"java:jfx": ("per_file", n, n)}
    c.edit("jfx/com/acme/shapes/Circle.java", "        format(3);\n", "        format(4);\n")
    assert c.build() == {"java:jfx": ("per_file", 2, n)}
    assert c.paths["java:jfx"] == ["com/acme/shapes/Circle.java", "cyc/A.java"]


def test_a_damaged_cache_entry_or_file_is_resolved_again(tmp_path):
    """A cached entry whose bytes changed is a miss (that file is resolved again), and a rows file
    whose index does not check, or that is no rows file, is an empty cache; the KG is a cold
    build's either way."""
    c = Corpora(tmp_path)
    c.corpora = c.corpora[:1]
    n = c.java_files
    assert c.build()["java:jfx"] == ("per_file", n, n)
    rows = c.lake.root / "cache" / "resolve" / ROWS_FILE
    data = bytearray(rows.read_bytes())
    data[10] ^= 0xFF  # inside the first file's payload
    rows.write_bytes(bytes(data))
    c.edit("jfx/com/acme/shapes/Circle.java", "        format(3);\n", "        format(4);\n")
    assert c.build()["java:jfx"] == ("per_file", 2, n)
    data = bytearray(rows.read_bytes())
    data[-41] ^= 0xFF  # the index's last byte
    rows.write_bytes(bytes(data))
    c.edit("jfx/com/acme/shapes/Circle.java", "        format(4);\n", "        format(5);\n")
    assert c.build()["java:jfx"] == ("per_file", n, n)
    rows.write_bytes(b"not a rows file")
    c.edit("jfx/com/acme/shapes/Circle.java", "        format(5);\n", "        format(6);\n")
    assert c.build()["java:jfx"] == ("per_file", n, n)


def test_a_previous_version_that_does_not_check_is_no_base_for_a_patch(tmp_path):
    """The previous version's entities changed on disk (its triples still check): the rebuild makes
    its tables anew instead of patching them, and its KG is still a cold build's."""
    c = Corpora(tmp_path)
    c.corpora = c.corpora[:1]
    c.build()
    c.edit("jfx/com/acme/shapes/Circle.java", "        format(3);\n", "        format(4);\n")
    c.build()
    assert c.modes[-1] == "patch"
    entities = c.lake.current_dir() / "entities.parquet"
    entities.write_bytes(entities.read_bytes()[:-9] + b"damaged!!")
    c.edit("jfx/com/acme/shapes/Circle.java", "        format(4);\n", "        format(5);\n")
    c.build()
    assert c.modes[-1] == "rows"


def test_a_member_type_added_to_a_supertype_reaches_the_files_that_named_it(tmp_path):
    """`Sub.Knob` names nothing until Base, Sub's superclass, declares Knob: the file naming it
    looked up a member type that no type had (the "n" key; the hierarchy was not searched), so it
    is resolved again, and gains its edge (which `Corpora.build` checks against a cold build)."""
    c = Corpora(tmp_path)
    n = c.java_only("inh", {"Base": "class Base {\n}\n", "Sub": "class Sub extends Base {\n}\n",
                            "Use": "class Use {\n    Sub.Knob f;\n}\n"})
    assert c.build() == {"java:jfx": ("per_file", n, n)}
    c.edit("jfx/inh/Base.java", "class Base {\n", "class Base {\n    static class Knob {\n    }\n")
    assert c.build() == {"java:jfx": ("per_file", 3, n)}  # and Sub, which names Base
    assert c.paths["java:jfx"] == ["inh/Base.java", "inh/Sub.java", "inh/Use.java"]
    triples = pq.read_table(c.lake.current_dir() / "triples.parquet").to_pylist()
    assert any(t["head_id"] == "java:jfx:inh.Use.f" and t["tail_id"] == "java:jfx:inh.Base.Knob" for t in triples)


def test_a_file_summary_depends_on_its_content_not_on_how_the_process_holds_it():
    """Equal facts give one summary whether their strings are interned, shared or fresh copies (a
    summary that changed with the process's state re-resolved files whose lookups found the same)."""
    [pf] = [f for f in parse_folder(FIXTURES / "java") if f.path.endswith("Circle.java")]

    def fresh(value):  # every string a new object, referenced once, not interned
        if isinstance(value, str):
            return value.encode().decode()
        if isinstance(value, list | tuple):
            return type(value)(fresh(v) for v in value)
        if isinstance(value, dict):
            return {fresh(k): fresh(v) for k, v in value.items()}
        return value

    decoded = marshal.loads(marshal.dumps(pf.facts))  # as the parse cache hands them out: interned
    summaries = {java_summary(replace(pf, facts=facts)) for facts in (pf.facts, fresh(pf.facts), decoded)}
    assert len(summaries) == 1
    changed = fresh(pf.facts)
    changed["methods"][0][1] += "X"  # a renamed method
    assert java_summary(replace(pf, facts=changed)) not in summaries


def test_summaries_are_reused_for_the_same_path_and_content_only(tmp_path):
    """A build keeps each Java file's summary under its path and sha256 for the next one: reused
    for that content, made again for any other, and a damaged entry is made again whole."""
    from graphmer_core.kg.summaries import JavaCorpus

    files = parse_folder(FIXTURES / "java")
    circle = next(f for f in files if f.path.endswith("Circle.java"))
    known = {circle.path: (circle.sha256, "kept"), files[0].path: ("0" * 64, "stale")}
    with JavaCorpus("jfx", files, known) as jc:
        assert jc.summaries[circle.path] == "kept"  # reused, not made again
        assert jc.summaries[files[0].path] == java_summary(files[0]) != "stale"
        assert jc.known()[circle.path] == (circle.sha256, "kept")
    with JavaCorpus("jfx", files, ["not", "a", "dict"]) as jc:
        assert jc.summaries[circle.path] == java_summary(circle)


@pytest.mark.skipif(not JDK_BASE.is_dir(), reason="JDK 17 sources absent (`make corpora` prepares them)")
def test_real_code_rebuilds_match_cold_builds(tmp_path):
    """The same comparisons on real code: java.util and java.lang of JDK 17 (258 files), through
    changes whose reach is wide and indirect: a signature edit, a method renamed in a superclass,
    a class added to java.util that shadows java.lang.Integer there, a changed import, a deleted
    class. Each rebuild gives the cold build's KG and re-resolves only part of the corpus (when
    written: 15, 43, 19, 15 and 59 files of 258)."""
    c = Corpora(tmp_path)
    src = tmp_path / "src" / "jdk"
    copy_parts(JDK_BASE, ["java/util", "java/lang"], src)
    c.corpora = [Corpus("jdk", src)]
    n = sum(1 for _ in src.rglob("*.java"))
    assert c.build() == {"java:jdk": ("per_file", n, n)}

    def rebuilt(files: int = n) -> int:
        (mode, resolved, total), = c.build().values()
        assert mode == "per_file" and total == files and 1 <= resolved < files
        return resolved

    c.edit("jdk/java/util/ArrayList.java", "    public void trimToSize() {", "    public void trimToSize(int unused) {")
    rebuilt()
    c.edit("jdk/java/util/AbstractCollection.java", "    public boolean isEmpty() {", "    public boolean isEmpty2() {")
    rebuilt()
    (src / "java" / "util" / "Integer.java").write_text("package java.util;\n\npublic final class Integer {\n"
                                                        "    public static int parseInt(String s) { return 0; }\n}\n")
    assert rebuilt(n + 1) > 2  # java.util's files that name Integer now mean this one
    c.edit("jdk/java/util/ArrayList.java", "import java.util.function.Consumer;\n",
           "import java.util.function.Consumer;\nimport java.awt.List;\n")
    rebuilt(n + 1)
    (src / "java" / "util" / "Objects.java").unlink()
    rebuilt()


@pytest.mark.skipif(not JDK_BASE.is_dir(), reason="JDK 17 sources absent (`make corpora` prepares them)")
def test_random_edits_to_real_code_rebuild_as_cold_builds(tmp_path):
    """Seeded random edits (renamed methods and classes, changed parameter and return types, imports
    added and dropped, shadowing classes added, files deleted, supertypes changed, ...) to java.util
    and java.lang: every incremental build equals the cold one (tests/incremental_fuzz.py)."""
    copy_parts(JDK_BASE, ["java/util", "java/lang"], tmp_path / "src")
    lines: list[str] = []
    assert rounds(tmp_path / "src", tmp_path, 8, seed=3, report=lines.append) == [], "\n".join(lines)
    reach = [int(line.split("re-resolved ")[1].split()[0]) for line in lines if "re-resolved" in line]
    assert max(reach) > 1 and min(reach) < 200, lines  # changes that reached others, and ones that did not
    assert sum("tables from patch" in line for line in lines) >= 4, lines  # most patched the tables


def _lookup_table(c: Corpora, corpus: str) -> list[str]:
    from graphmer_core.kg.incremental import RowStore, _key, resolver_code_version

    store = RowStore(c.lake.root / "cache" / "resolve")
    try:
        return marshal.loads(store.get(f"java:{corpus}", _key(resolver_code_version(), corpus, "<lookups>")))["keys"]
    finally:
        store.close()


def test_lookups_no_file_uses_any_more_are_pruned(tmp_path, monkeypatch):
    """Files come and go with lookups of their own: once the corpus's lookup table has doubled
    and most of it is unused, it keeps only the keys in use and renumbers every file's, which later
    rebuilds still read right (the KG a cold build's, the file alone re-resolved after a body edit)."""
    monkeypatch.setattr(incremental, "PRUNE_MIN", 0)
    c = Corpora(tmp_path)
    n = c.java_only("junk", {})
    c.build()
    live = len(_lookup_table(c, "jfx"))
    sizes = []
    for i in range(3):  # each file with twice as many lookups of its own as all the others have
        fields = "".join(f"    T{i}x{j} f{j};\n" for j in range(2 * live))
        (c.java / "junk" / f"Junk{i}.java").write_text(f"package junk;\n\nclass Junk{i} {{\n{fields}}}\n")
        if i:
            (c.java / "junk" / f"Junk{i - 1}.java").unlink()
        c.build()
        sizes.append(len(_lookup_table(c, "jfx")))
    # grown with Junk0 (all in use), then with Junk1 (Junk0's keys unused, kept), then doubled
    # since the last check with Junk2: pruned to what the files use, the same size as with Junk0
    assert live < sizes[0] < sizes[1] and sizes[2] == sizes[0]
    keys = _lookup_table(c, "jfx")
    assert not any("T0x" in k or "T1x" in k for k in keys) and any("T2x" in k for k in keys)
    c.edit("jfx/com/acme/shapes/Circle.java", "        format(3);\n", "        format(4);\n")
    assert c.build() == {"java:jfx": ("per_file", 1, n + 1)}
    c.edit("jfx/com/acme/shapes/Circle.java", "public void format(int count)", "public void format(long count)")
    assert c.build() == {"java:jfx": ("per_file", 4, n + 1)}


def test_a_rebuild_decodes_only_the_reused_rows_that_hold_a_key_it_patches(tmp_path):
    """A second resolution of the same files reuses every file's cached rows still encoded: the
    rows of one entity and of its triples decode that entity's file alone, and are those all the
    rows hold, which make a cold resolution's tables. The type index declares the members of only
    the files whose types the resolution of a file looks into."""
    from graphmer_core.corpus.index import index_corpora
    from graphmer_core.kg import build, store
    from graphmer_core.kg.java.emit import FileEmitter, Resolver
    from graphmer_core.kg.resolution import Cached, resolve
    from graphmer_core.parsing.batch import parse_files

    c = Corpora(tmp_path)
    c.corpora = c.corpora[:1]
    c.build()
    records = index_corpora(c.corpora)
    parsed = parse_files(records, c.lake.parse_cache, 1).parsed
    with incremental.ResolveCache(build.resolve_cache(c.lake), c.lake.current_version()) as cache:
        rows = resolve(parsed, {}, cache)
    cache.wait()
    cached = [p for p in rows.parts if isinstance(p, Cached)]
    assert len(cached) == c.java_files and cache.stats.resolved == 0  # every file's rows reused

    loads = []
    for p in cached:
        load = p.load
        p.load = lambda load=load: loads.append(1) or load()
    circle = "java:jfx:com.acme.shapes.Circle"
    some = rows.rows_for({circle}, {circle})
    assert len(loads) == 1  # Circle.java's rows, and no other file's
    whole = rows.whole()
    assert len(loads) == 1 + c.java_files and rows.counts() == (len(whole.entities), len(whole.triples))
    assert [r for r in some.entities if r[0] == circle] == [r for r in whole.entities if r[0] == circle] != []
    assert [r for r in some.triples if r[0] == circle] == [r for r in whole.triples if r[0] == circle] != []
    cold = resolve(parsed)  # each cached file's rows stand alone (its externals too): the same once deduplicated
    assert store._best_entities(whole.entities) == store._best_entities(cold.entities)
    assert store._best_triples(whole.triples) == store._best_triples(cold.triples)

    java = [f for f in parsed if f.language == "java"]
    r = Resolver("jfx", java)
    assert all(u._methods is None for u in r.files)  # nothing asked of any member yet
    jc_path = next(f.path for f in java if f.path.endswith("Circle.java"))
    FileEmitter(r, next(u for u in r.files if u.pf.path == jc_path)).emit()
    declared = {u.pf.path for u in r.files if u._methods is not None}
    assert jc_path in declared and len(declared) < len(java)


def test_files_of_equal_content_rebuild_from_the_cache_on_the_resolver_thread(tmp_path, make_tree):
    """The Python resolver runs on a thread of its own (a deep stack) and reads the cached bodies
    there; two files of equal content share one cache entry. A rebuild re-resolving them (the
    group is resolved whole) reads both, and its KG is a cold build's."""
    files = {"a/__init__.py": "X = 1\n", "b/__init__.py": "X = 1\n",
             "main.py": "from a import X\nfrom b import X as Y\n\ndef f():\n    return X + Y\n"}
    root = make_tree(files)
    corpora = [Corpus("dup", root)]
    lake = Lake(tmp_path / "lake")
    build_kg(corpora, lake, workers=1)
    (root / "main.py").write_text(files["main.py"] + "\ndef g():\n    return f()\n")
    again = build_kg(corpora, lake, workers=1)
    assert again.cache_hits == 2 and again.manifest["resolve"]["resolved_files"] == 3
    cold = build_kg(corpora, Lake(tmp_path / "cold"), workers=1)
    assert _tables(again.kg_dir) == _tables(cold.kg_dir)


def test_files_resolved_in_worker_processes_give_the_kg_of_one_process(tmp_path, monkeypatch):
    """Where many files must be resolved (here from 3; 128 by default), forked workers that share the
    corpus's index resolve them: the KG is, byte for byte, the one a single process resolves, cold
    and after a signature edit, and the manifest says how many processes resolved each group. The
    workers read cached facts on SQLite connections of their own (test_parse_cache)."""
    monkeypatch.setattr(summaries, "POOL_MIN_FILES", 3)
    c = Corpora(tmp_path, workers=2)
    c.corpora = c.corpora[:1]
    n = c.java_files
    assert c.build() == {"java:jfx": ("per_file", n, n)} and c.pooled == {"java:jfx": 2}
    c.edit("jfx/com/acme/shapes/Circle.java", "        format(3);\n", "        format(4);\n")
    assert c.build() == {"java:jfx": ("per_file", 1, n)} and c.pooled == {"java:jfx": 1}  # one file: here
    c.edit("jfx/com/acme/shapes/Circle.java", "public void format(int count)", "public void format(long count)")
    assert c.build() == {"java:jfx": ("per_file", 4, n)} and c.pooled == {"java:jfx": 2}
    for name in ("entities", "triples", "validation"):
        assert (c.lake.current_dir() / f"{name}.parquet").read_bytes() == (
            Lake(tmp_path / f"cold{c.colds}").current_dir() / f"{name}.parquet").read_bytes()


def test_resolve_workers_are_forked_only_while_no_unknown_thread_runs():
    """A lock another thread holds at the fork stays held in the child: with a thread of someone
    else's running, the files are resolved in the build's process. The previous version's reader
    (store.Previous), in DuckDB and Arrow, which the workers never call, does not stop the fork;
    nor do the threads of a Dagster step run from the shell (seen there: a queue feeder and a
    termination handler)."""
    import threading

    assert JavaCorpus.pool_size(1000, 2) == 2, threading.enumerate()
    assert JavaCorpus.pool_size(1000, 1) == JavaCorpus.pool_size(summaries.POOL_MIN_FILES - 1, 2) == 1
    for name, size in (("someone-else", 1), ("graphmer-previous_0", 2), ("QueueFeederThread", 2),
                       ("termination-handler", 2)):
        stop = threading.Event()
        thread = threading.Thread(target=stop.wait, name=name)
        thread.start()
        try:
            assert JavaCorpus.pool_size(1000, 2) == size, name
        finally:
            stop.set()
            thread.join()
