"""Dataset builds on real KGs: a hand-checked window, in-window flags, leaks, versions, checksums."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest
from lakes import EMAIL_CONFIG, SHOP_CONFIG, email_corpora, kg_lake

from graphmer_core.data import store
from graphmer_core.data.build import build_dataset, open_stage
from graphmer_core.data.config import DatasetConfig
from graphmer_core.data.leaks import LeakError
from graphmer_core.data.loader import BatchSpec, SplitView
from graphmer_core.data.tokenizer import MASK_ID

PLAIN = BatchSpec(batch_size=4, mlm_rate=0.0, mnm_prob=0.0, negatives_ratio=0.0)  # nothing masked


def window_of(view: SplitView, path: str) -> int:
    rows = view.ds.splits_table.column("path").to_pylist()
    f = [i for i, r in enumerate(view.data.file_row.tolist()) if rows[r] == path][0]
    return int(np.searchsorted(view.starts, view.data.file_offsets[f]))


def test_hand_checked_window(shop_dataset):
    """`class PricingError(ValueError):` on line 1 of shop/pricing.py: PricingError has exactly one
    triple (inherits_from builtins.ValueError), so its root carries exactly that leaf."""
    ds = store.open_dataset(shop_dataset.path)
    view = SplitView(ds, "train", 64, PLAIN)
    w = window_of(view, "shop/pricing.py")
    text = stripped_text(ds, "shop/pricing.py")
    tok = ds.tokenizer()
    enc = tok.encode(text[:400])
    start = text.index("PricingError")
    covering = [i for i, (a, b) in enumerate(enc.offsets) if a < start + len("PricingError") and b > start]
    batch = view.batch(np.array([w]), 0, 0)
    b = batch.leafy
    r = covering[0]
    assert b.root_ids[0, :len(enc.ids)].tolist()[:40] == enc.ids[:40]  # the window is the file's first tokens
    assert ds.relations[int(b.relation_ids[0, r])] == "inherits_from"
    assert int(b.head_span[0, r]) == len(covering)
    expected = tok.encode("ValueError").ids
    assert b.leaf_ids[0, r, :len(expected)].tolist() == expected
    assert b.leaf_mask[0, r].tolist() == [True] * len(expected) + [False] * (7 - len(expected))
    assert bool(batch.in_window[0, r])  # `ValueError` is written on the same line
    # the `class PriceList:` root carries one of PriceList's own triples, drawn afresh with the seed
    pl = [i for i, (a, b_) in enumerate(enc.offsets) if a <= text.index("class PriceList") + 6 < b_][0]
    shown = {tok.decode(view.batch(np.array([w]), 0, s).leafy.leaf_ids[0, pl].tolist(), skip_special_tokens=True)
             for s in range(40)}
    assert shown == {"PriceList.__init__", "PriceList.prices", "PriceList.price"}
    # roots where no head occurs carry nothing
    assert not b.leaf_mask[0][b.relation_ids[0] == 0].any()


def stripped_text(ds, path: str) -> str:
    """The stripped body the dataset tokenized, read back from the corpus."""
    from graphmer_core.data.sources import strip_header

    root = {c["name"]: c["root"] for c in ds.manifest["corpora"]}["shop"]
    return strip_header(open(f"{root}/{path}").read(), "python")[0]


def test_in_window_flag_matches_the_window_text(email_dataset):
    """Independently of the word tables: a tail is in the window iff its name is a whole word of
    the window's decoded text. Both kinds occur."""
    ds = store.open_dataset(email_dataset.path)
    tok = ds.tokenizer()
    search = ds.entities.column("search").to_pylist()
    view = SplitView(ds, "train", 64, PLAIN)
    seen = {True: 0, False: 0}
    for start in range(0, 400, 4):
        batch = view.batch(np.arange(start, start + 4), 1, start)
        for bi, r in zip(*np.nonzero(batch.leafy.relation_ids.numpy() > 0), strict=True):
            text = tok.decode(batch.leafy.root_ids[bi].tolist(), skip_special_tokens=True)
            name = search[int(batch.tail[bi, r])]
            expected = re.search(rf"(?<![\w]){re.escape(name)}(?![\w])", text) is not None
            assert bool(batch.in_window[bi, r]) == expected, (name, text)
            seen[expected] += 1
    assert seen[True] > 20 and seen[False] > 20


