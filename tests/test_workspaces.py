"""Session workspaces: tokens that cannot name a path, caps, retention, and how their models are listed."""

from __future__ import annotations

import os
import time

import pytest

from aeviz import settings, workspaces
from aeviz.checkpoints import SESSION, ZOO, list_checkpoints, save_checkpoint, sessions_dir, zoo_dir
from aeviz.models import build_model, make_config


def tiny(tmp_folder, name: str, q: int = 8):
    config = make_config("dense", bottleneck=q, input_shape=(1, 8, 8), hidden=(8,))
    model = build_model("dense", config)
    meta = {"dataset": "digits", "slug": f"dense-q{q}-bce", "series": "dense-bce", "metrics": {"mse": 0.5}}
    return save_checkpoint(tmp_folder / f"{name}.safetensors", model, meta)


@pytest.mark.parametrize("bad", ["", "../etc", "A" * 32, "0" * 31, "0" * 33, "0" * 31 + "/", None, 7])
def test_only_a_token_names_a_workspace(bad):
    assert not workspaces.is_token(bad) and not workspaces.exists(bad)
    with pytest.raises(ValueError):
        workspaces.folder(bad)


def test_tokens_are_random_and_their_folders_under_the_sessions_folder():
    a, b = workspaces.new_token(), workspaces.new_token()
    assert a != b and workspaces.is_token(a)
    assert workspaces.create(a).parent == sessions_dir() and workspaces.exists(a)


def test_a_workspace_model_is_of_the_session_origin_and_keyed_by_its_token():
    token = workspaces.new_token()
    path = tiny(workspaces.create(token), "digits-dense-q8-bce")
    info = next(c for c in list_checkpoints([zoo_dir(), workspaces.folder(token)], "digits") if c.path == path)
    zoo_twin = next(c for c in list_checkpoints([zoo_dir()], "digits") if c.name == "digits-dense-q8-bce")
    assert info.origin == SESSION and zoo_twin.origin == ZOO
    assert info.key == f"session-{token}:digits-dense-q8-bce" and info.label == "digits-dense-q8-bce · yours"
    assert str(zoo_twin) == "digits-dense-q8-bce"  # links made before keep working


def test_the_cap_refuses_with_what_to_do_and_delete_makes_room(monkeypatch):
    monkeypatch.setenv("AEVIZ_SESSION_MAX_MODELS", "2")
    token = workspaces.new_token()
    folder = workspaces.create(token)
    tiny(folder, "one")
    workspaces.check_room(token)  # one of two: room left
    tiny(folder, "two")
    with pytest.raises(ValueError, match="at most 2 per session"):
        workspaces.check_room(token)
    assert not workspaces.delete_model(token, "../two") and not workspaces.delete_model(token, "three")
    assert workspaces.delete_model(token, "two") and [p.stem for p in workspaces.models(token)] == ["one"]
    workspaces.check_room(token)


def test_the_server_wide_cap_counts_every_workspace(monkeypatch):
    monkeypatch.setenv("AEVIZ_SESSIONS_MAX_MODELS", "2")
    for _ in range(2):
        tiny(workspaces.create(workspaces.new_token()), "m")
    with pytest.raises(ValueError, match="holds 2 models trained by its visitors"):
        workspaces.check_room(workspaces.new_token())


def test_workspaces_expire_after_the_retention_and_nothing_else_goes(tmp_path):
    old, fresh = workspaces.new_token(), workspaces.new_token()
    tiny(workspaces.create(old), "m")
    tiny(workspaces.create(fresh), "m")
    (sessions_dir() / "not-a-token").mkdir()
    past = time.time() - 3 * 3600
    for path in [workspaces.folder(old), *workspaces.folder(old).iterdir()]:
        os.utime(path, (past, past))
    assert workspaces.expire(keep_s=3600) == [old]
    assert not workspaces.exists(old) and workspaces.exists(fresh) and (sessions_dir() / "not-a-token").is_dir()


def test_retention_and_caps_read_the_environment(monkeypatch):
    monkeypatch.setenv("AEVIZ_SESSION_RETENTION_H", "2")
    assert workspaces.retention_s() == 7200 and workspaces.max_models() == 8
    monkeypatch.setenv("AEVIZ_SESSION_MAX_MODELS", "nonsense")
    with pytest.raises(settings.SettingsError, match="AEVIZ_SESSION_MAX_MODELS"):
        workspaces.max_models()
