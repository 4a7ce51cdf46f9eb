"""The leak check: no valid or test window may equal a training window, token for token.

Splits keep identical files together, but a file copied with a small edit, or boilerplate shared
by two files, can still put the same code on both sides. Every window (at the dataset's check R)
is hashed; a held-out window whose hash is also a training window's fails the dataset, naming
both files.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from graphmer_core.data.leafy_chain import cut_windows
from graphmer_core.data.words import HASH_BASE


class LeakError(ValueError):
    """Held-out code also occurs in training windows; the dataset must not be used."""


@dataclass
class LeakReport:
    roots: int
    windows: dict[str, int] = field(default_factory=dict)
    leaks: list[dict] = field(default_factory=list)  # {split, file, train_file}

    @property
    def ok(self) -> bool:
        return not self.leaks

    def summary(self) -> dict:
        return {"roots": self.roots, "windows": self.windows, "leaked_windows": len(self.leaks),
                "examples": self.leaks[:20]}

    def raise_if_leaking(self) -> None:
        if self.leaks:
            files = sorted({(x["split"], x["file"], x["train_file"]) for x in self.leaks})
            lines = [f"{s} {f} repeats training file {t}" for s, f, t in files[:20]]
            more = f"\n  ... and {len(files) - 20} more" if len(files) > 20 else ""
            raise LeakError(f"{len(self.leaks)} held-out window(s) at R={self.roots} also occur in training:\n  "
                            + "\n  ".join(lines) + more)


@dataclass
class SplitStream:
    tokens: np.ndarray
    newline: np.ndarray
    file_offsets: np.ndarray
    file_names: list[str]  # "corpus:path" per file


HASH_CHUNK = 8192  # windows hashed per numpy pass (a chunk x R gather)
_BASE = np.uint64(HASH_BASE)  # the polynomial's base, modulo 2^64


def window_hashes(s: SplitStream, roots: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(hash, start, end, file) of each window: a polynomial hash of its token ids modulo 2^64,
    in numpy. Equal windows always hash equal; the check compares the tokens of windows whose
    hashes match before it calls any a leak, so a collision costs a comparison, never a verdict.
    (Not words.span_hashes: its prefix sums keep a table of powers as long as the whole stream.)"""
    starts, ends = cut_windows(s.file_offsets, s.newline, roots)
    files = np.searchsorted(s.file_offsets, starts, side="right") - 1
    hashes = np.zeros(len(starts), dtype=np.uint64)
    if not len(starts):
        return hashes.view(np.int64), starts, ends, files
    width = int((ends - starts).max())
    with np.errstate(over="ignore"):
        powers = np.cumprod(np.full(width, _BASE, dtype=np.uint64))  # B^1 .. B^width
        k = np.arange(width)
        for lo in range(0, len(starts), HASH_CHUNK):
            a, b = starts[lo:lo + HASH_CHUNK, None], ends[lo:lo + HASH_CHUNK, None]
            at = a + k
            inside = at < b
            # token + 1, so a window and the same window with trailing zeros (padding) differ
            terms = np.where(inside, s.tokens[np.where(inside, at, 0)].astype(np.uint64) + np.uint64(1), np.uint64(0))
            hashes[lo:lo + HASH_CHUNK] = (terms * powers).sum(axis=1, dtype=np.uint64)
    return hashes.view(np.int64), starts, ends, files


def check_leaks(streams: dict[str, SplitStream], roots: int) -> LeakReport:
    """Every held-out window equal, token for token, to a training window is a leak, reported with
    the first such training window's file."""
    report = LeakReport(roots)
    train = streams.get("train")
    if train is not None:
        t_hash, t_start, t_end, t_file = window_hashes(train, roots)
        order = np.argsort(t_hash, kind="stable")  # equal hashes keep window order: the first comes first
        t_sorted = t_hash[order]
        report.windows["train"] = len(t_hash)
    for split, s in streams.items():
        if split == "train":
            continue
        h, start, end, file = window_hashes(s, roots)
        report.windows[split] = len(h)
        if train is None or not len(t_sorted):
            continue
        at = np.searchsorted(t_sorted, h).clip(max=len(t_sorted) - 1)
        for i in np.flatnonzero(t_sorted[at] == h).tolist():
            window = s.tokens[start[i]:end[i]]
            j = int(at[i])
            while j < len(t_sorted) and t_sorted[j] == h[i]:
                w = order[j]
                if np.array_equal(train.tokens[t_start[w]:t_end[w]], window):
                    report.leaks.append({"split": split, "file": s.file_names[file[i]],
                                         "train_file": train.file_names[t_file[w]]})
                    break
                j += 1
    return report
