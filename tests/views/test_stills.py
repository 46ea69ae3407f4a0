"""A chart's still (views/stills.py): the server's SVG of a plotly figure puts each mark where the chart's axes
put it, keeps the figure's ticks, legend and text (escaped), and declines what it cannot draw."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import numpy as np
import plotly.graph_objects as go
import pytest

from aeviz.views import figures, stills
from aeviz.views.anomalies import histogram_spec

SVG = "{http://www.w3.org/2000/svg}"


def parsed(fig, height: int = 300) -> ET.Element:
    svg = stills.still_svg(fig, height)
    assert svg is not None
    return ET.fromstring(svg)  # well-formed XML, or this raises


def texts(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter(f"{SVG}text")]


def polyline(root: ET.Element) -> np.ndarray:
    points = root.find(f".//{SVG}polyline").get("points")
    return np.array([[float(v) for v in p.split(",")] for p in points.split()])


def plot_height(root: ET.Element) -> float:
    return float(next(s for s in root.iter(f"{SVG}svg") if s.get("width", "").startswith("calc")).get("height"))


def test_a_line_lands_where_its_axes_put_it():
    fig = go.Figure(go.Scatter(x=[0, 5, 10], y=[0, 0.5, 1], mode="lines"))
    fig.update_xaxes(range=[0, 10])
    fig.update_yaxes(range=[0, 1])
    root = parsed(fig)
    tall = plot_height(root)
    # across in percent of the plot's width, down in px from its top (y grows upwards on the chart)
    np.testing.assert_allclose(polyline(root), [[0, tall], [50, tall / 2], [100, 0]], atol=0.06)


def test_a_log_axis_spaces_decades_evenly_and_labels_them():
    fig = go.Figure(go.Scatter(x=[1, 10, 100], y=[1, 2, 3], mode="lines"))
    fig.update_xaxes(type="log", range=[0, 2])
    root = parsed(fig)
    np.testing.assert_allclose(polyline(root)[:, 0], [0, 50, 100], atol=0.01)
    assert {"1", "10", "100"} <= set(texts(root))


def test_the_figures_own_ticks_and_titles_are_drawn():
    fig = go.Figure(go.Scatter(x=[2, 4, 8], y=[0.1, 0.05, 0.02], name="dense"))
    fig.update_xaxes(type="log", tickvals=[2, 4, 8], ticktext=["two", "four", "eight"], title="bottleneck size q")
    fig.update_layout(title="Test error vs bottleneck size", yaxis_title="MSE")
    words = texts(parsed(fig))
    assert {"two", "four", "eight", "bottleneck size q", "MSE", "Test error vs bottleneck size"} <= set(words)


def test_bars_rise_from_zero_in_proportion():
    fig = go.Figure(go.Bar(x=["a", "b", "c"], y=[1, 2, 4]))
    fig.update_yaxes(range=[0, 4])
    root = parsed(fig)
    tall = plot_height(root)
    heights = [float(r.get("height")) for r in root.iter(f"{SVG}rect") if r.get("x", "").endswith("%")]
    np.testing.assert_allclose(heights, [tall / 4, tall / 2, tall], atol=0.06)
    assert [t for t in texts(root) if t in "abc"] == ["a", "b", "c"]  # categories in the figure's order


def test_every_point_of_a_map_is_a_dot_in_its_class_colour():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 500)
    root = parsed(figures.scatter_map(rng.normal(size=(500, 2)), labels, ["zero", "one", "two"]))
    groups = [g for g in root.iter(f"{SVG}g") if g.find(f"{SVG}circle") is not None]
    assert [len(g.findall(f"{SVG}circle")) for g in groups] == [int((labels == c).sum()) for c in range(3)]
    assert [g.get("fill") for g in groups] == list(figures.PALETTE[:3])
    assert {"zero", "one", "two"} <= set(texts(root))  # the legend


def test_the_error_histogram_keeps_both_sets_and_its_log_ticks():
    rng = np.random.default_rng(1)
    spec = histogram_spec(rng.lognormal(-4, 0.5, 2000), xlabel="MSE", scores_out=rng.lognormal(-2, 0.4, 50))
    root = parsed(spec)
    fills = {g.get("fill") for g in root.iter(f"{SVG}g") if g.find(f"{SVG}rect") is not None}
    assert len(fills) >= 2  # test images and injected ones, each in its colour
    assert {"1", "10", "100"} <= set(texts(root))


def test_text_is_escaped():
    fig = go.Figure(go.Scatter(x=[1, 2], y=[1, 2], name="<script>alert(1)</script>"))
    fig.update_layout(title="a & b <i>c</i>", showlegend=True)
    svg = stills.still_svg(fig, 200)
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert "a &amp; b" in svg  # the title's HTML tags are dropped, its text kept


@pytest.mark.parametrize(
    "fig",
    [
        go.Figure(go.Scatter3d(x=[1], y=[1], z=[1])),
        go.Figure(go.Box(y=[1, 2, 3])),
        go.Figure([go.Scatter(x=[1], y=[1]), go.Scatter(x=[1], y=[1], xaxis="x2")]),
    ],
    ids=["3-d", "box", "two axes"],
)
def test_what_it_cannot_draw_it_declines(fig):
    assert stills.still_svg(fig) is None


def test_an_equal_scale_map_widens_its_tighter_axis():
    fig = go.Figure(go.Scatter(x=[-10, 10], y=[-1, 1], mode="markers"))
    fig.update_yaxes(scaleanchor="x", scaleratio=1)
    root = parsed(fig, 400)
    ticks = [float(t) for t in texts(root) if re.fullmatch(r"-?\d+(\.\d+)?", t)]
    assert max(ticks) >= 5  # the y axis shows more than the points' ±1: one unit is as long on both axes
