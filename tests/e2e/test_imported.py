"""A model trained elsewhere in a real browser: the Latent space page maps its codes like a zoo model's."""

from __future__ import annotations

import pytest
from browser import no_exceptions, open_page, serve_app, tall_shot, wait_idle
from foreign import dense, export_folder

from aeviz.foreign import importer as importing


@pytest.fixture
def imported_app_url(tmp_path):
    folder = export_folder(tmp_path / "export", *dense(q=4), name="imp-dense")
    importing.import_path(folder, tmp_path / "home" / "checkpoints")  # serve_app's AEVIZ_HOME
    with serve_app(tmp_path) as url:
        yield url


def test_the_latent_space_page_maps_an_imported_model(page, imported_app_url):
    query = "dataset=digits&map_model=server:imp-dense&map_method=pca"
    open_page(page, imported_app_url, "", "dataset=digits")  # app.py first: it registers the pages
    open_page(page, imported_app_url, "latent_map", query)
    chart = page.locator("[data-testid='stPlotlyChart']").first
    chart.locator(".main-svg").first.wait_for()
    page.get_by_text("PCA of 360 codes").first.wait_for(timeout=120_000)
    wait_idle(page)
    picker = page.locator("[data-testid='stSelectbox']").filter(has_text="Model").first
    shown = picker.locator("input").first.input_value() or picker.inner_text()
    assert "imp-dense · imported (torch.export)" in shown  # the picker says where it comes from
    assert page.get_by_text("1 imported: torch.export").count() == 1  # the sidebar's count
    assert chart.locator(".scatterlayer .trace, .gl-container canvas").count() >= 1
    no_exceptions(page)
    tall_shot(page, "latent-map-imported-model")
