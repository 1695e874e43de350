"""The profile switch: picked from the device, overridable by $ATTNLAB_PROFILE, validated."""

import pytest

from attnlab import profiles
from attnlab.profiles import get_profile


def test_default_follows_the_device(monkeypatch):
    monkeypatch.delenv(profiles.ENV_VAR, raising=False)
    monkeypatch.setattr(profiles, "_cuda_available", lambda: False)
    p = get_profile()
    assert (p.name, p.device) == ("quick", "cpu")
    assert "no CUDA" in p.reason
    monkeypatch.setattr(profiles, "_cuda_available", lambda: True)
    p = get_profile()
    assert (p.name, p.device) == ("full", "cuda")


def test_environment_variable_overrides(monkeypatch):
    monkeypatch.setattr(profiles, "_cuda_available", lambda: True)
    monkeypatch.setenv(profiles.ENV_VAR, " Quick ")
    p = get_profile()
    assert p.name == "quick" and p.device == "cuda"  # quick sizes, still on the GPU
    assert profiles.ENV_VAR in p.reason


def test_unknown_profile_is_a_clear_error(monkeypatch):
    monkeypatch.setenv(profiles.ENV_VAR, "huge")
    with pytest.raises(ValueError, match=r"ATTNLAB_PROFILE.*'quick', 'full'.*'huge'"):
        get_profile()
    with pytest.raises(ValueError, match="got 'medium'"):
        get_profile("medium")


def test_full_is_larger_than_quick_everywhere():
    quick, full = get_profile("quick"), get_profile("full")
    for section in ("classifier", "detector"):
        q, f = getattr(quick, section), getattr(full, section)
        for field in ("image_size", "n_train", "n_val"):
            assert getattr(f, field) >= getattr(q, field), (section, field)
        # training length in optimiser steps (the quick classifier runs more epochs over its
        # 1,200 images so that it converges; the full one takes more steps over far more data)
        steps = [-(-p.n_train // p.batch_size) * p.epochs for p in (q, f)]
        assert steps[1] >= steps[0], (section, "steps", steps)
    assert len(full.seeds) >= len(quick.seeds) >= 3  # comparisons always report a spread


def test_describe_names_profile_device_and_sizes():
    text = get_profile("quick", device="cpu").describe()
    assert text.startswith("attnlab profile 'quick' on cpu")
    assert "seeds=[0, 1, 2]" in text


def test_cli_prints_the_profile(capsys, monkeypatch):
    from attnlab.__main__ import main

    monkeypatch.setattr(profiles, "_cuda_available", lambda: False)
    assert main(["profile", "--name", "quick"]) == 0
    assert "attnlab profile 'quick'" in capsys.readouterr().out
    assert main(["no-such-command"]) == 2