def test_unchanged_kg_and_config_rebuild_nothing_and_a_config_change_does(email_lake, email_dataset):
    again = build_dataset(email_lake, EMAIL_CONFIG)
    assert again.reused and again.version == email_dataset.version
    other = open_stage(email_lake, EMAIL_CONFIG.model_copy(update={"vocab_size": 900}))
    assert other.version != email_dataset.version and not other.done


def test_manifest_reports_placement_per_relation(email_dataset):
    m = store.open_dataset(email_dataset.path).manifest
    assert set(m["files"]) == {"train", "valid", "test"} and all(m["files"].values())
    calls = m["triples"]["calls"]
    assert 0 < calls["placed"] <= calls["kg"] and 0 < calls["placed_share_of_kg"] <= 1
    assert 0 < m["triples_total"]["placed_share_of_kg"] <= 1
    assert 0 <= m["in_window_share"]["calls"] <= 1
    assert m["leak_check"]["leaked_windows"] == 0
    assert m["tokenizer"]["sample_bytes"] <= m["tokenizer"]["sample_bytes_cap"] + 200_000
    gates = store.read_gates(email_dataset.path)
    assert gates["passed"] and all(gates["suites"].values())


def test_held_out_triples_never_reach_training_windows(email_dataset):
    ds = store.open_dataset(email_dataset.path)
    split = ds.column("triples", "split")
    view = SplitView(ds, "train", 64, PLAIN)
    rows = np.concatenate([view.batch(np.arange(i, i + 4), 3, i).triple.numpy().ravel() for i in range(0, 200, 4)])
    rows = rows[rows >= 0]
    assert len(rows) > 50 and (split[rows] == store.SPLIT_IDS["train"]).all()


def test_a_flipped_byte_makes_the_dataset_refuse_to_open(shop_dataset, tmp_path):
    copy = tmp_path / "ds"
    shutil.copytree(shop_dataset.path, copy)
    shard = next((copy / "shards").iterdir())
    data = bytearray(shard.read_bytes())
    data[-3] ^= 1
    shard.write_bytes(bytes(data))
    with pytest.raises(store.DatasetError, match=shard.name):
        store.open_dataset(copy)


def test_dataset_without_passing_gates_is_refused(shop_dataset, tmp_path):
    copy = tmp_path / "ds"
    shutil.copytree(shop_dataset.path, copy)
    (copy / store.GATES).unlink()
    with pytest.raises(store.DatasetError, match="quality gates"):
        store.open_dataset(copy)
    store.write_gates(copy, {"passed": False, "failures": ["dataset_splits: empty"]})
    with pytest.raises(store.DatasetError, match="failed its quality gates"):
        store.open_dataset(copy)


def test_planted_duplicates_are_kept_in_one_split_or_caught(tmp_path):
    """Copies of a held-out email module under other names, in another corpus, share one split
    with it. With near-duplicate grouping off, an extended copy that lands in train is caught by
    the leak check, which names both files."""
    src = tmp_path / "src"
    corpora = email_corpora(src)
    base = DatasetConfig(vocab_size=1000, shares=EMAIL_CONFIG.shares, leak_check_roots=64)
    lake = kg_lake(tmp_path / "lake", corpora)
    splits = open_stage(lake, base)
    build_dataset(lake, base)
    table = store.open_dataset(splits.final).splits_table
    split_of = {p: s for c, p, s in zip(table.column("corpus").to_pylist(), table.column("path").to_pylist(),
                                        table.column("split").to_pylist(), strict=True) if c == "email"}
    held_out = sorted(p for p, s in split_of.items() if s != "train" and (src / "email" / p).stat().st_size > 4000)
    victim = held_out[0]
    text = (src / "email" / victim).read_text()
    (src / "planted").mkdir()
    for i in range(12):  # exact copies under other names, in another corpus
        (src / "planted" / f"copy_{i}.py").write_text(text)
    for i in range(12):  # near-duplicates, each extended differently (so each is its own group without shingles)
        (src / "planted" / f"edited_{i}.py").write_text(text + f"\n\ndef added_{i}():\n    return {i}\n")
    from graphmer_core.corpus.discovery import Corpus

    lake2 = kg_lake(tmp_path / "lake2", [*corpora, Corpus("planted", src / "planted")])
    kept = build_dataset(lake2, base)
    t = store.open_dataset(kept.path).splits_table
    now = {(c, p): s for c, p, s in zip(t.column("corpus").to_pylist(), t.column("path").to_pylist(),
                                        t.column("split").to_pylist(), strict=True)}
    copies = {s for (c, p), s in now.items() if c == "planted" and p.startswith("copy_")}
    assert copies == {now[("email", victim)]}  # the original and its 12 copies: one split

    ungrouped = base.model_copy(update={"near_duplicate_chars": 0})
    v = re.escape(victim)
    with pytest.raises(LeakError, match=rf"email:{v} repeats training file planted:edited_|"
                                        rf"planted:edited_\d+\.py repeats training file email:{v}"):
        build_dataset(lake2, ungrouped)


