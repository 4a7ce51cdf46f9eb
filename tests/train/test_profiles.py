"""Profiles: the shipped ones validate, bad ones fail with one message naming the key."""

import pytest
import yaml

from graphmer_core.cli import main
from graphmer_core.train.profiles import ProfileError, load_profile, load_profiles


def test_shipped_profiles_validate_and_the_8gb_one_is_the_checklists():
    names = set(load_profiles())
    assert {"cpu-tiny", "cpu-small", "gpu-8gb", "gpu-80gb"} <= names
    for name in names:
        assert load_profile(name).name == name
    p = load_profile("gpu-8gb")
    assert (p.micro_batch_size, p.grad_accum_steps, p.save_every_steps, p.amp, p.steps, p.max_samples) == \
        (6, 20, 250, True, 3000, 20000)
    assert [(c.step, c.roots) for c in p.curriculum] == [(0, 128), (1000, 256), (3000, 512)]
    assert load_profile("gpu-80gb").model.size == "base" and load_profile("gpu-80gb").steps >= 10000


@pytest.mark.parametrize("body, message", [
    ({"stepz": 10}, "stepz: Extra inputs are not permitted"),
    ({"steps": 0}, "steps: Input should be greater than or equal to 1"),
    ({"optimizer": {"lr": -1}}, "optimizer.lr"),
    ({"dataset": {"shares": {"train": 0.5, "valid": 0.1, "test": 0.1}}}, "must sum to 1"),
    ({"model": {"overrides": {"vocab_size": 10}}}, "come from the dataset"),
    ({"curriculum": [{"step": 5, "roots": 64}]}, "curriculum must start at step 0"),
])
def test_bad_profiles_fail_naming_the_key(tmp_path, body, message):
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({"bad": body}))
    with pytest.raises(ProfileError, match=message):
        load_profile("bad", path)


def test_unknown_profile_is_named_with_the_known_ones(capsys):
    assert main(["build-dataset", "--profile", "gpu-1tb"]) == 2
    err = capsys.readouterr().err
    assert "unknown profile 'gpu-1tb'" in err and "cpu-tiny" in err


def test_curriculum_by_step_scales_with_the_run_length():
    p = load_profile("gpu-8gb")
    assert [p.roots_at(s) for s in (0, 999, 1000, 2999, 3000)] == [128, 128, 256, 256, 512]
    assert [p.roots_at(s, total_steps=300) for s in (0, 99, 100, 299)] == [128, 128, 256, 256]
