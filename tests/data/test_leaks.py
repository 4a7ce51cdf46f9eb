"""The leak check's hashing: equal windows are found whatever the hash does, unequal ones never
reported, even when every hash collides."""

from __future__ import annotations

import numpy as np
import pytest

from graphmer_core.data import leaks
from graphmer_core.data.leaks import SplitStream, check_leaks


def _stream(files: list[list[int]], name: str) -> SplitStream:
    tokens = np.array([t for f in files for t in f], dtype=np.int32)
    # a line break every 4th token of each file, so windows cut at line starts the same way in a copy
    newline = np.array([i % 4 == 3 for f in files for i in range(len(f))], dtype=bool)
    offsets = np.concatenate([[0], np.cumsum([len(f) for f in files])]).astype(np.int64)
    return SplitStream(tokens, newline, offsets, [f"{name}:{i}" for i in range(len(files))])


@pytest.fixture
def streams():
    rng = np.random.default_rng(7)
    train_files = [rng.integers(0, 50, n).tolist() for n in (40, 17, 90)]
    shared = train_files[2][:]  # a copy of a training file in valid: its windows leak
    # same tokens as a training window, reordered: same multiset, different window
    permuted = train_files[1][::-1]
    return {"train": _stream(train_files, "train"),
            "valid": _stream([rng.integers(50, 99, 30).tolist(), shared], "valid"),
            "test": _stream([permuted], "test")}


@pytest.mark.parametrize("base", [leaks._BASE, np.uint64(1), np.uint64(0)])
def test_leaks_are_equal_windows_whatever_the_hash(streams, base, monkeypatch):
    """base 1 makes a window's hash the sum of its tokens (permutations collide), base 0 makes every
    hash 0: the report stays the same, because matches are compared token for token."""
    monkeypatch.setattr(leaks, "_BASE", base)
    report = check_leaks(streams, 8)
    assert report.windows["valid"] > 0 and report.windows["test"] > 0
    assert report.leaks and {x["split"] for x in report.leaks} == {"valid"}
    assert {(x["file"], x["train_file"]) for x in report.leaks} == {("valid:1", "train:2")}
    # every window of the copied file is a leak; nothing of the permuted one is
    copied = leaks.window_hashes(streams["valid"], 8)[3]
    assert len(report.leaks) == int((copied == 1).sum())
