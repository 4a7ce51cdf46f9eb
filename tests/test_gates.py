"""The KG quality gates: rates that fit a project of any size, a verdict recorded once per version,
and failures that say what was found, what was expected and which flag changes it."""

import json
import shutil
import subprocess
import sys

import pytest

from graphmer_core.corpus.discovery import Corpus
from graphmer_core.kg import store
from graphmer_core.kg.build import build_kg
from graphmer_core.kg.quality import DEFAULT_GATES, GateFailed
from graphmer_core.lake import Lake


def gates_record(lake: Lake, version: str | None = None) -> dict:
    version = version or lake.current_version()
    folder = lake.kg_dir(version) if lake.kg_dir(version).exists() else lake.staged_dir(version)
    return store.read_manifest(folder)["gates"]


def test_a_one_file_project_passes_the_default_gates(tmp_path, make_tree):
    root = make_tree({"calc.py": "def add(a, b):\n    return a + b\n"})
    lake = Lake(tmp_path / "lake")
    result = build_kg([Corpus("calc", root)], lake, workers=1)
    assert result.verdict.passed and not result.verdict.reused
    assert lake.current_version() == result.kg_version
    record = gates_record(lake)
    assert record["passed"] and record["thresholds"] == DEFAULT_GATES.as_dict()
    assert set(record["suites"]) == {"kg_entities", "kg_triples", "kg_per_language", "kg_relation_changes"}
    assert record["engine"].startswith("great_expectations ")


def test_a_large_build_starts_gx_after_parsing_with_the_same_verdict(tmp_path, make_tree, monkeypatch):
    from graphmer_core.kg import build

    monkeypatch.setattr(build, "GX_EARLY_MAX_FILES", 0)  # every build counts as large
    root = make_tree({"calc.py": "def add(a, b):\n    return a + b\n"})
    result = build_kg([Corpus("calc", root)], Lake(tmp_path / "lake"), workers=1)
    assert result.verdict.passed and not result.verdict.reused and "parse_s" in result.timings


def test_parsed_files_that_yield_no_entities_fail_plainly(tmp_path, make_tree):
    calc = make_tree({"calc.py": "def add(a, b):\n    return a + b\n"}, "calc")
    empty = make_tree({"A.java": "// nothing here\n", "B.java": "/* nor here */\n"}, "notes")
    lake = Lake(tmp_path / "lake")
    with pytest.raises(GateFailed) as failed:
        build_kg([Corpus("calc", calc), Corpus("notes", empty)], lake, workers=1)
    [line] = failed.value.lines
    assert "java: 2 parsed files yield no entities" in line
    assert "notes:A.java" in line  # the files behind it
    assert lake.current_version() is None
    assert not gates_record(lake, failed.value.kg_dir.name)["passed"]


def test_each_failed_rule_names_value_threshold_examples_and_flag(tmp_path, fixtures):
    lake = Lake(tmp_path / "lake")
    with pytest.raises(GateFailed) as failed:
        build_kg([Corpus("cyclic", fixtures / "cycle_py")], lake, workers=1)
    [line] = failed.value.lines
    assert line.startswith("inheritance cycles")
    assert "python: 1" in line and "expected at most 0" in line
    assert "inherits_from cycle through 2 entities" in line  # an example
    assert "--max-inheritance-cycles" in line and "gates.max_inheritance_cycles" in line
    # and raising the threshold lets it through, under a new verdict
    result = build_kg([Corpus("cyclic", fixtures / "cycle_py")], lake, workers=1,
                      gates=DEFAULT_GATES.replace(max_inheritance_cycles=1))
    assert result.verdict.passed and not result.verdict.reused


def _subclasses(n: int, start: int = 0, base: bool = True) -> dict[str, str]:
    """n modules, each a class deriving from `Base` (or, with base=False, from nothing)."""
    return {f"pkg/m{i}.py": f"from pkg.base import Base\n\n\nclass C{i}({'Base' if base else ''}):\n"
                            f"    def run(self):\n        return {i}\n"
            for i in range(start, start + n)}


