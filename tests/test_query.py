"""`graphmer query` and the catalogue: read-only, values bound or quoted, formats, which lake."""

from __future__ import annotations

import csv
import io
import json
import shutil

import pytest

from graphmer_core.cli import main
from graphmer_core.corpus.discovery import Corpus
from graphmer_core.kg.build import build_kg
from graphmer_core.lake import Lake


def test_a_lake_path_with_a_quote_builds_rebuilds_and_queries(tmp_path, fixtures, capsys):
    """Paths reach DuckDB as bound parameters or quoted literals, never pasted into SQL text: the
    catalogue's views, the gates' views and the changes against the previous version."""
    lake, src = tmp_path / "it's a lake", tmp_path / "shop"
    shutil.copytree(fixtures / "shop", src)
    build = ["build-kg", "--corpus", f"shop={src}", "--lake", str(lake), "--workers", "1"]
    assert main(build) == 0, capsys.readouterr().err
    (src / "shop" / "extra.py").write_text("def extra():\n    return 1\n")
    assert main(build) == 0, capsys.readouterr().err  # a second version: changes against the first
    assert "since " in capsys.readouterr().out
    sql = "SELECT name FROM entities WHERE name = 'extra' AND kind = 'Function'"
    assert main(["query", "--lake", str(lake), sql]) == 0
    assert "(1 row" in capsys.readouterr().out
    assert Lake(lake).current_version() is not None


LONG = "a_function_whose_name_is_longer_than_the_sixty_columns_a_table_cell_shows"


@pytest.fixture(scope="module")
def two_corpora(tmp_path_factory):
    """Corpora `a` and `b` that both call the same externals; `a` has a long name and a file name
    holding a newline. Its lake is `<base>/data_lake`, for the lake-default tests."""
    base = tmp_path_factory.mktemp("query")
    for name in ("a", "b"):
        (base / name).mkdir()
        (base / name / f"mod_{name}.py").write_text(
            f"import os\n\n\ndef where_{name}():\n    return len(os.getcwd())\n")
    (base / "a" / "odd\nname.py").write_text(f"def {LONG}():\n    pass\n")
    lake = Lake(base / "data_lake")
    build_kg([Corpus("a", base / "a"), Corpus("b", base / "b")], lake, workers=1, gates=None)
    return base, lake


def query(capsys, *args: str) -> str:
    assert main(["query", *args]) == 0, capsys.readouterr().err
    return capsys.readouterr().out


def test_formats_table_csv_json(two_corpora, capsys):
    _, lake = two_corpora
    sql = "SELECT name, path, start_line FROM entities WHERE kind = 'Function' ORDER BY name"
    rows = json.loads(query(capsys, "--lake", str(lake.root), "--format", "json", sql))
    assert rows[0] == {"name": LONG, "path": "odd\nname.py", "start_line": 1}  # whole values
    assert [r["name"] for r in rows[1:]] == ["where_a", "where_b"]
    parsed = list(csv.reader(io.StringIO(query(capsys, "--lake", str(lake.root), "--format", "csv", sql))))
    assert parsed[0] == ["name", "path", "start_line"] and parsed[1] == [LONG, "odd\nname.py", "1"]

    table = query(capsys, "--lake", str(lake.root), sql).splitlines()
    assert len(table) == 2 + 3 + 1  # header, rule, one line per row (the newline is escaped), footer
    first = table[2]
    assert LONG[:59] + "…" in first and LONG not in first  # cut visibly at 60 columns
    assert "odd\\nname.py" in first
    assert table[-1].startswith("(3 rows; lake ") and "from --lake" in table[-1]
    full = query(capsys, "--lake", str(lake.root), "--full", sql)
    assert LONG in full and "…" not in full


def test_query_opens_the_catalogue_read_only(two_corpora, capsys):
    _, lake = two_corpora
    before = lake.catalog.read_bytes()
    for sql in ("CREATE TABLE scratch AS SELECT 1 AS x", "DROP VIEW triples",
                "INSERT INTO kg_info VALUES ('x', 'y', 'z')"):
        assert main(["query", "--lake", str(lake.root), sql]) == 2
        err = capsys.readouterr().err
        assert "SQL error" in err and "read-only" in err
    assert lake.catalog.read_bytes() == before
    assert "triples" in query(capsys, "--lake", str(lake.root), "SELECT 'triples' AS still_there FROM triples LIMIT 1")


def test_the_lake_defaults_to_env_then_cwd_then_the_project(two_corpora, capsys, monkeypatch, tmp_path):
    from graphmer_core.cli import PROJECT_LAKE

    base, lake = two_corpora
    sql = "SELECT count(*) AS n FROM entities"
    monkeypatch.delenv("GRAPHMER_LAKE", raising=False)
    monkeypatch.chdir(base)  # holds ./data_lake
    assert f"lake {lake.root}, from ./data_lake of the current folder" in query(capsys, sql)
    monkeypatch.chdir(tmp_path)  # holds none: the project's
    main(["query", sql])
    captured = capsys.readouterr()
    assert str(PROJECT_LAKE) in captured.out + captured.err
    monkeypatch.setenv("GRAPHMER_LAKE", str(lake.root))
    assert f"lake {lake.root}, from $GRAPHMER_LAKE" in query(capsys, sql)
    assert main(["summary"]) == 0
    assert f"lake:      {lake.root}  (from $GRAPHMER_LAKE)" in capsys.readouterr().out


def test_externals_have_their_own_corpus_and_filtering_by_corpus_loses_none(two_corpora, capsys):
    _, lake = two_corpora
    rows = json.loads(query(capsys, "--lake", str(lake.root), "--format", "json", """
        SELECT t.corpus, t.tail_id, e.corpus AS tail_corpus FROM triples t JOIN entities e ON e.entity_id = t.tail_id
        WHERE t.tail_id LIKE 'py:ext:%' AND t.relation = 'calls' ORDER BY 1, 2"""))
    by_corpus = {c: {r["tail_id"] for r in rows if r["corpus"] == c} for c in ("a", "b")}
    assert by_corpus["a"] == by_corpus["b"] == {"py:ext:os.getcwd", "py:ext:builtins.len"}
    assert {r["tail_corpus"] for r in rows} == {"<external>"}
