"""One browser, one identity: every tab, reload and visit of it finds its models and jobs; nobody else does."""

from __future__ import annotations

import binascii
import os
import re

import pytest
from apptest import run_page
from test_workspaces import tiny

from aeviz import workspaces
from aeviz.ui import identity


def masked(token: bytes) -> str:
    """The XSRF cookie as Streamlit writes it on each page load: the same token under a new random mask."""
    mask = os.urandom(4)
    hidden = bytes(b ^ mask[i % 4] for i, b in enumerate(token))
    return f"2|{binascii.b2a_hex(mask).decode()}|{binascii.b2a_hex(hidden).decode()}|1796570341"


def test_every_reload_of_a_browser_gives_the_same_secret_and_no_two_browsers_share_one():
    token = os.urandom(16)
    loads = {identity.secret_from({"_streamlit_xsrf": masked(token)}) for _ in range(5)}  # F5, five times
    assert len(loads) == 1 and re.fullmatch(r"[0-9a-f]{32}", loads.pop())
    assert identity.secret_from({"_streamlit_xsrf": masked(token)}) != identity.secret_from(
        {"_streamlit_xsrf": masked(os.urandom(16))}
    )


def test_the_apps_own_cookie_wins_and_nonsense_gives_no_identity():
    ours = "ab" * 16
    assert identity.secret_from({"aeviz_browser": ours, "_streamlit_xsrf": masked(os.urandom(16))}) == ours
    for bad in ({}, {"aeviz_browser": "../etc"}, {"_streamlit_xsrf": "2|zz|yy|1"}, {"_streamlit_xsrf": "2|00"}):
        assert identity.secret_from(bad) == ""


def models_caption(at) -> str:
    return next(c.value for c in at.sidebar.caption if " models" in c.value)


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_a_plain_revisit_of_the_same_browser_finds_its_model_and_a_link_visitor_does_not_own_it(browsers):
    """Issue 28: a model trained in the browser vanished when the app's plain address was opened again (27
    models, not "28 models (1 yours)"); issue 26: a visitor of someone's ?ws= link saw it as "(1 yours)"."""
    browsers.use("laptop")
    before = models_caption(run_page("pages/home.py", {"dataset": "digits"}))
    count = int(re.search(r"\*\*(\d+)\*\* models", before).group(1))
    token = browsers.workspace("laptop")
    tiny(workspaces.create(token), "my-model")  # what the Train page saved for this browser
    again = run_page("pages/home.py", {"dataset": "digits"})  # a new session, the plain address, no ?ws=
    assert f"**{count + 1}** models (1 yours)" in models_caption(again)
    assert "my-model · yours" in next(s for s in again.selectbox if s.label == "Model").options
    assert again.query_params["ws"] in (token, [token])  # its links carry the workspace from now on
    your_models = run_page("pages/train.py", {"dataset": "digits"})
    assert any(e.label.startswith("Your models (1 of at most") for e in your_models.expander)
    browsers.use("neighbour")
    plain = run_page("pages/home.py", {"dataset": "digits"})
    assert f"**{count}** models" in models_caption(plain) and "yours" not in models_caption(plain)
    linked = run_page("pages/home.py", {"dataset": "digits", "ws": token})
    assert f"**{count + 1}** models (1 shared)" in models_caption(linked)
    assert "my-model · shared" in next(s for s in linked.selectbox if s.label == "Model").options
    mine = run_page("pages/train.py", {"dataset": "digits", "ws": token})
    assert any(e.label.startswith("Your models (0 of at most") for e in mine.expander)  # nothing to delete there
