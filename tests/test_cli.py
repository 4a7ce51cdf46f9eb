"""The `graphmer` CLI builds and queries a KG without importing torch or dagster."""

import shutil
import subprocess
import sys

import pytest

from graphmer_core.cli import main


def test_build_kg_and_query_in_a_clean_interpreter(tmp_path, fixtures):
    lake = tmp_path / "lake"
    code = (
        "import sys\n"
        "from graphmer_core.cli import main\n"
        f"rc = main(['build-kg', '--corpus', 'shop={fixtures / 'shop'}', '--lake', '{lake}', '--workers', '1'])\n"
        "assert rc == 0, rc\n"
        f"rc = main(['query', '--lake', '{lake}', 'SELECT relation, count(*) AS n FROM triples GROUP BY 1'])\n"
        "assert rc == 0, rc\n"
        "heavy = sorted(m for m in ('torch', 'dagster') if m in sys.modules)\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "HEAVY []" in out.stdout
    assert "KG version" in out.stdout and "triples:" in out.stdout
    assert "inherits_from" in out.stdout and "row" in out.stdout


def test_rebuild_of_unchanged_corpus_reuses_the_version(tmp_path, fixtures, capsys):
    args = ["build-kg", "--corpus", f"shop={fixtures / 'shop'}", "--lake", str(tmp_path), "--workers", "1"]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert main(args) == 0
    second = capsys.readouterr().out
    assert "reparsed" in first and "re-resolved 6 of 6 file(s)" in first and "existing version reused" in second
    assert first.splitlines()[0] == second.splitlines()[0]  # same KG version line


def test_a_rebuild_says_which_files_it_resolved_again(tmp_path, fixtures, capsys):
    shutil.copytree(fixtures / "shop", tmp_path / "shop")
    args = ["build-kg", "--corpus", f"shop={tmp_path / 'shop'}", "--lake", str(tmp_path / "lake"), "--workers", "1"]
    assert main(args) == 0
    basket = tmp_path / "shop" / "java" / "com" / "shop" / "Basket.java"
    basket.write_text(basket.read_text().replace("double sum = 0;", "double sum = 0.0;"))  # a body edit
    capsys.readouterr()
    assert main(args) == 0
    assert "re-resolved 1 of 6 file(s) (java:shop: Basket.java)" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["build-kg", "--corpus", "nopath"], "NAME=PATH"),
    (["build-kg", "--corpus", "x=/definitely/missing"], "not a directory"),
    (["summary", "--lake", "/definitely/missing"], "no promoted KG"),
    (["query", "--lake", "/definitely/missing", "SELECT 1"], "no catalogue"),
])
def test_bad_input_gets_a_clear_error(argv, message, capsys):
    assert main(argv) != 0
    assert message in capsys.readouterr().err


def test_bad_sql_is_an_error_message_not_a_traceback(tmp_path, fixtures, capsys):
    assert main(["build-kg", "--corpus", f"shop={fixtures / 'shop'}", "--lake", str(tmp_path), "--workers", "1"]) == 0
    assert main(["query", "--lake", str(tmp_path), "SELEC nonsense"]) == 2
    assert "SQL error" in capsys.readouterr().err


def test_build_kg_gates_promotion(tmp_path, fixtures, capsys):
    """A corpus that breaks a gate is staged but not promoted; the last good KG stays current."""
    from graphmer_core.lake import Lake

    shop = ["build-kg", "--corpus", f"shop={fixtures / 'shop'}", "--lake", str(tmp_path)]
    assert main(shop) == 0  # the default thresholds fit a small corpus
    current = Lake(tmp_path).current_version()
    with_cycle = shop + ["--corpus", f"cyclic={fixtures / 'cycle_py'}"]
    assert main(with_cycle) == 3
    err = capsys.readouterr().err
    assert "failed its quality gates" in err and "inheritance cycles" in err and "--max-inheritance-cycles" in err
    assert Lake(tmp_path).current_version() == current
    assert main(with_cycle + ["--max-inheritance-cycles", "1"]) == 0
    assert Lake(tmp_path).current_version() != current


def test_building_a_kg_never_imports_pandas(tmp_path, fixtures):
    """pyarrow imports pandas (0.2 s) on its first conversion of Python objects; the build path
    converts through DuckDB instead (graphmer_core.kg.arrow), so a CLI build never pays for it.
    The gates run Great Expectations (and pandas) in their worker process, not in this one."""
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from graphmer_core.corpus.discovery import Corpus\n"
        "from graphmer_core.kg.build import build_kg\n"
        "from graphmer_core.lake import Lake\n"
        f"lake = Lake(Path('{tmp_path / 'lake'}'))\n"
        f"r = build_kg([Corpus('shop', Path('{fixtures / 'shop'}'))], lake, workers=1)\n"
        "assert r.manifest['triples'] > 0 and not r.reused and r.verdict.passed and not r.verdict.reused\n"
        "print('PANDAS', 'pandas' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "PANDAS False" in out.stdout


def test_a_stage_done_at_its_first_report_shows_no_bar():
    """A rebuild that parses one file reports 1 of 1: no bar, and no tqdm import for it."""
    code = ("import sys\n"
            "from graphmer_core.cli import _progress_bar\n"
            "update = _progress_bar()\n"
            "update('parse', 1, 1)\n"
            "print('TQDM', 'tqdm' in sys.modules)\n"
            "update('parse', 1, 2)\n"
            "print('TQDM', 'tqdm' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["TQDM", "False", "TQDM", "True"]
