"""Every artifact read back is checked against its recorded sha256 first: one flipped byte in KG
Parquet, a dataset file, a file staged between dataset stages or a checkpoint is caught and named.
Nothing from disk is unpickled except through torch.load(weights_only=True)."""

from __future__ import annotations

import pickle
import re
import sys
from pathlib import Path

import pytest
from lake_procs import shop_copy

from graphmer_core.artifacts import IntegrityError
from graphmer_core.corpus.discovery import Corpus
from graphmer_core.corpus.index import index_corpora, read_index, write_index
from graphmer_core.data import build as data_build
from graphmer_core.data.build import build_dataset, open_stage
from graphmer_core.data.config import DatasetConfig, Shares
from graphmer_core.data.store import DatasetError, open_dataset
from graphmer_core.errors import GraphmerError
from graphmer_core.kg import quality, store
from graphmer_core.kg.build import build_kg, stage_kg
from graphmer_core.lake import Lake
from graphmer_core.train.checkpoint import STATE_FILE, CheckpointError, load_checkpoint

REPO = Path(__file__).resolve().parent.parent.parent
SHOP_CONFIG = DatasetConfig(vocab_size=600, shares=Shares(train=1.0, valid=0.0, test=0.0), leak_check_roots=64)


def flip_byte(path: Path, offset: int | None = None) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2 if offset is None else offset] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.fixture
def kg(tmp_path):
    corpus = shop_copy(tmp_path)
    lake = Lake(tmp_path / "lake")
    build_kg([Corpus("shop", corpus)], lake, workers=1, gates=None)
    return lake, corpus


@pytest.mark.parametrize("table", ["entities", "triples", "files"])
def test_a_flipped_byte_in_kg_parquet_is_named_by_every_reader(kg, table):
    lake, corpus = kg
    target = lake.current_dir() / f"{table}.parquet"
    flip_byte(target)
    pattern = rf"checksum mismatch for {re.escape(str(target))}"
    with pytest.raises(IntegrityError, match=pattern):  # the catalogue's queries
        store.query(lake, "SELECT count(*) FROM entities")
    with pytest.raises(IntegrityError, match=pattern):  # an unchanged rebuild
        build_kg([Corpus("shop", corpus)], lake, workers=1, gates=None)
    with pytest.raises(IntegrityError, match=pattern):  # the dataset build
        open_stage(lake, SHOP_CONFIG)
    if table != "files":  # the charts of the Dagster asset's metadata
        from graphmer_pipeline.metadata import parquet_chart

        with pytest.raises(IntegrityError, match=pattern):
            parquet_chart(lake.current_dir(), store.read_manifest(lake.current_dir()), table, ("language", "language"))
    assert issubclass(IntegrityError, GraphmerError)  # the CLI shows it as one line


def test_a_flipped_byte_in_the_file_index_is_named_before_any_step_reads_it(tmp_path):
    """The index source_files writes for parsed_files and kg_tables (other Dagster steps, maybe
    other processes) is read back only if it hashes to the sha256 written beside it."""
    records = index_corpora([Corpus("shop", shop_copy(tmp_path))])
    path = tmp_path / "index" / "sources.parquet"
    digest = write_index(records, path, {"kg_version": "v"})
    assert (tmp_path / "index" / "sources.parquet.sha256").read_text().split()[0] == digest
    again, meta = read_index(path)
    assert again == records and meta == {"kg_version": "v"}
    flip_byte(path)
    with pytest.raises(IntegrityError, match=rf"checksum mismatch for {re.escape(str(path))}"):
        read_index(path)
    (tmp_path / "index" / "sources.parquet.sha256").unlink()
    with pytest.raises(IntegrityError, match="without the sha256 written beside it"):
        read_index(path)


def test_the_gates_refuse_a_staged_version_whose_files_changed(kg):
    lake, corpus = kg
    (corpus / "shop" / "more.py").write_text("def more():\n    return 1\n")
    staged = stage_kg([Corpus("shop", corpus)], lake, workers=1).kg_dir
    flip_byte(staged / "entities.parquet")
    with pytest.raises(IntegrityError, match=r"entities\.parquet"):
        quality.gate(staged)


@pytest.fixture
def dataset(kg):
    lake, _ = kg
    return lake, build_dataset(lake, SHOP_CONFIG, gates=False).path


@pytest.mark.parametrize("name", ["shards/train-00000.safetensors", "tokenizer.json", "splits.parquet",
                                  "entities.parquet", "triples.parquet"])
def test_a_flipped_byte_in_a_dataset_file_is_named(dataset, name):
    _, folder = dataset
    open_dataset(folder, require_gates=False)
    flip_byte(folder / name)
    with pytest.raises(DatasetError, match=rf"checksum mismatch for {re.escape(str(folder / name))}"):
        open_dataset(folder, require_gates=False)


@pytest.mark.parametrize("name", ["splits.parquet", "tokenizer.json"])
def test_a_file_changed_between_dataset_stages_is_named(kg, name):
    """Dagster runs the stages as separate steps (maybe processes): each checks what the last wrote."""
    lake, _ = kg
    stage = open_stage(lake, SHOP_CONFIG)
    data_build.stage_splits(stage)
    if name == "tokenizer.json":
        data_build.stage_tokenizer(stage)
    flip_byte(stage.partial / name, offset=40)
    with pytest.raises(DatasetError, match=rf"checksum mismatch for {re.escape(str(stage.partial / name))}"):
        data_build.stage_tokenizer(stage) if name == "splits.parquet" else data_build.stage_sequences(stage)


class _Payload:
    """Unpickling this runs a function: what a crafted train_state.pt would do."""

    marker: Path

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_crafted_pickle_in_a_checkpoint_is_refused_unrun(tmp_path):
    sys.path.insert(0, str(REPO / "tests" / "train"))
    from test_checkpoint import RUN_ID, restamp, save, tiny_model

    run_dir = Lake(tmp_path / "lake").run_dir(RUN_ID)
    run_dir.mkdir(parents=True)
    ckpt = save(run_dir, 10, tiny_model())
    payload = _Payload()
    payload.marker = tmp_path / "ran"
    (ckpt / STATE_FILE).write_bytes(pickle.dumps({"step": 10, "extra": payload}, protocol=2))
    restamp(ckpt, STATE_FILE)  # the checksums agree: only the loader stands between the file and the code
    with pytest.raises(CheckpointError, match="weights_only"):
        load_checkpoint(ckpt, tiny_model())
    assert not payload.marker.exists()


UNSAFE = re.compile(r"\b(pickle|cPickle|dill|joblib|shelve)\.(load|loads|Unpickler)\b|allow_pickle\s*=\s*True"
                    r"|torch\.load\((?![^)]*weights_only=True)")


def test_no_code_unpickles_data_from_disk():
    found = [f"{p.relative_to(REPO)}:{i}: {line.strip()}"
             for top in ("graphmer_core", "graphmer_pipeline", "benchmarks")
             for p in sorted((REPO / top).rglob("*.py"))
             for i, line in enumerate(p.read_text().splitlines(), 1) if UNSAFE.search(line)]
    assert found == []
