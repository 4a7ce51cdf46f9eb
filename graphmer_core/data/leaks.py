"""The leak check: no valid or test window may equal a training window, token for token.

Splits keep identical files together, but a file copied with a small edit, or boilerplate shared
by two files, can still put the same code on both sides. Every window (at the dataset's check R)
is hashed; a held-out window whose hash is also a training window's fails the dataset, naming
both files.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from graphmer_core.data.leafy_chain import cut_windows


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


def window_digests(s: SplitStream, roots: int) -> tuple[list[bytes], np.ndarray]:
    """Digest of each window's token ids, and the file each window comes from."""
    starts, ends = cut_windows(s.file_offsets, s.newline, roots)
    tokens = s.tokens.astype(np.int32, copy=False)
    digests = [hashlib.blake2b(tokens[a:b].tobytes(), digest_size=16).digest()
               for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]
    files = np.searchsorted(s.file_offsets, starts, side="right") - 1
    return digests, files


def check_leaks(streams: dict[str, SplitStream], roots: int) -> LeakReport:
    report = LeakReport(roots)
    train: dict[bytes, str] = {}
    if "train" in streams:
        digests, files = window_digests(streams["train"], roots)
        names = streams["train"].file_names
        for d, f in zip(digests, files.tolist(), strict=True):
            train.setdefault(d, names[f])
        report.windows["train"] = len(digests)
    for split, s in streams.items():
        if split == "train":
            continue
        digests, files = window_digests(s, roots)
        report.windows[split] = len(digests)
        for d, f in zip(digests, files.tolist(), strict=True):
            if d in train:
                report.leaks.append({"split": split, "file": s.file_names[f], "train_file": train[d]})
    return report
