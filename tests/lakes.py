"""Real KGs built from real code for the data, training and pipeline tests."""

from __future__ import annotations

import shutil
import sysconfig
from pathlib import Path

from graphmer_core.corpus.discovery import Corpus
from graphmer_core.data.config import DatasetConfig, Shares
from graphmer_core.kg.build import build_kg
from graphmer_core.kg.quality import GateThresholds
from graphmer_core.lake import Lake

FIXTURES = Path(__file__).parent / "fixtures"
STDLIB = Path(sysconfig.get_paths()["stdlib"])
SMALL_GATES = GateThresholds()  # the defaults fit a project of any size
SHOP_CONFIG = DatasetConfig(vocab_size=600, shares=Shares(train=1.0, valid=0.0, test=0.0), leak_check_roots=64)
EMAIL_CONFIG = DatasetConfig(vocab_size=1000, shares=Shares(train=0.6, valid=0.2, test=0.2), leak_check_roots=64)


def kg_lake(root: Path, corpora: list[Corpus]) -> Lake:
    lake = Lake(root)
    build_kg(corpora, lake, workers=1, gates=SMALL_GATES)
    return lake


def email_corpora(root: Path) -> list[Corpus]:
    """The stdlib's `email` package (a real library of ~40 modules) and the shop fixture beside it."""
    shutil.copytree(STDLIB / "email", root / "email", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(FIXTURES / "shop", root / "shop")
    return [Corpus("email", root / "email"), Corpus("shop", root / "shop")]
