"""Incremental resolution: a rebuild after each kind of change gives the KG of a cold build, triple
for triple, and re-resolves only the files the change can reach (graphmer_core.kg.incremental)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow.parquet as pq

from graphmer_core.corpus.discovery import Corpus
from graphmer_core.kg.build import build_kg
from graphmer_core.kg.incremental import ROWS_FILE
from graphmer_core.lake import Lake

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

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.java = tmp / "src" / "jfx"
        shutil.copytree(FIXTURES / "java", self.java)
        shutil.copytree(FIXTURES / "shop" / "shop", tmp / "src" / "shop" / "shop")
        (tmp / "src" / "app").mkdir()
        (tmp / "src" / "app" / "main.py").write_text(APP)
        self.corpora = [Corpus("jfx", self.java), Corpus("shop", tmp / "src" / "shop"),
                        Corpus("app", tmp / "src" / "app")]
        self.lake = Lake(tmp / "lake")
        self.colds = 0
        self.java_files = sum(1 for _ in self.java.rglob("*.java"))

    def edit(self, rel: str, old: str, new: str) -> None:
        p = self.tmp / "src" / rel
        text = p.read_text()
        assert old in text, (rel, old)
        p.write_text(text.replace(old, new, 1))

    def build(self) -> dict:
        """The incremental build's manifest `resolve` section, after checking it against a cold build."""
        warm = build_kg(self.corpora, self.lake, workers=1, gates=None)
        assert not warm.reused
        self.colds += 1
        cold = build_kg(self.corpora, Lake(self.tmp / f"cold{self.colds}"), workers=1, gates=None)
        assert warm.kg_version == cold.kg_version
        w_entities, w_triples = _tables(warm.kg_dir)
        c_entities, c_triples = _tables(cold.kg_dir)
        assert w_triples == c_triples
        assert w_entities == c_entities
        assert cold.manifest["resolve"]["reused_files"] == 0
        assert warm.resolved == warm.manifest["resolve"]["resolved_files"]
        return {g: (v["mode"], v["resolved"], v["files"]) for g, v in warm.manifest["resolve"]["groups"].items()}


def test_rebuilds_match_cold_builds_and_resolve_what_changes_reach(tmp_path):
    c = Corpora(tmp_path)
    n = c.java_files
    py = "python:app+shop"
    assert c.build() == {"java:jfx": ("per_file", n, n), py: ("corpus", 4, 4)}

    # A method body edit that moves the lines after it: that file alone.
    c.edit("jfx/com/acme/shapes/Circle.java", "        format(3);\n", "        format(3);\n\n        grow(1);\n")
    assert c.build() == {"java:jfx": ("per_file", 1, n), py: ("corpus", 0, 4)}
    # A body edit that drops a call of an external method another, reused file calls too: its
    # entity must still come from the reused file's rows.
    c.edit("jfx/com/acme/app/Renderer.java", '        names.add("a");\n', "")
    assert c.build() == {"java:jfx": ("per_file", 1, n), py: ("corpus", 0, 4)}

    # A signature edit: every Java file (the key is the corpus's summaries), Python reused.
    c.edit("jfx/com/acme/shapes/Circle.java", "public void format(int count)", "public void format(long count)")
    assert c.build() == {"java:jfx": ("per_file", n, n), py: ("corpus", 0, 4)}

    # A renamed class, and a changed import.
    c.edit("jfx/com/acme/shapes/Solid.java", "interface Solid ", "interface Solid3 ")
    assert c.build() == {"java:jfx": ("per_file", n, n), py: ("corpus", 0, 4)}
    c.edit("jfx/com/acme/app/Canvas.java", "import com.acme.shapes.Shape;", "import com.acme.shapes.*;")
    assert c.build() == {"java:jfx": ("per_file", n, n), py: ("corpus", 0, 4)}

    # An added file, then that file deleted (and another touched, so that the version is new): the
    # cache holds the rows of each corpus's last build, so all are resolved again.
    square = c.java / "com" / "acme" / "shapes" / "Square.java"
    square.write_text("package com.acme.shapes;\n\npublic class Square extends AbstractShape {\n"
                      "    public Square() { super(\"square\"); }\n"
                      "    public double area() { return 1.0; }\n}\n")
    assert c.build() == {"java:jfx": ("per_file", n + 1, n + 1), py: ("corpus", 0, 4)}
    square.unlink()
    c.edit("jfx/com/acme/shapes/Cube.java", "package com.acme.shapes;", "package com.acme.shapes;\n")
    assert c.build() == {"java:jfx": ("per_file", n, n), py: ("corpus", 0, 4)}
    (c.java / "Main.java").unlink()
    assert c.build() == {"java:jfx": ("per_file", n - 1, n - 1), py: ("corpus", 0, 4)}

    # A change in `shop`, which `app` imports: the points-to analysis spans both, so the Python
    # corpora are re-resolved together; Java is reused.
    c.edit("shop/shop/cart.py", "    def total(self) -> float:", "    def total(self) -> int:")
    assert c.build() == {"java:jfx": ("per_file", 0, n - 1), py: ("corpus", 4, 4)}



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
