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
    with pytest.raises(ValueError, match="at most 2 per browser"):
        workspaces.check_room(token)
    workspaces.delete_model(token, "two")
    with pytest.raises(ValueError, match="counting the one in training"):  # a job of it still running
        workspaces.check_room(token, pending=1)
    tiny(folder, "two")
    assert not workspaces.delete_model(token, "../two") and not workspaces.delete_model(token, "three")
    assert workspaces.delete_model(token, "two") and [p.stem for p in workspaces.models(token)] == ["one"]
    workspaces.check_room(token)


def aged(token: str, hours_ago: float) -> None:
    """Make a workspace and its files look last changed `hours_ago`."""
    past = time.time() - 3600 * hours_ago
    for path in [workspaces.folder(token), *workspaces.folder(token).iterdir()]:
        os.utime(path, (past, past))


def test_one_student_filling_the_server_wide_cap_blocks_nobody(monkeypatch):
    """Issue 26: one student with many browsers (or tiny models) filled AEVIZ_SESSIONS_MAX_MODELS and every
    visitor was refused for 24 h. Now a save makes room: the oldest model of the workspace idle longest goes,
    never the saver's own, and the total never passes the cap."""
    monkeypatch.setenv("AEVIZ_SESSIONS_MAX_MODELS", "6")
    monkeypatch.setenv("AEVIZ_SESSION_MAX_MODELS", "2")
    classmate, flooder = workspaces.new_token(), [workspaces.new_token() for _ in range(2)]
    for name in ("first", "second"):
        tiny(workspaces.create(classmate), name)
    for token in flooder:  # two browsers of one student, each at its own cap
        for name in ("a", "b"):
            tiny(workspaces.create(token), name)
    aged(classmate, 5)
    aged(flooder[0], 1)
    newcomer = workspaces.new_token()
    workspaces.check_room(newcomer)  # no refusal although all 6 places are taken
    gone = workspaces.make_room(newcomer)
    assert [(p.parent.name, p.stem) for p in gone] == [(classmate, "first")]  # idle longest, its oldest model
    assert workspaces.expire(keep_s=4 * 3600) == [classmate]  # making room was no change of its owner's
    tiny(workspaces.create(classmate), "back")
    tiny(workspaces.create(newcomer), "mine")
    assert sum(len(workspaces.models(t)) for t in [classmate, newcomer, *flooder]) == 6
    assert workspaces.make_room(flooder[1]) and workspaces.models(flooder[1])  # the saver's own never goes


def test_a_browsers_workspace_is_the_same_on_every_visit_and_hides_its_secret():
    secret = "5" * 32
    token = workspaces.token_for(secret)
    assert workspaces.is_token(token) and token == workspaces.token_for(secret)
    assert token != workspaces.token_for("6" * 32) and secret not in token


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
