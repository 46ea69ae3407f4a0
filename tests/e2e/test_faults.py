"""Issue 9 in a real browser: many first visitors at once, and a browser closed in the middle of training."""

from __future__ import annotations

import re
import time

import pytest
from browser import no_exceptions, open_page, serve_app, shot, wait_idle


def test_first_visitors_arriving_together_on_a_fresh_server_all_get_the_whole_app(browser, fresh_app_url):
    """A lecture starts: several students follow the same deep link at once, before app.py has ever run.
    Each of them must get the sidebar and the page, not a page run on its own without its dataset."""
    contexts = [browser.new_context(viewport={"width": 1280, "height": 900}) for _ in range(5)]
    try:
        tabs = [c.new_page() for c in contexts]
        for tab in tabs:  # all sessions start before any of them has finished its first run
            tab.goto(f"{fresh_app_url}/reconstructions?dataset=digits", wait_until="commit")
        for i, tab in enumerate(tabs):
            tab.set_default_timeout(120_000)
            wait_idle(tab)
            no_exceptions(tab)
            assert "No dataset is available" not in tab.locator("[data-testid='stMain']").inner_text(), i
            assert "scikit-learn (bundled)" in tab.locator("[data-testid='stSidebar']").inner_text(), i
            assert "beats PCA" in tab.locator("[data-testid='stMain']").inner_text(), i  # drawn from the context
        shot(tabs[-1], "faults-first-visitors")
    finally:
        for context in contexts:
            context.close()


@pytest.mark.slow
@pytest.mark.needs_data("mnist")  # a digits job can end before the browser is missed
def test_a_job_whose_browser_closed_mid_training_is_cancelled_not_left_running(browser, tmp_path):
    with serve_app(tmp_path, AEVIZ_JOB_IDLE_S="3") as url:
        student = browser.new_context(viewport={"width": 1280, "height": 900})
        tab = student.new_page()
        tab.set_default_timeout(120_000)
        open_page(tab, url, "train", "dataset=mnist")
        for label, key in (("Epochs", "End"), ("Batch size", "Home")):  # a job of minutes: surely running at the close
            thumb = tab.locator("[data-testid='stSlider']").filter(has_text=label).get_by_role("slider")
            thumb.focus()
            thumb.press(key)
        tab.get_by_label("Model name (optional)").fill("abandoned")
        tab.get_by_role("button", name="Start training").click()
        tab.get_by_role("button", name="Cancel").wait_for()
        job_url = tab.url
        student.close()  # the laptop lid shuts mid-training

        lecturer = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        lecturer.set_default_timeout(120_000)
        deadline = time.monotonic() + 60
        running = None
        while time.monotonic() < deadline:  # the train page without the job's id: looking must not adopt it
            open_page(lecturer, url, "train", "dataset=mnist")
            running = re.search(r"(\d+) training now", lecturer.locator("[data-testid='stMain']").inner_text())
            if running and running.group(1) == "0":
                break
            time.sleep(2)
        assert running and running.group(1) == "0", "the abandoned job still runs"
        lecturer.goto(job_url)  # the student's own link now says what happened
        wait_idle(lecturer)
        no_exceptions(lecturer)
        assert "browser is gone" in lecturer.locator("[data-testid='stMain']").inner_text()
        assert not list((tmp_path / "home" / "checkpoints").glob("abandoned*"))  # nothing half-saved
        shot(lecturer, "faults-abandoned-job")
        lecturer.context.close()