def test_a_relation_that_loses_half_its_triples_fails_unless_the_corpus_lost_half_its_files(tmp_path, make_tree):
    files = {"pkg/__init__.py": "", "pkg/base.py": "class Base:\n    pass\n", **_subclasses(40)}
    root = make_tree(files, "proj")
    lake = Lake(tmp_path / "lake")
    first = build_kg([Corpus("proj", root)], lake, workers=1)
    assert first.manifest["triples_by_relation"]["inherits_from"] == 40

    # Half the classes stop deriving from Base, with every file still there: a drop to 50%.
    for rel, text in _subclasses(20, base=False).items():
        (root / rel).write_text(text)
    with pytest.raises(GateFailed) as failed:
        build_kg([Corpus("proj", root)], lake, workers=1)
    [line] = failed.value.lines
    assert "proj/inherits_from: 0.5 (20 of 40 triples kept, 42 of 42 parsed files)" in line
    assert "--max-relation-drop" in line and "gates.max_relation_drop" in line
    assert "py:proj:pkg.m0.C0 inherits_from py:proj:pkg.base.Base" in line  # a lost triple
    assert lake.current_version() == first.kg_version

    # The same classes removed with their files: the corpus shrank alike, so the drop is expected.
    for rel in _subclasses(20):
        (root / rel).unlink()
    shrunk = build_kg([Corpus("proj", root)], lake, workers=1)
    assert shrunk.verdict.passed
    assert shrunk.manifest["triples_by_relation"]["inherits_from"] == 20
    assert gates_record(lake)["baseline_kg_version"] == first.kg_version


def test_the_manifest_counts_the_triples_added_and_removed_per_relation(tmp_path, make_tree):
    import pyarrow.parquet as pq

    def keys(kg_dir) -> set[tuple]:
        t = pq.read_table(kg_dir / "triples.parquet", columns=["head_id", "relation", "tail_id"])
        return set(zip(*(t[c].to_pylist() for c in t.column_names), strict=True))

    files = {"pkg/__init__.py": "", "pkg/base.py": "class Base:\n    pass\n", **_subclasses(12)}
    root = make_tree(files, "proj")
    lake = Lake(tmp_path / "lake")
    first = build_kg([Corpus("proj", root)], lake, workers=1)
    for rel in list(_subclasses(4)):  # files gone, bases dropped, files added
        (root / rel).unlink()
    for rel, text in {**_subclasses(8, start=4, base=False), **_subclasses(16, start=12)}.items():
        (root / rel).write_text(text)
    second = build_kg([Corpus("proj", root)], lake, workers=1)

    old, new = keys(first.kg_dir), keys(second.kg_dir)
    expected = {}
    for side, found in (("added", new - old), ("removed", old - new)):
        for _, relation, _ in found:
            expected.setdefault(relation, {"added": 0, "removed": 0})[side] += 1
    changes = second.manifest["changes"]
    assert changes["by_relation"] == expected and changes["previous_kg_version"] == first.kg_version
    assert changes["added"] == len(new - old) > 0 and changes["removed"] == len(old - new) > 0
    assert {"inherits_from", "contains"} <= expected.keys()


