"""Corpora from configs/corpora.yaml or `NAME=PATH` strings."""

from __future__ import annotations

import os
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from graphmer_core.corpus.discovery import DEFAULT_EXCLUDE, DEFAULT_MAX_BYTES, Corpus
from graphmer_core.corpus.layout import check_folder

REPO_ROOT = Path(__file__).resolve().parents[2]
# $GRAPHMER_CORPORA points the CLI and the pipeline at another corpora file.
DEFAULT_CONFIG = Path(os.environ.get("GRAPHMER_CORPORA", REPO_ROOT / "configs" / "corpora.yaml"))


# Plain dataclasses checked by hand, not pydantic models: reading this file is on the path of every
# `graphmer build-kg`, and an unchanged rebuild should not spend a tenth of a second importing pydantic.
@dataclass(frozen=True)
class CorpusSpec:
    name: str  # the corpus label in entity ids, the `corpus` column and the Dagster partition
    root: str  # a folder, relative to the repository root, or `python:stdlib` (this interpreter's)
    exclude: list[str] | None = None  # globs on names and relative paths; given, they replace DEFAULT_EXCLUDE
    max_bytes: int = DEFAULT_MAX_BYTES  # larger files are listed as skipped, with the reason, and not read
    language_hint: str | None = None  # documentation only; languages come from file suffixes
    package_roots: list[str] | None = None  # Python package roots, overriding pyproject.toml/setup.cfg/src

    def to_corpus(self, base: Path = REPO_ROOT) -> Corpus:
        root = Path(sysconfig.get_paths()["stdlib"]) if self.root == "python:stdlib" else base / self.root
        exclude = DEFAULT_EXCLUDE if self.exclude is None else tuple(self.exclude)
        roots = None if self.package_roots is None else tuple(self.package_roots)
        return Corpus(self.name, root, exclude, self.max_bytes, roots)


_TYPES = {"name": (str,), "root": (str,), "exclude": (list, type(None)), "max_bytes": (int,),
          "language_hint": (str, type(None)), "package_roots": (list, type(None))}
_STR_LISTS = ("exclude", "package_roots")


@dataclass(frozen=True)
class CorporaConfig:
    corpora: list[CorpusSpec]

    @classmethod
    def from_yaml(cls, path: str | Path) -> CorporaConfig:
        import yaml

        return cls.validate(yaml.safe_load(Path(path).read_text()), str(path))

    @classmethod
    def validate(cls, data, where: str = "corpora config") -> CorporaConfig:
        """The config, or a ValueError naming the first bad key (unknown keys are errors)."""
        if not isinstance(data, dict) or set(data) != {"corpora"} or not isinstance(data["corpora"], list):
            raise ValueError(f"{where}: expected one key `corpora` holding a list, got {data!r:.200}")
        specs = []
        for i, entry in enumerate(data["corpora"]):
            if not isinstance(entry, dict):
                raise ValueError(f"{where}: corpora.{i}: expected a mapping, got {entry!r:.200}")
            for key in ("name", "root"):
                if key not in entry:
                    raise ValueError(f"{where}: corpora.{i}.{key}: field required")
            for key, value in entry.items():
                if key not in _TYPES:
                    raise ValueError(f"{where}: corpora.{i}.{key}: extra inputs are not permitted")
                if not isinstance(value, _TYPES[key]) or isinstance(value, bool) or (
                        key in _STR_LISTS and value is not None and not all(isinstance(x, str) for x in value)):
                    raise ValueError(f"{where}: corpora.{i}.{key}: bad value {value!r:.200}")
            for folder in entry.get("package_roots") or ():
                if check_folder(folder) is None:
                    raise ValueError(f"{where}: corpora.{i}.package_roots: {folder!r} is outside the corpus root")
            specs.append(CorpusSpec(**entry))
        return cls(specs)


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
