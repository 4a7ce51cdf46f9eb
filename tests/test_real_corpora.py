"""Known facts of the real default corpora hold in a KG built through the whole lake path.

Subsets keep it fast: json/argparse/http of the running interpreter's stdlib, and java.util +
java.lang + java.io of JDK 17's java.base (prepared by `make corpora`; skipped, with the reason,
when the JDK sources are absent).
"""

import shutil
import sysconfig
from pathlib import Path

import pytest

from graphmer_core.corpus.discovery import Corpus
from graphmer_core.kg import store
from graphmer_core.kg.build import build_kg
from graphmer_core.lake import Lake

STDLIB = Path(sysconfig.get_paths()["stdlib"])
JDK = Path(__file__).resolve().parents[1] / "data_lake" / "corpora" / "jdk17" / "java.base"


def copy_subset(src: Path, dest: Path, parts: list[str]) -> Path:
    for part in parts:
        p = src / part
        if p.is_dir():
            shutil.copytree(p, dest / part, ignore=shutil.ignore_patterns("__pycache__", "test", "tests", "*/"))
        else:
            (dest / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(p, dest / part)
    return dest


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("real")
    corpora = [Corpus("stdlib", copy_subset(STDLIB, tmp / "py", ["json", "argparse.py", "http", "gettext.py"]))]
    if JDK.is_dir():
        corpora.append(Corpus("jdk", copy_subset(JDK, tmp / "java", ["java/util", "java/lang", "java/io"])))
    lake = Lake(tmp / "lake")
    build_kg(corpora, lake, workers=2)
    return lake


def edge(lake, head, relation, tail) -> list[dict]:
    return store.query(lake, f"""
        SELECT t.resolution FROM triples t JOIN entities h ON t.head_id = h.entity_id
        JOIN entities tl ON t.tail_id = tl.entity_id
        WHERE h.qualified_name = '{head}' AND t.relation = '{relation}' AND tl.qualified_name = '{tail}'
    """).to_pylist()


PY_FACTS = [
    ("json.decoder.JSONDecodeError", "inherits_from", "builtins.ValueError"),
    ("argparse.ArgumentParser", "inherits_from", "argparse._AttributeHolder"),
    ("argparse.ArgumentParser", "inherits_from", "argparse._ActionsContainer"),
    ("json.loads", "calls", "json.decoder.JSONDecoder.decode"),            # via the module-level instance
    ("json.decoder.JSONDecoder.decode", "calls", "json.decoder.JSONDecoder.raw_decode"),
    ("json", "instantiates", "json.encoder.JSONEncoder"),                  # module-level code of __init__.py
    ("argparse.RawDescriptionHelpFormatter._fill_text", "overrides", "argparse.HelpFormatter._fill_text"),
    ("http.client.HTTPConnection.getresponse", "raises", "http.client.ResponseNotReady"),
    ("json.decoder", "contains", "json.decoder.JSONDecoder"),
]
JAVA_FACTS = [
    ("java.util.ArrayList", "inherits_from", "java.util.AbstractList"),
    ("java.util.ArrayList", "implements", "java.util.List"),
    ("java.util.ArrayList.add", "overrides", "java.util.AbstractList.add"),
    ("java.util.HashMap", "implements", "java.util.Map"),
    ("java.util.LinkedList", "inherits_from", "java.util.AbstractSequentialList"),
    ("java.util.ArrayList.rangeCheckForAdd", "throws", "java.lang.IndexOutOfBoundsException"),
    ("java.io.FileInputStream", "inherits_from", "java.io.InputStream"),
    ("java.lang.String", "implements", "java.lang.CharSequence"),
]


@pytest.mark.parametrize("head, relation, tail", PY_FACTS)
def test_stdlib_facts(lake, head, relation, tail):
    assert edge(lake, head, relation, tail), f"missing: {head} -{relation}-> {tail}"


@pytest.mark.parametrize("head, relation, tail", JAVA_FACTS)
def test_jdk_facts(lake, head, relation, tail):
    if not JDK.is_dir():
        pytest.skip(f"JDK 17 sources not prepared at {JDK} (run `make corpora`)")
    assert edge(lake, head, relation, tail), f"missing: {head} -{relation}-> {tail}"


def test_real_kg_passes_the_ontology(lake):
    manifest = store.read_manifest(lake.current_dir())
    assert manifest["validation"]["domain_range_valid_share"] >= 0.995
    assert manifest["validation"]["inheritance_cycles"] == 0
    assert manifest["validation"]["violations_by_rule"]["dangling"] == 0
