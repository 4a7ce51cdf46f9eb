"""Corpora from configs/corpora.yaml or `NAME=PATH` strings."""

from __future__ import annotations

import os
import sysconfig
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict

from graphmer_core.corpus.discovery import DEFAULT_EXCLUDE, DEFAULT_MAX_BYTES, Corpus

REPO_ROOT = Path(__file__).resolve().parents[2]
# $GRAPHMER_CORPORA points the CLI and the pipeline at another corpora file.
DEFAULT_CONFIG = Path(os.environ.get("GRAPHMER_CORPORA", REPO_ROOT / "configs" / "corpora.yaml"))


class CorpusSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    root: str
    exclude: list[str] | None = None
    max_bytes: int = DEFAULT_MAX_BYTES
    language_hint: str | None = None  # documentation only; languages come from file suffixes

    def to_corpus(self, base: Path = REPO_ROOT) -> Corpus:
        root = Path(sysconfig.get_paths()["stdlib"]) if self.root == "python:stdlib" else base / self.root
        exclude = DEFAULT_EXCLUDE if self.exclude is None else tuple(self.exclude)
        return Corpus(self.name, root, exclude, self.max_bytes)


class CorporaConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    corpora: list[CorpusSpec]

    @classmethod
    def from_yaml(cls, path: str | Path) -> CorporaConfig:
        return cls.model_validate(yaml.safe_load(Path(path).read_text()))


def load_corpora(path: str | Path = DEFAULT_CONFIG, only_existing: bool = False) -> list[Corpus]:
    """Corpora of a YAML file; `only_existing` drops those whose root is missing (e.g. no JDK)."""
    config = CorporaConfig.from_yaml(path)
    corpora = [spec.to_corpus() for spec in config.corpora]
    return [c for c in corpora if c.root.is_dir()] if only_existing else corpora


def parse_corpus_arg(text: str) -> Corpus:
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise ValueError(f"--corpus expects NAME=PATH, got {text!r}")
    return Corpus(name, Path(path).expanduser())
