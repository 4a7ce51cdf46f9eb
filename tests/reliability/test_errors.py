"""Errors a person can act on: through the real `graphmer` CLI in a subprocess, each mistake gives
one line on stderr naming the problem and what to do, a non-zero exit, and no traceback unless
`--debug` asks for it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from graphmer_core.corpus.discovery import Corpus
from graphmer_core.kg.build import build_kg
from graphmer_core.lake import Lake

GRAPHMER = [sys.executable, "-m", "graphmer_core.cli"]
FIXTURES = Path(__file__).parent.parent / "fixtures"


def graphmer(*args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GRAPHMER_")} | env
    return subprocess.run([*GRAPHMER, *args], capture_output=True, text=True, timeout=300, cwd=cwd, env=environ)


def one_line_error(out: subprocess.CompletedProcess, *words: str) -> str:
    """The single stderr line of a failed command, checked to name `words`."""
    assert out.returncode not in (0, None), out.stdout
    assert "Traceback" not in out.stderr, out.stderr
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("graphmer: "), lines
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A lake with a promoted KG of a copy of the shop fixture (built without gates: fast)."""
    base = tmp_path_factory.mktemp("errors")
    shutil.copytree(FIXTURES / "shop", base / "shop")
    lake = Lake(base / "lake")
    build_kg([Corpus("shop", base / "shop")], lake, workers=1, gates=None)
    return base, lake


def test_unknown_profile(tmp_path):
    out = graphmer("build-dataset", "--profile", "gpu-1tb", "--lake", str(tmp_path))
    one_line_error(out, "unknown profile 'gpu-1tb'", "known: ", "cpu-tiny")


def test_unknown_config_keys(tmp_path):
    profiles = tmp_path / "profiles.yaml"
    profiles.write_text("cpu-tiny:\n  bogus_key: 1\n")
    out = graphmer("build-dataset", "--profile", "cpu-tiny", "--profiles", str(profiles), "--lake", str(tmp_path))
    one_line_error(out, "bogus_key", "Extra inputs are not permitted", str(profiles))
    corpora = tmp_path / "corpora.yaml"
    corpora.write_text(f"corpora:\n  - name: shop\n    root: {FIXTURES / 'shop'}\n    colour: blue\n")
    one_line_error(graphmer("build-kg", "--config", str(corpora), "--lake", str(tmp_path / "lake")),
                   "corpora.0.colour", "extra inputs are not permitted")


def test_missing_corpus_root(tmp_path):
    out = graphmer("build-kg", "--corpus", f"gone={tmp_path / 'nowhere'}", "--lake", str(tmp_path / "lake"))
    one_line_error(out, f"{tmp_path / 'nowhere'} is not a directory", "check the path")


def test_empty_corpus_is_named_not_a_failed_gate(tmp_path):
    (tmp_path / "empty" / "docs").mkdir(parents=True)
    (tmp_path / "empty" / "docs" / "README.md").write_text("no code here\n")
    out = graphmer("build-kg", "--corpus", f"e={tmp_path / 'empty'}", "--lake", str(tmp_path / "lake"))
    line = one_line_error(out, f"no .py or .java files under {tmp_path / 'empty'}")
    assert "expect_" not in line and "gate" not in line
    assert not (tmp_path / "lake" / "staging").exists()  # nothing was staged


def test_unwritable_lake(tmp_path):
    """A lake under a regular file cannot be created, even by root (no read-only mount needed)."""
    (tmp_path / "a-file").write_text("")
    lake = tmp_path / "a-file" / "lake"
    out = graphmer("build-kg", "--corpus", f"shop={FIXTURES / 'shop'}", "--lake", str(lake))
    one_line_error(out, f"data lake {lake} is not writable", "Not a directory", "pass --lake PATH")
    out = graphmer("build-dataset", "--profile", "cpu-tiny", "--lake", str(lake))
    one_line_error(out, "is not writable")


def test_corrupt_parse_cache(built):
    base, lake = built
    [db] = lake.parse_cache.glob("facts-*.sqlite")
    data = bytearray(db.read_bytes())
    data[4096:] = b"\xab" * (len(data) - 4096)  # the header survives, the pages do not
    db.write_bytes(bytes(data))
    for side in lake.parse_cache.glob("facts-*.sqlite-*"):
        side.unlink()
    (base / "shop" / "shop" / "cart.py").write_text("def changed():\n    return 2\n")  # so it parses again
    out = graphmer("build-kg", "--corpus", f"shop={base / 'shop'}", "--lake", str(lake.root))
    one_line_error(out, f"parse cache in {lake.parse_cache} is damaged", "delete that folder")


def test_sql_error_in_query(built):
    _, lake = built
    line = one_line_error(graphmer("query", "--lake", str(lake.root), "SELEC relation FROM triples"),
                          "SQL error", "SELEC", "views entities, triples, files")
    assert "^" not in line
    one_line_error(graphmer("query", "--lake", str(lake.root), "SELECT * FROM no_such_view"),
                   "SQL error", "no_such_view")


def test_debug_shows_the_traceback(tmp_path):
    (tmp_path / "empty").mkdir()
    args = ["build-kg", "--corpus", f"e={tmp_path / 'empty'}", "--lake", str(tmp_path / "lake")]
    for out in (graphmer("--debug", *args), graphmer(*args, "--debug")):
        assert out.returncode == 2
        assert "Traceback (most recent call last)" in out.stderr and "EmptyCorpus" in out.stderr
        assert out.stderr.strip().splitlines()[-1].startswith("graphmer: error: corpus 'e': no .py or .java")


@pytest.mark.parametrize("damage", [
    "[1, 2, 3]",                                              # not an object
    '{"scope": SCOPE, "files": ["a.py"]}',                    # files not a mapping
    '{"scope": SCOPE, "files": {"a.py": 5, "b.py": [[1, 2, 3, 4], 7, "x", "ok", null]}}',  # entries of no shape
])
def test_a_damaged_index_cache_is_a_miss_not_an_error(tmp_path, damage):
    """The index cache (cache/index/<corpus>.json) only saves rereading files: damaged, it is ignored."""
    import json

    from graphmer_core.corpus.index import index_corpora

    root = tmp_path / "src"
    root.mkdir()
    (root / "a.py").write_text("x = 1\n")
    (root / "b.py").write_text("y = 2\n")
    corpus = Corpus("c", root)
    truth = [(r.path, r.sha256, r.status) for r in index_corpora([corpus])]
    cache = tmp_path / "cache"
    cache.mkdir()
    scope = json.dumps(f"{corpus.root}\t{corpus.max_bytes}")
    (cache / "c.json").write_text(damage.replace("SCOPE", scope))
    assert [(r.path, r.sha256, r.status) for r in index_corpora([corpus], cache=cache)] == truth
