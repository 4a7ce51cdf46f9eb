"""Python package roots: declared in pyproject.toml, setup.cfg or configs/corpora.yaml, they name the
modules, so a project's tests link to its own code; they are part of the KG version."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from graphmer_core.cli import format_summary
from graphmer_core.corpus.config import CorporaConfig, load_corpora
from graphmer_core.corpus.discovery import Corpus
from graphmer_core.corpus.layout import package_layout
from graphmer_core.kg.build import stage_kg
from graphmer_core.kg.python import module_name, package_roots
from graphmer_core.kg.resolution import resolve
from graphmer_core.lake import Lake
from kg_helpers import FIXTURES, parsed_python

PY = FIXTURES / "python"


def edges_and_ids(root: Path, corpus: str, roots) -> tuple[set, set]:
    r = resolve(parsed_python(root, corpus), {corpus: roots})
    return ({(t["head_id"], t["relation"], t["tail_id"]) for t in r.triple_dicts()},
            {e["entity_id"] for e in r.entity_dicts()})


def test_module_name_from_a_folder_mapped_to_a_package():
    roots = package_roots([], [("source", "tally"), ("lib", "")])
    assert roots == [("source", "tally"), ("lib", ""), ("", "")]
    assert module_name("source/__init__.py", roots) == ("tally", True)
    assert module_name("source/counter.py", roots) == ("tally.counter", False)
    assert module_name("lib/shapes/geometry.py", roots) == ("shapes.geometry", False)
    assert module_name("libx/a.py", roots) == ("libx.a", False)   # a prefix of the name is not the folder
    assert module_name("tests/check.py", roots) == ("tests.check", False)
    # declared roots replace detection: a src/ package is then named from the corpus root
    assert package_roots(["src/pkg/__init__.py"], [("lib", "")]) == [("lib", ""), ("", "")]
    assert package_roots(["src/pkg/__init__.py"]) == [("src", ""), ("", "")]


def test_pyproject_package_dir_names_modules_and_links_tests():
    root = PY / "pkgdir_toml"
    layout = package_layout(root)
    assert (layout.roots, layout.source, layout.warnings) == ((("lib", ""),), "pyproject.toml", ())
    edges, ids = edges_and_ids(root, "geo", layout.roots)
    test = "py:geo:tests.check_shapes.test_area"
    assert "py:geo:shapes.geometry.Circle" in ids and "py:geo:shapes" in ids
    assert (test, "instantiates", "py:geo:shapes.geometry.Circle") in edges
    assert (test, "calls", "py:geo:shapes.geometry.Circle.scaled") in edges
    assert (test, "calls", "py:geo:shapes.geometry.area") in edges           # through the package's re-export
    assert not any(t.startswith("py:ext:shapes") for _, _, t in edges)
    # without the setting the same tree is named from the corpus root and the tests miss their code
    edges, ids = edges_and_ids(root, "geo", None)
    assert "py:geo:lib.shapes.geometry.Circle" in ids and "py:geo:shapes.geometry.Circle" not in ids
    assert (test, "calls", "py:ext:shapes.area") in edges


def test_setup_cfg_package_dir_maps_a_folder_to_a_package():
    root = PY / "pkgdir_cfg"
    layout = package_layout(root)
    assert (layout.roots, layout.source) == ((("source", "tally"),), "setup.cfg")
    edges, ids = edges_and_ids(root, "cnt", layout.roots)
    test = "py:cnt:tests.check_counter.test_total"
    assert {"py:cnt:tally", "py:cnt:tally.counter", "py:cnt:tally.counter.Counter"} <= ids
    assert (test, "instantiates", "py:cnt:tally.counter.Counter") in edges
    assert (test, "calls", "py:cnt:tally.counter.Counter.add") in edges
    assert (test, "calls", "py:cnt:tally.counter.total") in edges
    assert not any(t.startswith("py:ext:tally") for _, _, t in edges)
    edges, ids = edges_and_ids(root, "cnt", None)
    assert "py:cnt:source.counter.Counter" in ids and "py:cnt:tally.counter.Counter" not in ids
    assert (test, "calls", "py:ext:tally.counter.total") in edges


@pytest.mark.parametrize(("name", "text"), [
    ("pyproject.toml", "[tool.setuptools\npackage-dir = {'' = 'lib'}\n"),
    ("setup.cfg", "[options]\npackage_dir\n  =lib\n  =lib\n[options\n"),
])
def test_malformed_project_file_is_a_warning_not_a_crash(tmp_path, name, text):
    root = tmp_path / "proj"
    shutil.copytree(PY / "pkgdir_toml", root)
    (root / "pyproject.toml").unlink()
    (root / name).write_text(text)
    layout = package_layout(root)
    assert layout.roots is None and layout.source == "detected"
    assert len(layout.warnings) == 1 and layout.warnings[0].startswith(f"{name}: malformed (")
    lake = Lake(tmp_path / "lake")
    result = stage_kg([Corpus("geo", root)], lake, workers=1)
    (entry,) = result.manifest["corpora"]
    assert entry["package_roots"]["warnings"] == list(layout.warnings)
    assert f"  warning: geo: {layout.warnings[0]}" in format_summary(result.manifest, lake).splitlines()


def test_bad_entries_of_a_project_file_are_warnings(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.setuptools]\npackage-dir = {"" = "../elsewhere", "bad-name" = "lib", "ok" = "lib"}\n')
    layout = package_layout(tmp_path)
    assert layout.roots == (("lib", "ok"),)
    assert len(layout.warnings) == 2 and "'../elsewhere'" in layout.warnings[0]


def write_config(path: Path, root: Path, extra: str = "") -> Path:
    path.write_text(f"corpora:\n  - name: wx\n    root: {root}\n{extra}")
    return path


def test_corpora_yaml_package_roots_override_and_change_the_kg_version(tmp_path):
    root = tmp_path / "rootsproj"
    shutil.copytree(PY / "rootsproj", root)
    # a pyproject.toml saying otherwise: the corpora config wins over what the tree declares
    (root / "pyproject.toml").write_text('[tool.setuptools.packages.find]\nwhere = ["tests"]\n')
    lake = Lake(tmp_path / "lake")
    (corpus,) = load_corpora(write_config(tmp_path / "set.yaml", root, "    package_roots: [python]\n"))
    assert corpus.package_roots == ("python",)
    with_roots = stage_kg([corpus], lake, workers=1)
    entities = set(pq.read_table(with_roots.kg_dir / "entities.parquet").column("entity_id").to_pylist())
    triples = pq.read_table(with_roots.kg_dir / "triples.parquet").to_pylist()
    edges = {(t["head_id"], t["relation"], t["tail_id"]) for t in triples}
    test = "py:wx:tests.check_forecast.test_mean"
    assert "py:wx:weather.forecast.Forecast" in entities
    assert (test, "instantiates", "py:wx:weather.forecast.Forecast") in edges
    assert (test, "calls", "py:wx:weather.forecast.Forecast.mean") in edges
    assert (test, "calls", "py:wx:weather.forecast.average") in edges
    assert not any(t.startswith("py:ext:weather") for _, _, t in edges)
    assert with_roots.manifest["corpora"][0]["package_roots"] == {
        "roots": [["python", ""]], "source": "corpora.yaml", "warnings": []}
    assert stage_kg([corpus], lake, workers=1).reused      # same roots: the unchanged rebuild is a no-op

    # the same files under another setting: a new version, built afresh, with other names
    (plain,) = load_corpora(write_config(tmp_path / "plain.yaml", root))
    (root / "pyproject.toml").unlink()
    without = stage_kg([plain], lake, workers=1)
    assert not without.reused and without.kg_version != with_roots.kg_version
    entities = set(pq.read_table(without.kg_dir / "entities.parquet").column("entity_id").to_pylist())
    assert "py:wx:python.weather.forecast.Forecast" in entities
    assert "py:wx:weather.forecast.Forecast" not in entities
    # and a change in the tree's own declaration changes the version too
    (root / "pyproject.toml").write_text('[tool.setuptools.packages.find]\nwhere = ["python"]\n')
    declared = stage_kg([plain], lake, workers=1)
    assert not declared.reused and declared.kg_version not in (with_roots.kg_version, without.kg_version)


def test_configured_roots_override_src_detection():
    root = PY / "srcproj"  # a src/ layout that pyproject.toml declares too (packages.find where = src)
    assert package_layout(root).roots == (("src", ""),)
    layout = package_layout(root, (".",))  # the corpus root alone: src/ is then a folder like any other
    assert (layout.roots, layout.source) == ((("", ""),), "corpora.yaml")
    _edges, ids = edges_and_ids(root, "mini", layout.roots)
    assert "py:mini:src.minilib.core.Engine" in ids and "py:mini:minilib.core.Engine" not in ids


@pytest.mark.parametrize(("extra", "message"), [
    ("    package_root: [python]\n", "corpora.0.package_root: extra inputs are not permitted"),
    ("    package_roots: python\n", "corpora.0.package_roots: bad value 'python'"),
    ("    package_roots: [../elsewhere]\n", "corpora.0.package_roots: '../elsewhere' is outside the corpus root"),
    ("    package_roots: [/etc]\n", "corpora.0.package_roots: '/etc' is outside the corpus root"),
])
def test_bad_package_roots_in_the_corpora_config(tmp_path, extra, message):
    with pytest.raises(ValueError, match=f"^{tmp_path}/c.yaml: {message}"):
        CorporaConfig.from_yaml(write_config(tmp_path / "c.yaml", PY / "rootsproj", extra))


def test_package_roots_must_be_folders_inside_the_corpus(tmp_path):
    root = tmp_path / "rootsproj"
    shutil.copytree(PY / "rootsproj", root)
    (root / "escape").symlink_to(tmp_path)
    for entry, message in (("nope", "is not a folder under"), ("escape", "is outside the corpus root")):
        with pytest.raises(ValueError, match=f"^corpus 'wx': package_roots entry '{entry}' {message}"):
            stage_kg([Corpus("wx", root, package_roots=(entry,))], Lake(tmp_path / "lake"), workers=1)
