"""Splits: deterministic by (corpus, path), duplicates and near-duplicates kept together, shares kept,
licence headers stripped."""

from __future__ import annotations

import random

import pytest

from graphmer_core.data.config import DatasetConfig, Shares
from graphmer_core.data.sources import Source, strip_header
from graphmer_core.data.splits import assign_splits

CONFIG = DatasetConfig()


def source(corpus: str, path: str, text: str, language: str = "python") -> Source:
    return Source(corpus, path, language, f"sha-{corpus}-{path}", text, 0)


def module(i: int, corpus: str = "lib", lines: int = 12) -> str:
    return "\n".join(f"def {corpus}_function_{i}_{k}(argument_{k}):\n    return argument_{k} * {i + k} + {k}"
                     for k in range(lines)) + "\n"


def files(n: int, corpus: str = "lib") -> list[Source]:
    return [source(corpus, f"pkg/mod_{i:04d}.py", module(i, corpus)) for i in range(n)]


def by_path(table) -> dict[tuple[str, str], str]:
    return {(c, p): s for c, p, s in zip(table.column("corpus").to_pylist(), table.column("path").to_pylist(),
                                         table.column("split").to_pylist(), strict=True)}


def test_deterministic_and_stable_when_other_files_come_and_go():
    base = files(300)
    first = by_path(assign_splits(base, CONFIG))
    assert first == by_path(assign_splits(base, CONFIG))
    fewer = [f for i, f in enumerate(base) if i % 3]
    more = sorted(base + files(50, corpus="other"), key=lambda f: (f.corpus, f.path))
    for subset in (fewer, more):
        for key, split in by_path(assign_splits(subset, CONFIG)).items():
            if key in first:
                assert split == first[key], key


def test_shares_are_respected():
    counts = {"train": 0, "valid": 0, "test": 0}
    for split in by_path(assign_splits(files(4000), CONFIG)).values():
        counts[split] += 1
    assert abs(counts["train"] / 4000 - 0.90) < 0.02
    assert abs(counts["valid"] / 4000 - 0.05) < 0.015 and abs(counts["test"] / 4000 - 0.05) < 0.015


def test_identical_files_share_a_split_whatever_their_path_or_corpus():
    base = files(200)
    rng = random.Random(0)
    copies = []
    for i in rng.sample(range(200), 40):  # the same code, re-indented, under another name and corpus
        text = base[i].text.replace("    return", "\treturn").replace("\n", "\n\n")
        copies.append(source("forked", f"vendored/copy_{i}.py", text))
    table = by_path(assign_splits(sorted(base + copies, key=lambda f: (f.corpus, f.path)), CONFIG))
    for c in copies:
        i = int(c.path.split("_")[-1].split(".")[0])
        assert table[(c.corpus, c.path)] == table[("lib", base[i].path)]
    assert {table[("forked", c.path)] for c in copies} >= {"train", "valid"}  # copies of held-out files too


@pytest.mark.parametrize("near", [200, 0])
def test_near_duplicates_are_grouped_unless_switched_off(near):
    base = files(400)
    edited = base[7].text.replace("+ 3\n", "+ 33\n")  # one line changed
    planted = source("zzz", "edited_copy.py", edited)
    config = DatasetConfig(near_duplicate_chars=near)
    table = assign_splits(base + [planted], config)
    groups = dict(zip(table.column("path").to_pylist(), table.column("group").to_pylist(), strict=True))
    assert (groups["edited_copy.py"] == groups[base[7].path]) == (near > 0)
    if near:  # whatever split the hash gives the copy on its own, it follows the original
        assert by_path(table)[("zzz", "edited_copy.py")] == by_path(table)[("lib", base[7].path)]


def test_split_by_corpus_keeps_each_corpus_whole():
    config = DatasetConfig(split_by="corpus", shares=Shares(train=0.5, valid=0.25, test=0.25))
    corpora = [files(30, corpus=f"repo{i}") for i in range(12)]
    table = by_path(assign_splits([f for c in corpora for f in c], config))
    seen = set()
    for c in corpora:
        splits = {table[(f.corpus, f.path)] for f in c}
        assert len(splits) == 1
        seen |= splits
    assert len(seen) > 1


def test_licence_header_is_stripped_and_docs_kept():
    java = "/*\n * Copyright (c) Oracle\n * GPL\n */\n\npackage a.b;\n\n/** Docs. */\npublic class X {}\n"
    body, lines = strip_header(java, "java")
    assert body.startswith("package a.b;") and lines == 5 and "/** Docs. */" in body
    py = "#!/usr/bin/env python3\n# Licensed under the PSF\n\n\"\"\"Module docs.\"\"\"\nimport os\n"
    body, lines = strip_header(py, "python")
    assert body.startswith('"""Module docs."""') and lines == 3
    assert strip_header("x = 1\n", "python") == ("x = 1\n", 0)
    assert strip_header("    /* not a header: indented code */ int x;", "java")[1] == 0


def test_bad_shares_are_one_clear_error():
    with pytest.raises(ValueError, match="must sum to 1"):
        Shares(train=0.9, valid=0.2, test=0.0)


@pytest.mark.parametrize("cap", [0.01, 1.0])
def test_a_large_family_of_copies_stays_in_train_unless_allowed(cap):
    base = files(300)
    family = [source("gen", f"tables/table_{i}.py", module(999, "gen") + f"X_{i} = {i}\n") for i in range(20)]
    leader = min(family, key=lambda f: f.path)
    config = DatasetConfig(max_heldout_group_share=cap, shares=Shares(train=0.0, valid=0.5, test=0.5))
    splits = by_path(assign_splits(sorted(base + family, key=lambda f: (f.corpus, f.path)), config))
    fam = {splits[("gen", f.path)] for f in family}
    assert len(fam) == 1 and (fam == {"train"}) == (cap < 1.0)
    assert splits[("gen", leader.path)] in fam
