"""SIGKILL at the worst moments of a KG build, a parse-cache write, a promotion, a dataset build and a
checkpoint write: the previous good state stays readable and current, no lock is left held, and
the next run completes without manual clean-up."""

from __future__ import annotations

import signal
import sqlite3
import sys
from pathlib import Path

import pytest
from lake_procs import (build_kg_code, change, crash_env, env, leftovers, lock_is_free, python, shop_copy)

from graphmer_core.corpus.discovery import Corpus
from graphmer_core.data.build import build_dataset
from graphmer_core.data.config import DatasetConfig, Shares
from graphmer_core.data.store import open_dataset
from graphmer_core.kg import store
from graphmer_core.kg.build import build_kg
from graphmer_core.lake import Lake
from graphmer_core.parsing.cache import FILE as CACHE_FILE
from graphmer_core.train.checkpoint import (checkpoint_dir, latest_valid_checkpoint, list_checkpoints,
                                            verify_checkpoint)

KILLED = -signal.SIGKILL
SHOP_CONFIG = DatasetConfig(vocab_size=600, shares=Shares(train=1.0, valid=0.0, test=0.0), leak_check_roots=64)


@pytest.fixture
def shop(tmp_path):
    """A copy of the shop fixture with one KG version built and promoted (no gates: GX is slow)."""
    corpus = shop_copy(tmp_path)
    lake = Lake(tmp_path / "lake")
    first = build_kg([Corpus("shop", corpus)], lake, workers=1, gates=None).kg_version
    return corpus, lake, first


def triple_count(lake: Lake) -> int:
    return store.query(lake, "SELECT count(*) AS n FROM triples").column("n")[0].as_py()


def assert_still(lake: Lake, version: str, triples: int) -> None:
    """`version` is current and whole: pointer, verified files, catalogue and queries agree."""
    assert lake.current_version() == version
    store.verify(lake.kg_dir(version))
    assert lake.catalog_version() == version
    assert triple_count(lake) == triples
    assert lock_is_free(lake), "a killed writer left the lake locked"


def rebuild(lake: Lake, corpus: Path) -> str:
    out = python(build_kg_code(lake.root, {"shop": corpus}))
    assert out.returncode == 0, out.stderr
    return out.stdout.split()[-1]


def test_killed_while_staging_tables_keeps_the_previous_kg_and_the_next_build_sweeps(shop):
    corpus, lake, first = shop
    before = triple_count(lake)
    change(corpus)
    out = python(build_kg_code(lake.root, {"shop": corpus}), crash_env("kg.stage"))
    assert out.returncode == KILLED, out.stderr
    [partial] = leftovers(lake)  # the killed build's half-written version, under a dot name
    assert partial.startswith("staging/.") and partial.endswith(".partial")
    assert [p.name for p in lake.staging.iterdir() if not p.name.startswith(".")] == []
    assert_still(lake, first, before)

    second = rebuild(lake, corpus)
    assert second != first and lake.current_version() == second
    assert leftovers(lake) == []  # swept, with no manual clean-up
    assert triple_count(lake) > before


def cache_entries(lake: Lake) -> int:
    con = sqlite3.connect(lake.parse_cache / CACHE_FILE)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        heads, rests = (con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("heads", "rests"))
        assert heads == rests  # a file's two parts are committed together
        return heads
    finally:
        con.close()


def test_killed_inside_a_parse_cache_transaction_loses_only_that_transaction(shop):
    corpus, lake, first = shop
    before, entries = triple_count(lake), cache_entries(lake)
    change(corpus)
    out = python(build_kg_code(lake.root, {"shop": corpus}), crash_env("parse_cache.write"))
    assert out.returncode == KILLED, out.stderr
    assert_still(lake, first, before)
    assert cache_entries(lake) == entries  # the killed build's transaction never committed

    second = rebuild(lake, corpus)
    assert lake.current_version() == second != first
    assert cache_entries(lake) == entries + 1  # the new module, parsed again and cached