def test_the_curriculum_cuts_other_lengths_from_the_same_files(email_dataset):
    ds = store.open_dataset(email_dataset.path)
    short, long = SplitView(ds, "train", 32, PLAIN), SplitView(ds, "train", 128, PLAIN)
    assert len(short) > 2 * len(long)
    assert (short.ends - short.starts).max() <= 32 and (long.ends - long.starts).max() <= 128
    b = long.batch(np.arange(4), 0, 0).leafy
    assert b.root_ids.shape == (4, 128) and MASK_ID not in b.root_ids.tolist()
def test_build_dataset_cli_prints_a_summary(shop_lake, capsys, tmp_path):
    from graphmer_core.cli import main

    profiles = tmp_path / "profiles.yaml"
    profiles.write_text(json.dumps({"shop": {"dataset": SHOP_CONFIG.model_dump(mode="json")}}))
    assert main(["build-dataset", "--profile", "shop", "--profiles", str(profiles),
                 "--lake", str(shop_lake.root)]) == 0
    out = capsys.readouterr().out
    assert "dataset" in out and "placed" in out and "train" in out


@pytest.mark.parametrize("change", ["corpora", "max_files", "max_tail_tokens", "strip_headers",
                                    "tokenizer_sample_bytes"])
def test_each_dataset_setting_changes_the_dataset(email_lake, email_dataset, change):
    base = store.open_dataset(email_dataset.path).manifest
    update = {"corpora": ["shop"], "max_files": 5, "max_tail_tokens": 2, "strip_headers": False,
              "tokenizer_sample_bytes": 20_000}[change]
    config = EMAIL_CONFIG.model_copy(update={change: update})
    if change in ("corpora", "max_files"):  # a held-out split of a handful of files may be empty
        config = config.model_copy(update={"shares": SHOP_CONFIG.shares})
    if change == "strip_headers":  # email's modules open with one licence block: kept, it leaks
        with pytest.raises(LeakError, match="repeats training file"):
            build_dataset(email_lake, config, gates=False)
        return
    m = build_dataset(email_lake, config, gates=False).info
    assert m["dataset_version"] != base["dataset_version"]
    if change == "corpora":
        files = store.open_dataset(open_stage(email_lake, config).final, require_gates=False).splits_table
        assert set(files.column("corpus").to_pylist()) == {"shop"}
    elif change == "max_files":
        files = store.open_dataset(open_stage(email_lake, config).final, require_gates=False).splits_table
        per = files.group_by("corpus").aggregate([("path", "count")]).column("path_count").to_pylist()
        assert max(per) == 5 and sum(base["files"].values()) > 10
    elif change == "max_tail_tokens":
        too_long = sum(r["train"]["tail_too_long"] for r in m["triples"].values())
        assert too_long > sum(r["train"]["tail_too_long"] for r in base["triples"].values())
    else:
        assert m["tokenizer"]["sample_bytes"] < base["tokenizer"]["sample_bytes"]
