"""AppTest smoke over app.py and every page it routes to, on the real zoo: each renders without an exception."""

from __future__ import annotations

import pytest
from apptest import REPO, routed_pages, run_page


def test_app_lists_every_page_file():
    on_disk = {f"pages/{p.name}" for p in (REPO / "pages").glob("*.py")}
    assert on_disk <= set(routed_pages())


@pytest.mark.parametrize("dataset", [pytest.param("mnist", marks=pytest.mark.needs_data("mnist")), "digits"])
@pytest.mark.parametrize("page", routed_pages())
def test_page_renders_without_exception(page, dataset):
    at = run_page(page, {"dataset": dataset})
    assert not at.exception, [e.value for e in at.exception]
    assert at.title, f"{page} shows no title"
    assert at.query_params["dataset"] in (dataset, [dataset])  # the sidebar kept the choice
