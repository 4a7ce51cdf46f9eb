import shutil
from pathlib import Path

import pytest
from lakes import EMAIL_CONFIG, SHOP_CONFIG, email_corpora, kg_lake

from graphmer_core.corpus.discovery import Corpus
from graphmer_core.data.build import build_dataset
from graphmer_core.lake import Lake

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture
def make_tree(tmp_path):
    """Write {relative path: text or bytes} under a fresh folder and return it."""

    def make(files: dict[str, str | bytes], name: str = "src") -> Path:
        root = tmp_path / name
        for rel, content in files.items():
            p = root / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(content if isinstance(content, bytes) else content.encode())
        return root

    return make


@pytest.fixture
def copy_fixture(tmp_path):
    def copy(name: str) -> Path:
        dest = tmp_path / name
        shutil.copytree(FIXTURES / name, dest)
        return dest

    return copy


@pytest.fixture(scope="session")
def shop_lake(tmp_path_factory) -> Lake:
    """The shop fixture's KG (3 Python + 3 Java files)."""
    root = tmp_path_factory.mktemp("shop")
    shutil.copytree(FIXTURES / "shop", root / "src")
    return kg_lake(root / "lake", [Corpus("shop", root / "src")])


@pytest.fixture(scope="session")
def shop_dataset(shop_lake):
    """Every shop file in train: for hand-checked windows."""
    return build_dataset(shop_lake, SHOP_CONFIG)


@pytest.fixture(scope="session")
def email_lake(tmp_path_factory) -> Lake:
    """The stdlib's email package beside the shop fixture: enough files for three splits."""
    root = tmp_path_factory.mktemp("email")
    return kg_lake(root / "lake", email_corpora(root / "src"))


@pytest.fixture(scope="session")
def email_dataset(email_lake):
    return build_dataset(email_lake, EMAIL_CONFIG)
