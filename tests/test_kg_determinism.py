"""The KG depends on the corpus and the code only: two builds in fresh interpreters with different
PYTHONHASHSEED (so different str hashes, set orders and tree-sitter capture orders) give the same
tables, row for row, and the Java extractor and resolver give the same facts and rows, in the same
order (the KG keeps the first evidence of a triple, so an order broken by chance could leak into it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq

FIXTURES = Path(__file__).parent / "fixtures"

BUILD = """
import hashlib, json, sys
from pathlib import Path
from graphmer_core.corpus.discovery import Corpus
from graphmer_core.kg.build import stage_kg
from graphmer_core.lake import Lake
from graphmer_core.kg.resolution import ParsedFile, resolve
from graphmer_core.parsing.java import extract

fixtures, lake = Path(sys.argv[1]), Path(sys.argv[2])
java = sorted((fixtures / "java").rglob("*.java"))
facts = {p.relative_to(fixtures).as_posix(): extract(p.read_bytes()) for p in java}
# the resolver's rows before the KG's dedup, which would hide a tie broken by chance
rows = resolve([ParsedFile("jfx", rel, "java", "0" * 64, f) for rel, f in sorted(facts.items())])
result = stage_kg([Corpus("jfx", fixtures / "java"), Corpus("shop", fixtures / "shop"),
                   Corpus("pyfx", fixtures / "python")], Lake(lake), workers=1)
print(json.dumps({"kg_dir": str(result.kg_dir),
                  "java_facts": hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest(),
                  "java_rows": hashlib.sha256(repr((rows.entities, rows.triples)).encode()).hexdigest()}))
"""


def _build(tmp: Path, seed: str) -> dict:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    out = subprocess.run([sys.executable, "-c", BUILD, str(FIXTURES), str(tmp / f"lake{seed}")],
                         env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_kg_is_identical_across_hash_seeds(tmp_path):
    a, b = _build(tmp_path, "1"), _build(tmp_path, "4242")
    assert a["java_facts"] == b["java_facts"]
    assert a["java_rows"] == b["java_rows"]
    assert Path(a["kg_dir"]).name == Path(b["kg_dir"]).name  # the same kg_version
    for table in ("entities.parquet", "triples.parquet"):
        ta, tb = (pq.read_table(Path(r["kg_dir"]) / table) for r in (a, b))
        assert ta.num_rows > 100
        assert ta.to_pylist() == tb.to_pylist(), table
