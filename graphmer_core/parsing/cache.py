"""Per-file extraction results cached by (content sha256, extractor version).

Each entry is one file: the sha256 of its payload on the first line, then the JSON payload.
An entry whose payload does not match its stamp (torn write, bit rot, tampering) is treated as
missing and recomputed, never trusted.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from graphmer_core.artifacts import write_bytes_atomic


class ParseCache:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def path(self, version: str, sha256: str) -> Path:
        return self.root / version / sha256[:2] / f"{sha256}.json"

    def get(self, version: str, sha256: str) -> dict[str, Any] | None:
        try:
            raw = self.path(version, sha256).read_bytes()
        except OSError:
            return None
        stamp, _, payload = raw.partition(b"\n")
        if hashlib.sha256(payload).hexdigest().encode() != stamp:
            return None
        try:
            return json.loads(payload)
        except ValueError:
            return None

    def put(self, version: str, sha256: str, facts: dict[str, Any]) -> None:
        payload = json.dumps(facts, separators=(",", ":")).encode()
        stamp = hashlib.sha256(payload).hexdigest().encode()
        # No fsync: a torn entry fails its stamp and is recomputed.
        write_bytes_atomic(self.path(version, sha256), stamp + b"\n" + payload, fsync=False)
