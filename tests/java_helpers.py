"""Build Java KG rows from a folder of sources, for tests."""

from __future__ import annotations

import hashlib
from pathlib import Path

from graphmer_core.kg.resolution import ParsedFile, Resolved, resolve
from graphmer_core.parsing.java import extract

FIXTURES = Path(__file__).parent / "fixtures" / "java"


def parse_folder(root: Path, corpus: str = "fx", subdirs: tuple[str, ...] = ("",)) -> list[ParsedFile]:
    files = []
    for sub in subdirs:
        for p in sorted((root / sub).rglob("*.java")):
            b = p.read_bytes()
            files.append(ParsedFile(corpus=corpus, path=p.relative_to(root).as_posix(), language="java",
                                    sha256=hashlib.sha256(b).hexdigest(), facts=extract(b)))
    return files


def build(root: Path = FIXTURES, corpus: str = "fx", subdirs: tuple[str, ...] = ("",)) -> Resolved:
    return resolve(parse_folder(root, corpus, subdirs))


class KG:
    """Lookups over resolved rows: entities by id, triples by (head, relation)."""

    def __init__(self, res: Resolved) -> None:
        self.res = res
        self.entities = {}
        for e in res.entity_dicts():
            self.entities.setdefault(e["entity_id"], e)
        self.triples = res.triple_dicts()
        self.by_head: dict[tuple[str, str], dict[str, str]] = {}
        for t in self.triples:
            self.by_head.setdefault((t["head_id"], t["relation"]), {}).setdefault(t["tail_id"], t["resolution"])

    def tails(self, head: str, relation: str) -> dict[str, str]:
        """{tail_id: resolution} of a head's triples of one relation."""
        return self.by_head.get((head, relation), {})
