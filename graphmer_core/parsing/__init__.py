"""Per-file syntax facts from tree-sitter queries.

An extractor turns one file's bytes into facts of plain data (lists, strings, numbers, None):
definitions, references, imports, spans. No ontology and no cross-file knowledge, so a file's
facts depend only on its bytes and can be cached by (content sha256, extractor version).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

LANGUAGES = ("python", "java")
SUFFIXES = {".py": "python", ".java": "java"}


def extractor(language: str) -> Callable[[bytes], dict[str, Any]]:
    """The `extract(source: bytes) -> facts` function of a language."""
    return importlib.import_module(f"graphmer_core.parsing.{language}").extract


def extractor_version(language: str) -> str:
    return importlib.import_module(f"graphmer_core.parsing.{language}").EXTRACTOR_VERSION


@dataclass(frozen=True)
class ParsedFile:
    """One file's syntax facts, with where it sits in its corpus."""

    corpus: str
    path: str  # posix path relative to the corpus root
    language: str
    sha256: str
    facts: dict[str, Any]
