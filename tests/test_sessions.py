"""One server, many sessions: a model one session trains changes nothing on another session's screen."""

from __future__ import annotations

import time

import pytest
from apptest import routed_pages, run_page
from test_jobs_training import wait_for
from trainpage import by_label, finished, in_url, no_jobs_left, submit  # noqa: F401 - a fixture

import aeviz
from aeviz import ui
from aeviz.checkpoints import user_dir
from aeviz.jobs import State

REC = "pages/reconstructions.py"
TIMING = b"Timing a training process"  # the Train page while its estimate is measured (a process started: seconds)


def shown(at) -> list[bytes]:
    """Everything a session's page shows, serialized: texts, widgets with their options and values, charts'
    JSON and pictures (whose media URLs are hashes of their bytes)."""
    found = []

    def walk(node) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None:
            found.append(proto.SerializeToString())
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return found


def without_estimate(view: list[bytes]) -> list[bytes]:
    """A Train page's view less its time estimate ('Measured on this server's CPU ...')."""
    return [element for element in view if b"Measured on this server's" not in element]


def settled_tour(at) -> dict[str, list[bytes]]:
    """The session's pages once background work they started (kNN of the raw pixels, maps) has finished:
    tours until two in a row show the same."""
    last = tour(at)
    for _ in range(30):
        time.sleep(2)
        views = tour(at)
        if views == last and not any(TIMING in element for view in views.values() for element in view):
            return views
        last = views
    raise AssertionError("the pages never settled")


def tour(at) -> dict[str, list[bytes]]:
    """Visit every page in one session, as a student clicking through the sidebar would."""
    views = {}
    for page in routed_pages():
        at.switch_page(page)
        at.run()
        assert not at.exception, (page, [e.value for e in at.exception])
        views[page] = shown(at)
    return views


@pytest.mark.estimates
@pytest.mark.slow
def test_a_model_session_a_trains_leaves_session_b_byte_identical():
    b = run_page(routed_pages()[0], {"dataset": "digits"})
    before = settled_tour(b)
    # session A trains the zoo's own recipe and name: dense, q = 8, on digits
    a = submit(run_page("pages/train.py", {"dataset": "digits"}), epochs=2, q=8, name="digits-dense-q8-bce")
    assert not a.exception and not a.error
    assert wait_for(lambda: finished(in_url(a, "train_job"))).state == State.DONE
    after = tour(b)
    changed = [page for page in before if before[page] != after[page]]
    assert changed in ([], ["pages/train.py"]), f"session B's view changed on {changed}"
    # the one thing allowed to move: the Train page's time estimate, which every finished job re-measures for the
    # whole server (aeviz.ui.warm.learn_from: one probe taken under load must not mislead every later estimate)
    train_before, train_after = (without_estimate(view["pages/train.py"]) for view in (before, after))
    assert train_before == train_after and len(train_before) == len(before["pages/train.py"]) - 1
    # A itself lists it, marked as its own, and still sees the zoo's q = 8 row unless it asks for its own
    a.switch_page(REC)
    a.run()
    rows = next(c.value for c in a.caption if c.value.startswith("Checkpoints:"))
    assert "q=8 `digits-dense-q8-bce`" in rows and "· yours" not in rows
    a.toggle(key="w_rec_mine").set_value(True).run()
    rows = next(c.value for c in a.caption if c.value.startswith("Checkpoints:"))
    assert "q=8 `digits-dense-q8-bce · yours`" in rows and "q=2 `digits-dense-q2-bce`" in rows


@pytest.mark.slow
def test_a_server_model_never_displaces_the_zoos_row_of_its_size():
    before = run_page(REC, {"dataset": "digits"})
    zoo_png = before.get("image")[0].proto.imgs[0].url
    # trained from the CLI (shared by every session): a 1-epoch dense q = 8, far worse than the zoo's
    aeviz.train_model(
        "dense",
        aeviz.make_config("dense", bottleneck=8, input_shape=(1, 8, 8)),
        "digits",
        aeviz.TrainConfig(epochs=1, batch_size=256),
        out_dir=user_dir(),
        name="digits-dense-q8-bce",
    )
    ui.refresh_models()
    at = run_page(REC, {"dataset": "digits"})
    assert not at.exception and at.get("image")[0].proto.imgs[0].url == zoo_png  # the same grid, byte for byte
    assert (
        "digits-dense-q8-bce · server"
        in by_label(run_page("pages/home.py", {"dataset": "digits"}).selectbox, "Model").options
    )  # shared: listed for everyone
    at.toggle(key="w_rec_mine").set_value(True).run()
    rows = next(c.value for c in at.caption if c.value.startswith("Checkpoints:"))
    assert "q=8 `digits-dense-q8-bce · server`" in rows
    assert at.get("image")[0].proto.imgs[0].url != zoo_png