@pytest.mark.parametrize("point", ["kg.promote.moved", "kg.promote.pointed"])
def test_killed_midway_through_a_promotion_is_finished_by_the_next_build(shop, point):
    corpus, lake, first = shop
    before = triple_count(lake)
    change(corpus)
    out = python(build_kg_code(lake.root, {"shop": corpus}), crash_env(point))
    assert out.returncode == KILLED, out.stderr
    second = sorted(p.name for p in lake.kg_root.iterdir() if p.is_dir() and p.name != first)[0]
    store.verify(lake.kg_dir(second))  # moved whole into kg/
    assert lock_is_free(lake)
    if point == "kg.promote.moved":  # not yet pointed at: the previous version is still the one served
        assert_still(lake, first, before)
    else:  # pointed at, the catalogue not yet rebuilt: it still answers, over the previous version
        assert lake.current_version() == second
        assert lake.catalog_version() == first and triple_count(lake) == before

    assert rebuild(lake, corpus) == second
    assert lake.current_version() == second and lake.catalog_version() == second
    assert triple_count(lake) > before
    assert leftovers(lake) == []


def test_killed_while_writing_dataset_shards_keeps_the_previous_dataset(shop):
    corpus, lake, _ = shop
    done = build_dataset(lake, SHOP_CONFIG, gates=False)
    change(corpus)
    build_kg([Corpus("shop", corpus)], lake, workers=1, gates=None)
    code = ("from graphmer_core.data.build import build_dataset\n"
            "from graphmer_core.data.config import DatasetConfig\n"
            "from graphmer_core.lake import Lake\n"
            f"c = DatasetConfig.model_validate({SHOP_CONFIG.model_dump(mode='json')!r})\n"
            f"print(build_dataset(Lake({str(lake.root)!r}), c, gates=False).version)\n")
    out = python(code, crash_env("dataset.shards"))
    assert out.returncode == KILLED, out.stderr
    assert open_dataset(done.path, require_gates=False).version == done.version  # verifies every file
    killed = out_version(lake)
    assert sorted(p.name for p in lake.datasets_root.iterdir()) == sorted([done.version, f".{killed}.partial"])
    assert lock_is_free(lake)

    out = python(code)
    assert out.returncode == 0, out.stderr
    new = out.stdout.split()[-1]
    assert new != done.version
    assert sorted(p.name for p in lake.datasets_root.iterdir()) == sorted([done.version, new])
    open_dataset(lake.dataset_dir(new), require_gates=False)


def out_version(lake: Lake) -> str:
    """The dataset version whose build was killed (the one partial folder)."""
    [partial] = [p.name for p in lake.datasets_root.iterdir() if p.name.endswith(".partial")]
    return partial[1:-len(".partial")]


def test_killed_before_a_checkpoint_is_renamed_leaves_the_previous_one_latest(tmp_path):
    sys.path.insert(0, str(Path(__file__).parent.parent / "train"))
    from test_checkpoint import RUN_ID, save, tiny_model

    run_dir = Lake(tmp_path / "lake").run_dir(RUN_ID)
    run_dir.mkdir(parents=True)
    first = save(run_dir, 10, tiny_model())
    code = (f"import sys; sys.path.insert(0, {str(Path(__file__).parent.parent / 'train')!r})\n"
            "from pathlib import Path\n"
            "from test_checkpoint import save, tiny_model\n"
            f"save(Path({str(run_dir)!r}), 20, tiny_model())\n")
    out = python(code, crash_env("checkpoint.write"))
    assert out.returncode == KILLED, out.stderr
    [temp] = [p for p in (run_dir / "checkpoints").iterdir() if p.name.startswith(".")]
    assert temp.name.startswith(".step_000020.")
    assert not checkpoint_dir(run_dir, 20).exists()
    assert [p for _, p in list_checkpoints(run_dir)] == [first]
    assert latest_valid_checkpoint(run_dir) == first
    verify_checkpoint(first)

    out = python(code, env())
    assert out.returncode == 0, out.stderr
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == ["step_000010", "step_000020"]
    assert latest_valid_checkpoint(run_dir) == checkpoint_dir(run_dir, 20)
