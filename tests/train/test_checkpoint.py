"""Checkpoints: a save round-trips exactly, every corruption is caught and named, a crash leaves no
half checkpoint, and weights that do not fit the model are refused before anything is loaded."""

import copy
import hashlib
import json
import math
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from graphmer_core.artifacts import sha256_file, sha256_json
from graphmer_core.cli import main
from graphmer_core.lake import Lake
from graphmer_core.model import LEAVES_PER_ROOT, GraphMERForPretraining, LeafyBatch, ModelConfig
from graphmer_core.train.checkpoint import (METADATA_FILE, MODEL_FILE, STATE_FILE, CheckpointError,
                                            CheckpointMetadata, RunRecord, apply_retention, checkpoint_dir,
                                            find_latest_valid, latest_valid_checkpoint, list_checkpoints,
                                            load_checkpoint, read_metadata, read_run, save_checkpoint, start_run,
                                            update_run, verify_checkpoint, verify_run)

RUN_ID = "run-test"
CONFIG = {"profile": "cpu-tiny", "model": ModelConfig.tiny().model_dump(mode="json"), "lr": 1e-3, "steps": 8}


def make_meta(**over):
    return {"run_id": RUN_ID, "seed": 7, "profile": "cpu-tiny", "config": CONFIG, "kg_version": "kg-abc",
            "dataset_version": "ds-def", "tokenizer_sha256": "a" * 64,
            "relation_vocab": ["<none>", "contains", "calls"], "device": "cpu", "metrics": {"loss": 1.25}} | over


@pytest.fixture
def run_dir(tmp_path) -> Path:
    return Lake(tmp_path / "lake").run_dir(RUN_ID)


def tiny_model(seed: int = 0) -> GraphMERForPretraining:
    torch.manual_seed(seed)
    return GraphMERForPretraining(ModelConfig.tiny()).train()


def make_batch(cfg: ModelConfig, seed: int) -> LeafyBatch:
    """Two sequences of 8 roots; every other root carries a 2-token leaf block of relation 1."""
    g = torch.Generator().manual_seed(seed)
    B, R, L, ign = 2, 8, LEAVES_PER_ROOT, cfg.ignore_index
    roots = torch.randint(5, cfg.vocab_size, (B, R), generator=g)
    leaf_mask = torch.zeros(B, R, L, dtype=torch.bool)
    leaf_mask[:, ::2, :2] = True
    leaves = torch.randint(5, cfg.vocab_size, (B, R, L), generator=g).masked_fill(~leaf_mask, cfg.pad_token_id)
    mlm, mnm = torch.full_like(roots, ign), torch.full_like(leaves, ign)
    mlm[:, 1], roots[:, 1] = roots[:, 1], 3
    mnm[:, 2, :2], leaves[:, 2, :2] = leaves[:, 2, :2], 3
    batch = LeafyBatch(roots, leaves, leaf_mask, leaf_mask.any(-1).long(), torch.ones(B, R, dtype=torch.long),
                       mlm_targets=mlm, mnm_targets=mnm)
    return batch.validate(ign, cfg.vocab_size, cfg.num_relations)


def optimizer_and_schedule(model):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    return opt, torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 4))


def train(model, opt, sched, scaler, steps: int, sampler: torch.Generator) -> list[float]:
    """Steps whose batches, dropout and noise draw on every RNG a checkpoint must carry."""
    draws = []
    for _ in range(steps):
        draws += [random.random(), float(np.random.rand()), torch.rand((), generator=sampler).item()]
        opt.zero_grad()
        out = model(make_batch(model.cfg, seed=int(torch.randint(0, 1000, ()))))
        scaler.scale(out.loss).backward()
        scaler.step(opt)
        scaler.update()
        sched.step()
    return draws


def save(run_dir, step, model, **kw):
    return save_checkpoint(run_dir, step, model, meta=kw.pop("meta", make_meta()), **kw)


def flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def restamp(ckpt: Path, name: str) -> None:
    """Record a rewritten file's sha256 and size in metadata.json as a save would: only checks other
    than checksums can then catch what was changed."""
    doc = json.loads((ckpt / METADATA_FILE).read_text())
    doc["files"][name] = {"sha256": sha256_file(ckpt / name), "size": (ckpt / name).stat().st_size}
    doc["metadata_sha256"] = sha256_json({k: v for k, v in doc.items() if k != "metadata_sha256"})
    (ckpt / METADATA_FILE).write_text(json.dumps(doc, indent=2))


def assert_same_tensors(a, b):
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            assert_same_tensors(a[k], b[k])
    elif isinstance(a, list | tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_same_tensors(x, y)
    else:
        assert a == b


# ------------------------------------------------------------------------------------------ round trip

def test_round_trip_restores_weights_optimizer_and_rng_so_training_continues_exactly(run_dir):
    model = tiny_model(seed=0)
    opt, sched = optimizer_and_schedule(model)
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
    sampler = torch.Generator().manual_seed(3)
    random.seed(1)
    np.random.seed(2)
    train(model, opt, sched, scaler, 3, sampler)
    saved_weights = {k: v.clone() for k, v in model.state_dict().items()}
    saved_opt, saved_scaler = copy.deepcopy(opt.state_dict()), scaler.state_dict()
    ckpt = save(run_dir, 3, model, optimizer=opt, scheduler=sched, scaler=scaler,
                rng_extra={"sampler": sampler}, extra_state={"tokens_seen": 4096})
    assert ckpt == run_dir / "checkpoints" / "step_000003"
    expected_draws = train(model, opt, sched, scaler, 2, sampler)
    expected_weights = model.state_dict()

    model2 = tiny_model(seed=99)
    opt2, sched2 = optimizer_and_schedule(model2)
    scaler2 = torch.amp.GradScaler("cpu")
    sampler2 = torch.Generator()
    random.seed(123)
    np.random.seed(123)
    torch.manual_seed(123)
    metadata, rest = load_checkpoint(ckpt, model2, opt2, sched2, scaler2, restore_rng=True,
                                     generators={"sampler": sampler2})
    assert metadata.step == 3 and metadata.run_id == RUN_ID
    assert rest == {"step": 3, "extra": {"tokens_seen": 4096}}  # everything else was restored
    assert_same_tensors(saved_weights, model2.state_dict())
    assert_same_tensors(saved_opt, opt2.state_dict())
    assert sched2.last_epoch == 3 and scaler2.state_dict() == saved_scaler

    assert train(model2, opt2, sched2, scaler2, 2, sampler2) == expected_draws
    assert_same_tensors(expected_weights, model2.state_dict())


def test_without_restore_rng_the_rng_state_is_returned_untouched(run_dir):
    model = tiny_model()
    torch.manual_seed(5)
    ckpt = save(run_dir, 1, model, rng_extra={"sampler": torch.Generator().manual_seed(4)})
    fresh = tiny_model(seed=1)
    torch.manual_seed(6)
    after = torch.get_rng_state()
    _, rest = load_checkpoint(ckpt, fresh)
    assert torch.equal(torch.get_rng_state(), after)
    assert set(rest["rng"]) >= {"python", "numpy", "torch", "extra"}
    assert torch.equal(rest["rng"]["extra"]["sampler"], torch.Generator().manual_seed(4).get_state())


def test_train_state_loads_with_weights_only(run_dir):
    model = tiny_model()
    opt, sched = optimizer_and_schedule(model)
    train(model, opt, sched, torch.amp.GradScaler("cpu"), 1, torch.Generator())
    ckpt = save(run_dir, 1, model, optimizer=opt, scheduler=sched, scaler=torch.amp.GradScaler("cpu"),
                rng_extra={"sampler": torch.Generator()}, extra_state={"np_scalar": np.float64(0.5)})
    state = torch.load(ckpt / STATE_FILE, weights_only=True)
    assert set(state) == {"step", "optimizer", "scheduler", "scaler", "rng", "extra"}
    assert isinstance(state["rng"]["numpy"]["keys"], torch.Tensor) and state["extra"]["np_scalar"] == 0.5
    assert load_file(ckpt / MODEL_FILE).keys() == model.state_dict().keys()


def test_state_that_would_not_load_weights_only_is_refused_before_writing(run_dir):
    class Opaque:
        pass

    with pytest.raises(CheckpointError, match=r"train_state.pt\['extra'\]\['sampler'\]: a .*Opaque"):
        save(run_dir, 1, tiny_model(), extra_state={"sampler": Opaque()})
    assert list_checkpoints(run_dir) == []


# ------------------------------------------------------------------------------------------- metadata

def test_metadata_records_provenance_and_validates(run_dir):
    ckpt = save(run_dir, 250, tiny_model(), meta=make_meta(metrics={"loss": torch.tensor(2.5), "mlm_acc": 0.1},
                                                             library_versions={"cuda": "none"}))
    assert ckpt.name == "step_000250"
    md = read_metadata(ckpt)
    assert md == CheckpointMetadata.model_validate_json((ckpt / METADATA_FILE).read_bytes())
    canonical = json.dumps(CONFIG, sort_keys=True, separators=(",", ":")).encode()
    assert md.config == CONFIG and md.config_sha256 == hashlib.sha256(canonical).hexdigest()
    assert (md.schema_version, md.step, md.seed, md.profile) == ("1.1", 250, 7, "cpu-tiny")
    assert md.metrics == {"loss": 2.5, "mlm_acc": 0.1}
    assert md.relation_vocab == ["<none>", "contains", "calls"]
    assert {"torch", "safetensors", "python", "numpy", "graphmer-se", "cuda"} <= set(md.library_versions)
    assert md.library_versions["torch"] == torch.__version__
    assert md.created_at.utcoffset().total_seconds() == 0
    assert set(md.files) == {MODEL_FILE, STATE_FILE}
    for name, stamp in md.files.items():
        assert stamp.sha256 == hashlib.sha256((ckpt / name).read_bytes()).hexdigest()
        assert stamp.size == (ckpt / name).stat().st_size


def _valid_doc(run_dir) -> dict:
    return json.loads((save(run_dir, 1, tiny_model()) / METADATA_FILE).read_text())


@pytest.mark.parametrize("change, message", [
    ({"schema_version": "1.0"}, "schema_version"),
    ({"metrics": {"loss": math.nan}}, "metrics.loss"),
    ({"metrics": {"loss": math.inf}}, "metrics.loss"),
    ({"surprise": 1}, "surprise"),
    ({"run_id": None}, "run_id"),
    ({"config": {"lr": 2.0}}, "config_sha256"),
    ({"relation_vocab": ["calls", "calls"]}, "repeats"),
    ({"created_at": "2025-01-01T10:00:00+02:00"}, "UTC"),
    ({"created_at": "2025-01-01T10:00:00"}, "created_at"),
    ({"files": {"model.safetensors": {"sha256": "0" * 64, "size": 1}}}, "train_state.pt"),
    ({"files": {"../model.safetensors": {"sha256": "0" * 64, "size": 1}}}, "plain file name"),
    ({"tokenizer_sha256": "not-a-hash"}, "tokenizer_sha256"),
])
def test_bad_metadata_is_rejected(run_dir, change, message):
    doc = _valid_doc(run_dir) | change
    with pytest.raises(ValueError, match=message):
        CheckpointMetadata.model_validate(doc)


def test_missing_metadata_field_is_rejected(run_dir):
    doc = _valid_doc(run_dir)
    del doc["dataset_version"]
    with pytest.raises(ValueError, match="dataset_version"):
        CheckpointMetadata.model_validate(doc)


@pytest.mark.parametrize("meta, message", [
    (make_meta(metrics={"loss": math.nan}), "metrics.loss"),
    (make_meta(step=3), "step"),
    (make_meta(unknown="x"), "unknown"),
    (make_meta(run_id="another-run"), "run folder"),
])
def test_save_refuses_bad_meta_and_writes_nothing(run_dir, meta, message):
    with pytest.raises(CheckpointError, match=message):
        save(run_dir, 1, tiny_model(), meta=meta)
    assert not (run_dir / "checkpoints").exists() or not any((run_dir / "checkpoints").iterdir())


# ---------------------------------------------------------------------------------------- verification

@pytest.mark.parametrize("name, where", [
    (MODEL_FILE, 0.5), (STATE_FILE, 0.5),
    (METADATA_FILE, "metric"),  # still valid JSON and schema: only its own sha256 catches it
    (METADATA_FILE, 0.0),  # "{" becomes "z": not JSON any more
])
def test_a_flipped_byte_fails_verification_naming_the_file(run_dir, capsys, name, where):
    ckpt = save(run_dir, 1, tiny_model())
    verify_checkpoint(ckpt)
    target = ckpt / name
    data = target.read_bytes()
    offset = data.index(b"1.25") + 2 if where == "metric" else int(len(data) * where)
    flip_byte(target, offset)
    with pytest.raises(CheckpointError, match=name) as err:
        verify_checkpoint(ckpt)
    others = {MODEL_FILE, STATE_FILE, METADATA_FILE} - {name}
    assert not any(o in str(err.value) for o in others)
    assert main(["verify", str(ckpt)]) == 1
    out = capsys.readouterr()
    assert "FAIL" in out.out and name in out.out and "1 of 1 failed" in out.err


def test_missing_file_fails(run_dir):
    ckpt = save(run_dir, 1, tiny_model())
    (ckpt / STATE_FILE).unlink()
    with pytest.raises(CheckpointError, match=f"{STATE_FILE}: missing"):
        verify_checkpoint(ckpt)
    (ckpt / METADATA_FILE).unlink()
    with pytest.raises(CheckpointError, match=f"{METADATA_FILE}: missing"):
        verify_checkpoint(ckpt)


def test_extra_file_fails(run_dir):
    ckpt = save(run_dir, 1, tiny_model())
    (ckpt / "notes.txt").write_text("left here by hand")
    with pytest.raises(CheckpointError, match="notes.txt: extra file"):
        verify_checkpoint(ckpt)
    with pytest.raises(CheckpointError, match="notes.txt"):
        load_checkpoint(ckpt, tiny_model())


def test_metadata_step_must_match_its_folder(run_dir):
    ckpt = save(run_dir, 1, tiny_model())
    moved = ckpt.with_name("step_000002")
    ckpt.rename(moved)
    with pytest.raises(CheckpointError, match="step 1 but the folder is step_000002"):
        verify_checkpoint(moved)


def test_graphmer_verify_exit_codes_and_messages(run_dir, capsys):
    start_run(run_dir, run_id=RUN_ID, profile="cpu-tiny", seed=7, planned_steps=20)
    model = tiny_model()
    first, second = save(run_dir, 10, model), save(run_dir, 20, model)

    assert main(["verify", str(run_dir)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and all(line.startswith("ok") for line in lines)
    assert "step_000010" in lines[0] and "step_000020" in lines[1] and "run.json" in lines[2]
    assert main(["verify", str(first)]) == 0
    assert capsys.readouterr().out.count("\n") == 1

    flip_byte(second / MODEL_FILE, 100)
    assert main(["verify", str(run_dir)]) == 1
    out = capsys.readouterr()
    fail = [line for line in out.out.splitlines() if line.startswith("FAIL")]
    assert len(fail) == 2  # the checkpoint, and run.json that points at it
    assert "step_000020" in fail[0] and MODEL_FILE in fail[0] and "sha256" in fail[0]
    assert "run.json" in fail[1] and "does not verify" in fail[1]
    assert "2 of 3 failed" in out.err

    assert main(["verify", str(run_dir.parent / "no-such-run")]) == 2
    assert "neither a checkpoint folder" in capsys.readouterr().err


def test_graphmer_verify_does_not_import_torch_until_it_runs(tmp_path):
    code = "import sys\nimport graphmer_core.cli\nprint('TORCH', 'torch' in sys.modules)\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "TORCH False" in out.stdout


# ---------------------------------------------------------------------------------------------- loading

def _rewrite_weights(ckpt: Path, change) -> None:
    tensors = load_file(ckpt / MODEL_FILE)
    change(tensors)
    save_file(tensors, ckpt / MODEL_FILE, metadata={"format": "pt"})
    restamp(ckpt, MODEL_FILE)
    verify_checkpoint(ckpt)  # the checksums agree: only the key and shape check can refuse it


def test_renamed_tensor_refuses_to_load_naming_the_keys(run_dir):
    ckpt = save(run_dir, 1, tiny_model(seed=0))
    _rewrite_weights(ckpt, lambda t: t.__setitem__("encoder.token_embedding", t.pop("encoder.tok_emb.weight")))
    model = tiny_model(seed=1)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(CheckpointError, match="missing keys: encoder.tok_emb.weight") as err:
        load_checkpoint(ckpt, model)
    assert "unexpected keys: encoder.token_embedding" in str(err.value)
    assert_same_tensors(before, model.state_dict())  # nothing half-loaded


def test_reshaped_tensor_refuses_to_load_naming_the_key(run_dir):
    ckpt = save(run_dir, 1, tiny_model(seed=0))
    key = "encoder.tok_emb.weight"
    _rewrite_weights(ckpt, lambda t: t.__setitem__(key, t[key][:-1].contiguous()))
    model = tiny_model(seed=1)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(CheckpointError, match=rf"shape mismatch: {key} saved \(1023, 128\) vs model \(1024, 128\)"):
        load_checkpoint(ckpt, model)
    assert_same_tensors(before, model.state_dict())


def test_checkpoint_of_another_model_size_is_refused(run_dir):
    ckpt = save(run_dir, 1, tiny_model())
    with pytest.raises(CheckpointError, match="does not fit the model"):
        load_checkpoint(ckpt, GraphMERForPretraining(ModelConfig.tiny(n_layers=3)))


def test_optimizer_state_missing_from_checkpoint_is_an_error(run_dir):
    model = tiny_model()
    ckpt = save(run_dir, 1, model)
    with pytest.raises(CheckpointError, match="no optimizer state"):
        load_checkpoint(ckpt, model, optimizer=torch.optim.AdamW(model.parameters()))


class Tied(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(10, 4)
        self.out = nn.Linear(4, 10, bias=False)
        self.out.weight = self.emb.weight


def test_tied_weights_are_stored_once_and_stay_tied(run_dir):
    torch.manual_seed(0)
    ckpt = save(run_dir, 1, Tied())
    assert set(load_file(ckpt / MODEL_FILE)) == {"emb.weight"}
    torch.manual_seed(1)
    fresh = Tied()
    load_checkpoint(ckpt, fresh)
    assert fresh.out.weight is fresh.emb.weight
    torch.manual_seed(0)
    assert torch.equal(fresh.emb.weight, Tied().emb.weight)


def test_graphmer_model_has_no_tied_parameters():
    """The LM heads reuse the token embedding through F.linear, so every state_dict tensor is its own."""
    state = tiny_model().state_dict()
    assert len({t.untyped_storage().data_ptr() for t in state.values()}) == len(state)


@pytest.mark.parametrize("wrap", [nn.DataParallel, torch.compile])
def test_wrapped_models_save_and_load_the_plain_module_keys(run_dir, wrap):
    model = tiny_model(seed=0)
    wrapped = wrap(model)
    assert any(k.startswith(("module.", "_orig_mod.")) for k in wrapped.state_dict())
    ckpt = save(run_dir, 1, wrapped)
    assert load_file(ckpt / MODEL_FILE).keys() == model.state_dict().keys()
    plain, rewrapped = tiny_model(seed=1), wrap(tiny_model(seed=2))
    load_checkpoint(ckpt, plain)
    load_checkpoint(ckpt, rewrapped)
    assert_same_tensors(model.state_dict(), plain.state_dict())
    assert_same_tensors(wrapped.state_dict(), rewrapped.state_dict())


# ------------------------------------------------------------------------------------ crash and latest

def test_crash_at_the_rename_leaves_no_checkpoint_and_the_previous_one_latest(run_dir, monkeypatch):
    model = tiny_model()
    first = save(run_dir, 10, model)
    real_replace = os.replace

    def crash_on_folder(src, dst):
        if Path(src).is_dir():
            raise OSError("simulated crash")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", crash_on_folder)
    with pytest.raises(OSError, match="simulated crash"):
        save(run_dir, 20, model)
    monkeypatch.undo()
    assert not checkpoint_dir(run_dir, 20).exists()
    assert [p.name for p in (run_dir / "checkpoints").iterdir()] == ["step_000010"]
    assert latest_valid_checkpoint(run_dir) == first


def test_a_model_that_fails_mid_save_leaves_nothing(run_dir):
    class Broken(nn.Module):
        def state_dict(self, *a, **kw):
            raise RuntimeError("device lost")

    first = save(run_dir, 10, tiny_model())
    with pytest.raises(RuntimeError, match="device lost"):
        save(run_dir, 20, Broken())
    assert [p.name for p in (run_dir / "checkpoints").iterdir()] == ["step_000010"]
    assert latest_valid_checkpoint(run_dir) == first


def test_a_killed_save_leaves_a_temp_folder_that_is_ignored_then_cleaned(run_dir):
    first = save(run_dir, 10, tiny_model())
    code = (
        "import os, sys\n"
        "from pathlib import Path\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from test_checkpoint import save, tiny_model\n"
        "real = os.replace\n"
        "os.replace = lambda s, d: os._exit(9) if Path(s).is_dir() else real(s, d)\n"
        f"save(Path({str(run_dir)!r}), 20, tiny_model())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 9, out.stderr
    leftovers = [p for p in (run_dir / "checkpoints").iterdir() if p.name.startswith(".")]
    assert len(leftovers) == 1 and {f.name for f in leftovers[0].iterdir()} == {MODEL_FILE, STATE_FILE, METADATA_FILE}
    assert [p for _, p in list_checkpoints(run_dir)] == [first]
    assert latest_valid_checkpoint(run_dir) == first
    save(run_dir, 30, tiny_model())
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == ["step_000010", "step_000030"]


def test_latest_valid_skips_a_corrupt_newer_checkpoint_and_says_why(run_dir, caplog):
    model = tiny_model()
    first, second = save(run_dir, 10, model), save(run_dir, 20, model)
    assert latest_valid_checkpoint(run_dir) == second
    flip_byte(second / STATE_FILE, 50)
    latest, skipped = find_latest_valid(run_dir)
    assert latest == first
    assert skipped[0][0] == second and STATE_FILE in skipped[0][1]
    with caplog.at_level("WARNING"):
        assert latest_valid_checkpoint(run_dir) == first
    assert "step_000020" in caplog.text and STATE_FILE in caplog.text
    assert latest_valid_checkpoint(run_dir.parent / "empty") is None


def test_saving_a_step_again_replaces_it(run_dir):
    ckpt = save(run_dir, 10, tiny_model(seed=0))
    flip_byte(ckpt / MODEL_FILE, 200)
    save(run_dir, 10, tiny_model(seed=0))
    verify_checkpoint(ckpt)
    assert [p.name for p in (run_dir / "checkpoints").iterdir()] == ["step_000010"]


# ----------------------------------------------------------------------------------------------- retention

def _saved_steps(run_dir) -> list[int]:
    return [s for s, _ in list_checkpoints(run_dir)]


def test_retention_keeps_multiples_of_save_every_and_the_final_one(run_dir):
    model = tiny_model()
    for step in (10, 20, 25, 30, 35):
        save(run_dir, step, model)
    removed = apply_retention(run_dir, None, 35, save_every=10)
    assert [p.name for p in removed] == ["step_000025"]
    assert _saved_steps(run_dir) == [10, 20, 30, 35]
    assert apply_retention(run_dir, None, 35) == []  # without save_every everything is kept


def test_retention_keeps_the_newest_n_plus_final_and_what_run_json_names(run_dir):
    model = tiny_model()
    for step in (10, 20, 30, 40, 45):
        save(run_dir, step, model)
    apply_retention(run_dir, 2, 45, save_every=10)
    assert _saved_steps(run_dir) == [30, 40, 45]
    apply_retention(run_dir, 1, None)
    assert _saved_steps(run_dir) == [45]  # the newest is the resume point

    for step in (50, 60):
        save(run_dir, step, model)
    start_run(run_dir, run_id=RUN_ID, profile="cpu-tiny", seed=7, planned_steps=100)
    update_run(run_dir, checkpoint="checkpoints/step_000045", checkpoint_step=45)
    apply_retention(run_dir, 1, None)
    assert _saved_steps(run_dir) == [45, 60]
    with pytest.raises(ValueError, match="keep must be >= 1"):
        apply_retention(run_dir, 0, 60)


# --------------------------------------------------------------------------------------------------- run.json

def test_run_record_tracks_status_and_the_newest_checkpoint(run_dir):
    record = start_run(run_dir, run_id=RUN_ID, profile="cpu-tiny", seed=7, planned_steps=20, info={"host": "ci"})
    assert record.status == "running" and record.checkpoint is None
    save(run_dir, 10, tiny_model())
    assert read_run(run_dir).checkpoint == "checkpoints/step_000010" and read_run(run_dir).checkpoint_step == 10
    done = update_run(run_dir, status="completed", info={"final_loss": 0.5})
    assert done.info == {"host": "ci", "final_loss": 0.5} and done.updated_at >= record.updated_at
    assert RunRecord.model_validate_json((run_dir / "run.json").read_bytes()) == done
    resumed = start_run(run_dir, run_id=RUN_ID, profile="cpu-tiny", seed=7, planned_steps=40)
    assert (resumed.status, resumed.planned_steps, resumed.created_at) == ("running", 40, record.created_at)
    with pytest.raises(CheckpointError, match="seed 7"):
        start_run(run_dir, run_id=RUN_ID, profile="cpu-tiny", seed=8, planned_steps=40)
    with pytest.raises(CheckpointError, match="status"):
        update_run(run_dir, status="exploded")
    with pytest.raises(CheckpointError, match="surprise"):
        update_run(run_dir, surprise=1)


def test_verify_run_checks_the_run_record(run_dir):
    save(run_dir, 10, tiny_model())
    results = verify_run(run_dir)
    assert [(p.name, ok) for p, ok, _ in results] == [("step_000010", True), ("run.json", False)]
    assert "run.json: missing" in results[-1][2]

    start_run(run_dir, run_id=RUN_ID, profile="cpu-tiny", seed=7, planned_steps=20)
    assert all(ok for _, ok, _ in verify_run(run_dir))
    update_run(run_dir, checkpoint="checkpoints/step_000020", checkpoint_step=20)
    assert "step_000020, which is missing" in verify_run(run_dir)[-1][2]

    (run_dir / "run.json").write_text("{}")
    assert "invalid run record" in verify_run(run_dir)[-1][2]


def test_verify_run_flags_a_checkpoint_of_another_seed(run_dir):
    start_run(run_dir, run_id=RUN_ID, profile="cpu-tiny", seed=8, planned_steps=20)
    with pytest.raises(CheckpointError):
        read_metadata(run_dir)  # a run folder is not a checkpoint
    save(run_dir, 10, tiny_model())
    path, ok, message = verify_run(run_dir)[0]
    assert not ok and "seed 7" in message and "seed 8" in message