def test_expectations_whose_inputs_are_unchanged_take_gx_outcomes_from_the_memo(tmp_path, make_tree, monkeypatch):
    """Each expectation's GX outcome is kept by what it read. An edit that moves lines changes no
    input: every outcome comes from the memo, GX is never started, and the relation shares (which
    the first build had no version to compare with) hit the outcome the first build stored for a
    version that keeps them all. Other counts run GX for the expectations whose inputs changed
    only; other thresholds for the expectation they set; `regate` or an entry that does not check
    run GX again."""
    from graphmer_core.kg.quality import GxMemo, expectations

    th = DEFAULT_GATES.replace(relation_drop_min_triples=1)  # every relation of this small tree compared
    total = sum(len(v) for v in expectations(th).values())
    files = {"pkg/__init__.py": "", "pkg/base.py": "class Base:\n    pass\n", **_subclasses(3)}
    root = make_tree(files, "proj")
    lake = Lake(tmp_path / "lake")
    corpora = [Corpus("proj", root)]
    first = build_kg(corpora, lake, workers=1, gates=th)
    assert first.verdict.gx_run_for == [] and first.verdict.gx_ran is None and first.gx_started
    (root / "pkg/m0.py").write_text("# moved down a line\n" + files["pkg/m0.py"])
    moved = build_kg(corpora, lake, workers=1, gates=th)
    assert moved.kg_version != first.kg_version and moved.verdict.passed
    assert moved.verdict.suite("kg_relation_changes").evaluated > 0  # compared with the first version
    assert moved.verdict.gx_ran == 0 and moved.verdict.gx_run_for == [first.kg_version]
    assert not moved.gx_started  # one file parsed: GX would start only on a miss
    assert moved.verdict.frames_sha256 != first.verdict.frames_sha256  # counts of the previous version now in it
    record = gates_record(lake)
    assert record["gx_ran"] == 0 and record["gx_run_for"] == [first.kg_version]
    for name in ("kg_entities", "kg_triples", "kg_per_language"):
        assert record["suites"][name] == gates_record(lake, first.kg_version)["suites"][name]
    from graphmer_core.kg import build

    with monkeypatch.context() as m:  # a rebuild parsing more files than GX_MEMO_MAX_FILES starts GX with the build
        m.setattr(build, "GX_MEMO_MAX_FILES", 0)
        (root / "pkg/m0.py").write_text("# moved down two lines\n\n" + files["pkg/m0.py"])
        eager = build_kg(corpora, lake, workers=1, gates=th)
    assert eager.gx_started and eager.verdict.gx_ran == 0 and eager.verdict.passed  # started, then unused

    (root / "pkg/m9.py").write_text(_subclasses(1, start=9)["pkg/m9.py"])  # one more class: other ratios
    grown = build_kg(corpora, lake, workers=1, gates=th)
    assert 0 < grown.verdict.gx_ran < total and grown.gx_started and grown.verdict.passed
    assert grown.verdict.gx_run_for == [first.kg_version]  # the kinds, relations and schemas stayed

    (root / "pkg/m9.py").write_text("\n" + _subclasses(1, start=9)["pkg/m9.py"])
    for entry in GxMemo(lake.root / "cache" / "gates").folder.glob("*.json"):  # every outcome a pass
        entry.write_text(entry.read_text().replace('"success": true', '"success": false'))
    tampered = build_kg(corpora, lake, workers=1, gates=th)  # equal inputs, but no entry checks
    assert tampered.verdict.passed and tampered.verdict.gx_ran is None and tampered.gx_started

    (root / "pkg/m9.py").write_text("\n\n" + _subclasses(1, start=9)["pkg/m9.py"])
    regated = build_kg(corpora, lake, workers=1, gates=th, regate=True)
    assert regated.verdict.gx_ran is None and regated.verdict.gx_run_for == []
    (root / "pkg/m9.py").write_text("\n\n\n" + _subclasses(1, start=9)["pkg/m9.py"])
    stricter = build_kg(corpora, lake, workers=1, gates=th.replace(max_triples_per_entity=40.0))
    assert stricter.verdict.gx_ran == 1 and stricter.verdict.passed  # triples_per_entity's bound changed


CLI_BUILD = (
    "import sys\n"
    "from graphmer_core.cli import main\n"
    "rc = main(['build-kg', '--corpus', 'shop={shop}', '--lake', '{lake}', '--workers', '1'{extra}])\n"
    "print('RC', rc, 'GX', 'great_expectations' in sys.modules, 'PANDAS', 'pandas' in sys.modules,\n"
    "      'PYARROW', 'pyarrow' in sys.modules)\n"
)


def _cli_build(fixtures, lake, *extra: str) -> str:
    code = CLI_BUILD.format(shop=fixtures / "shop", lake=lake, extra="".join(f", {x!r}" for x in extra))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_an_unchanged_rebuild_reuses_the_verdict_and_regate_runs_gx_again(tmp_path, fixtures):
    lake = Lake(tmp_path / "lake")
    first = _cli_build(fixtures, tmp_path / "lake")
    assert "RC 0" in first and "gates: passed (Great Expectations" in first
    checked = gates_record(lake)["checked_at"]

    again = _cli_build(fixtures, tmp_path / "lake")
    # GX neither imported here nor in a worker: the recorded verdict stands; nor pyarrow: no table is made
    assert "RC 0 GX False PANDAS False PYARROW False" in again and "recorded verdict" in again
    assert "existing version reused" in again
    assert gates_record(lake)["checked_at"] == checked

    regated = _cli_build(fixtures, tmp_path / "lake", "--regate")
    assert "RC 0" in regated and "gates: passed (Great Expectations" in regated
    assert gates_record(lake)["checked_at"] != checked

    # other thresholds are another verdict: GX runs again
    stricter = _cli_build(fixtures, tmp_path / "lake", "--max-entities-per-file", "5")
    assert "RC 3" in stricter
    record = gates_record(lake)
    assert record["thresholds"]["max_entities_per_file"] == 5 and not record["passed"]
    assert lake.current_version() is not None  # the version stays current: it was promoted before


