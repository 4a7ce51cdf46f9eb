"""Real KGs for the data-layer tests: the shop fixture alone, and the stdlib's `email` package
with the shop fixture beside it (enough files for three non-empty splits)."""

from __future__ import annotations

import shutil
import sysconfig
from pathlib import Path

import pytest

from graphmer_core.corpus.discovery import Corpus
from graphmer_core.data.build import build_dataset
from graphmer_core.data.config import DatasetConfig, Shares
from graphmer_core.kg.build import build_kg
from graphmer_core.kg.quality import GateThresholds
from graphmer_core.lake import Lake

FIXTURES = Path(__file__).parent.parent / "fixtures"
STDLIB = Path(sysconfig.get_paths()["stdlib"])
SMALL_GATES = GateThresholds(min_entities_per_language=1, min_triples_per_language=1)


def kg_lake(root: Path, corpora: list[Corpus]) -> Lake:
    lake = Lake(root)
    build_kg(corpora, lake, workers=1, gates=SMALL_GATES)
    return lake


@pytest.fixture(scope="session")
def shop_lake(tmp_path_factory) -> Lake:
    """The shop fixture (3 Python + 3 Java files), every file in train."""
    root = tmp_path_factory.mktemp("shop")
    shutil.copytree(FIXTURES / "shop", root / "src")
    return kg_lake(root / "lake", [Corpus("shop", root / "src")])


SHOP_CONFIG = DatasetConfig(vocab_size=600, shares=Shares(train=1.0, valid=0.0, test=0.0), leak_check_roots=64)


@pytest.fixture(scope="session")
def shop_dataset(shop_lake):
    return build_dataset(shop_lake, SHOP_CONFIG)


def email_corpora(root: Path) -> list[Corpus]:
    shutil.copytree(STDLIB / "email", root / "email", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(FIXTURES / "shop", root / "shop")
    return [Corpus("email", root / "email"), Corpus("shop", root / "shop")]


EMAIL_CONFIG = DatasetConfig(vocab_size=1000, shares=Shares(train=0.6, valid=0.2, test=0.2), leak_check_roots=64)


@pytest.fixture(scope="session")
def email_lake(tmp_path_factory) -> Lake:
    root = tmp_path_factory.mktemp("email")
    return kg_lake(root / "lake", email_corpora(root / "src"))


@pytest.fixture(scope="session")
def email_dataset(email_lake):
    return build_dataset(email_lake, EMAIL_CONFIG)
