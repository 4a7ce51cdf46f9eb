"""Loaders that turn fixture folders into ParsedFile lists for the KG tests."""

from __future__ import annotations

import hashlib
from pathlib import Path

from graphmer_core.kg.resolution import ParsedFile, Resolved, resolve
from graphmer_core.parsing.python import extract

FIXTURES = Path(__file__).parent / "fixtures"


def parsed_python(root: Path, corpus: str = "fx", paths: list[str] | None = None) -> list[ParsedFile]:
    """ParsedFile objects for the .py files under `root` (or just `paths`, relative posix)."""
    if paths is None:
        paths = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.py"))
    out = []
    for rel in paths:
        b = (root / rel).read_bytes()
        out.append(ParsedFile(corpus=corpus, path=rel, language="python",
                              sha256=hashlib.sha256(b).hexdigest(), facts=extract(b)))
    return out


def build_python(root: Path, corpus: str = "fx", paths: list[str] | None = None) -> Resolved:
    return resolve(parsed_python(root, corpus, paths))