PATCHED_CLI_BUILD = (
    "import json, sys\n"
    "from pathlib import Path\n"
    "import graphmer_core.kg.incremental as incremental\n"
    "incremental.PATCH_MAX_SHARE = 1.0  # this tree is small: any change is a large share of it\n"
    "from graphmer_core.cli import main\n"
    "from graphmer_core.lake import Lake\n"
    "args = ['build-kg', '--corpus', 'shop={shop}', '--lake', '{lake}', '--workers', '1']\n"
    "assert main(args) == 0\n"
    "body = Path('{shop}/java/com/shop/Basket.java')\n"
    "body.write_text(body.read_text().replace('total() {{', 'total() {{ int unused = 0;'))  # a body edit\n"
    "rc = main(args)\n"
    "manifest = json.loads((Lake(Path('{lake}')).current_dir() / 'manifest.json').read_text())\n"
    "print('RC', rc, 'TABLES', manifest['tables_from']['mode'], 'GX_RAN', manifest['gates']['gx_ran'],\n"
    "      'GX', 'great_expectations' in sys.modules, 'PANDAS', 'pandas' in sys.modules)\n"
)


def test_a_patched_one_file_rebuild_imports_neither_pandas_nor_gx(tmp_path, fixtures):
    """pyarrow imports pandas (0.3 s) on its first conversion of a Python value: a patched rebuild
    makes its tables through DuckDB only. And a body edit leaves every gated input as it was, so GX
    runs in no process: its outcomes come from the memo."""
    shop = tmp_path / "shop"
    shutil.copytree(fixtures / "shop", shop)
    code = PATCHED_CLI_BUILD.format(shop=shop, lake=tmp_path / "lake")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "RC 0 TABLES patch GX_RAN 0 GX False PANDAS False" in out.stdout


def test_a_failed_verdict_is_reused_too(tmp_path, fixtures, capsys):
    from graphmer_core.cli import main

    args = ["build-kg", "--corpus", f"cyclic={fixtures / 'cycle_py'}", "--lake", str(tmp_path), "--workers", "1"]
    assert main(args) == 3
    first = capsys.readouterr().err
    staged = Lake(tmp_path).candidate_dir() or next((tmp_path / "staging").iterdir())
    checked = json.loads((staged / "manifest.json").read_text())["gates"]["checked_at"]
    assert main(args) == 3
    assert capsys.readouterr().err == first
    assert json.loads((staged / "manifest.json").read_text())["gates"]["checked_at"] == checked


def test_a_duplicated_triple_and_an_unknown_kind_in_the_stored_tables_fail(tmp_path, make_tree):
    """The gates read the stored Parquet, not what the build had in memory: rows a faulty writer put
    there (and stamped, so the checksums agree) are caught, each rule on its own line with the rows
    behind it."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from graphmer_core.artifacts import sha256_file, write_json_atomic
    from graphmer_core.kg.manifest import read_manifest
    from graphmer_core.kg.quality import run_gates

    root = make_tree({"calc.py": "def add(a, b):\n    return a + b\n"})
    result = build_kg([Corpus("calc", root)], Lake(tmp_path / "lake"), workers=1)
    triples = pq.read_table(result.kg_dir / "triples.parquet")
    pq.write_table(pa.concat_tables([triples, triples.slice(0, 1)]), result.kg_dir / "triples.parquet")
    entities = pq.read_table(result.kg_dir / "entities.parquet").to_pylist()
    entities[0]["kind"] = "Gadget"
    pq.write_table(pa.Table.from_pylist(entities, schema=pq.read_schema(result.kg_dir / "entities.parquet")),
                   result.kg_dir / "entities.parquet")
    manifest = read_manifest(result.kg_dir)
    manifest["files_sha256"] |= {f"{t}.parquet": sha256_file(result.kg_dir / f"{t}.parquet")
                                 for t in ("triples", "entities")}
    write_json_atomic(result.kg_dir / "manifest.json", manifest)
    verdict = run_gates(result.kg_dir)
    assert not verdict.passed
    lines = {f["rule"]: f["line"] for f in verdict.findings}
    assert set(lines) == {"triple_unique", "entity_kind_known"}
    assert "python/contains/syntax: 2" in lines["triple_unique"]
    assert f"e.g. {triples['head_id'][0]} contains {triples['tail_id'][0]}" in lines["triple_unique"]
    assert "python/Gadget: Gadget" in lines["entity_kind_known"]
    assert entities[0]["entity_id"] in lines["entity_kind_known"]
