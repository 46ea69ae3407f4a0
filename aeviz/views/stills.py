"""A plotly figure drawn as SVG on the server: the still a new visitor sees until the browser has plotly.

Plotly's bundle costs a new browser about a second of its main thread before any chart can draw (issue 30
section 5), so a session's first screen shows each chart as this still, at the chart's place and height; the
interactive chart replaces it once the page is up or touched. Only the trace types aeviz draws are supported
(scatter, scattergl, bar, image on one pair of axes); for anything else `still_svg` returns None and the page
shows a placeholder of the chart's height instead. Text is drawn in the page's text colour (`INK`, per theme):
the still is an <img>, whose SVG cannot inherit the page's colours.
"""

from __future__ import annotations

import base64
import html
import struct

import numpy as np

from .figures import PALETTE
from .stillaxes import TEXT_PX, Axis, axis_kind, axis_range, categories, plain, values

SUPPORTED = ("scatter", "scattergl", "bar", "image")
GRID = "rgba(128,128,128,0.25)"
INK = {"light": "#31333f", "dark": "#fafafa"}  # Streamlit's text colour on its light and dark themes
WIDTH = 720  # the still's drawing width; the browser scales it to the column (height kept, aspect kept)


def still_svg(figure, height: int | None = None, width: int = WIDTH, theme: str = "light") -> str | None:
    """The figure as an SVG document `height` px tall and as wide as its box (its own height when None), or
    None where unsupported. Across, the plot is laid out in percent of the box, so text keeps its size at any
    column width; `width` is only the guess an equal-scale (scaleanchor) plot is shaped for."""
    spec = figure if isinstance(figure, dict) else figure.to_plotly_json()
    layout = spec.get("layout") or {}
    traces = [t for t in spec.get("data") or [] if t.get("visible", True) is True]
    if not _drawable(traces, layout):
        return None
    height = int(height or layout.get("height") or 450)
    font = int((layout.get("font") or {}).get("size") or TEXT_PX)
    title = plain(layout.get("title"))
    legend = _legend_entries(traces, layout)
    horizontal = (layout.get("legend") or {}).get("orientation") == "h"
    left, top, right, bottom = _margins(layout, font, title, legend, horizontal)
    tall = float(round(max(height - top - bottom, 10.0)))  # whole pixels: the plot box is drawn at them
    x, y = _axes(traces, layout, tall, max(width - left - right, 10.0))
    inner = [_grid_and_ticks(x, y, tall, font)]
    barmode = str(layout.get("barmode", "group"))
    inner += [_trace_svg(trace, i, x, y, traces, barmode, tall) for i, trace in enumerate(traces)]
    inner += [_shapes(layout, x, y, tall), _axis_titles(x, y, tall, font)]
    if horizontal:
        inner.append(_legend_svg(legend, font, horizontal))
    plot = (
        f'<svg x="{left:.0f}" y="{top:.0f}" height="{tall:.0f}" width="calc(100% - {left + right:.0f}px)" '
        f'overflow="visible">{"".join(inner)}</svg>'
    )
    side = "" if horizontal or not legend else _side_legend(legend, font, right, top)
    heading = f'<text x="{left:.0f}" y="{1.5 * font:.1f}" font-size="{1.3 * font:.0f}">{html.escape(title)}</text>'
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="100%" height="{height}" font-family="sans-serif" '
        f'font-size="{font}" fill="{INK.get(theme, INK["light"])}">{heading if title else ""}{plot}{side}</svg>'
    )


def data_uri(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def _drawable(traces: list[dict], layout: dict) -> bool:
    one_pair = all(t.get("xaxis", "x") == "x" and t.get("yaxis", "y") == "y" for t in traces)
    return bool(traces) and one_pair and all(t.get("type", "scatter") in SUPPORTED for t in traces)


def _colour(trace: dict, i: int) -> str:
    for part in ("marker", "line"):
        colour = (trace.get(part) or {}).get("color")
        if isinstance(colour, str):
            return colour
    return PALETTE[i % len(PALETTE)]


def _legend_entries(traces: list[dict], layout: dict) -> list[tuple[str, str]]:
    named = [
        (str(t["name"]), _colour(t, i))
        for i, t in enumerate(traces)
        if t.get("name") and t.get("showlegend") is not False
    ]
    show = layout.get("showlegend")
    return named if show or (show is None and len(named) > 1) else []


def _margins(layout, font, title, legend, horizontal) -> tuple[float, float, float, float]:
    """(left, top, right, bottom) px around the plot: the figure's margins, grown for ticks, titles and legend."""
    margin = layout.get("margin") or {}
    xspec, yspec = layout.get("xaxis") or {}, layout.get("yaxis") or {}
    left = margin.get("l", 80) + 5 * font + (1.4 * font if plain(yspec.get("title")) else 0)
    bottom = margin.get("b", 80) + 1.6 * font + (1.6 * font if plain(xspec.get("title")) else 0)
    top = margin.get("t", 100) + (0 if not title or margin.get("t", 100) > 2 * font else 1.6 * font)
    right = margin.get("r", 80)
    if legend and horizontal:
        top += 1.8 * font
    elif legend:
        right += 2.5 * font + 0.62 * font * max(len(name) for name, _ in legend)
    return float(left), float(top), float(right), float(bottom)


def _image_extent(trace: dict) -> tuple[np.ndarray, np.ndarray]:
    """An image trace's pixel-edge extent in data units, from its PNG's size (or its z's shape)."""
    rows, cols = _image_size(trace)
    x0, y0, dx, dy = (float(trace.get(k, d)) for k, d in (("x0", 0), ("y0", 0), ("dx", 1), ("dy", 1)))
    return np.array([x0 - dx / 2, x0 + (cols - 0.5) * dx]), np.array([y0 - dy / 2, y0 + (rows - 0.5) * dy])


def _image_size(trace: dict) -> tuple[int, int]:
    source = str(trace.get("source") or "")
    if source.startswith("data:image/png;base64,"):
        head = base64.b64decode(source.split(",", 1)[1][:48])
        cols, rows = struct.unpack(">II", head[16:24])  # the PNG's IHDR: width, height
        return rows, cols
    z = values(trace.get("z"))
    return (z.shape[0], z.shape[1]) if z.ndim >= 2 else (1, 1)


def _trace_xy(trace: dict) -> tuple[np.ndarray, np.ndarray]:
    if trace.get("type") == "image":
        return _image_extent(trace)
    x, y = values(trace.get("x")), values(trace.get("y"))
    if trace.get("type") == "bar" and trace.get("orientation") == "h":
        x, y = y, x  # x holds the lengths: kept as (position, length) below
    if not x.size:
        x = np.arange(len(y), dtype=float)
    if not y.size:
        y = np.arange(len(x), dtype=float)
    return x, y


def _axes(traces: list[dict], layout: dict, tall: float, wide: float) -> tuple[Axis, Axis]:
    """Both axes, ranged as plotly's autorange would be (bars from zero; equal scales where y is anchored to x):
    x in percent of the plot's width, y in px from the plot's top."""
    xs, ys = zip(*(_trace_xy(t) for t in traces))
    flipped = any(t.get("type") == "bar" and t.get("orientation") == "h" for t in traces)
    if flipped:
        xs, ys = ys, xs
    xs, ys = list(xs) + _shape_ends(layout, "x"), list(ys) + _shape_ends(layout, "y")  # plotly ranges over them
    xspec, yspec = layout.get("xaxis") or {}, layout.get("yaxis") or {}
    made = []
    for spec, data, start, end, along in ((xspec, xs, 0.0, 100.0, "x"), (yspec, ys, tall, 0.0, "y")):
        kind = axis_kind(spec, list(data))
        names = categories(spec, list(data)) if kind == "category" else ()
        axis = Axis(kind, 0, 1, start, end, names, plain(spec.get("title")), spec)
        units = [axis.unit(d) for d in data]
        bars = any(t.get("type") == "bar" for t in traces)
        lengths = bars and ((along == "y") != flipped)
        if lengths and kind == "linear":
            units.append(np.zeros(1))
        pad = 0.5 if kind == "category" else (0.05 if lengths else _pad(traces, bars))
        low, high = axis_range(spec, kind, units, pad if kind != "category" else 0.0)
        if kind == "category" and spec.get("range") is None:
            low, high = -0.5, len(names) - 0.5
        if spec.get("autorange") == "reversed" or (along == "y" and traces[0].get("type") == "image"):
            low, high = high, low
        axis.low, axis.high = low, high
        made.append(axis)
    x, y = made
    if yspec.get("scaleanchor") == "x" and x.kind == y.kind == "linear":
        _equal_scales(x, y, wide, tall)
    return x, y


def _shape_ends(layout: dict, along: str) -> list[np.ndarray]:
    ends = [
        [shape.get(f"{along}0"), shape.get(f"{along}1")]
        for shape in layout.get("shapes") or []
        if str(shape.get(f"{along}ref", along)) == along
    ]
    return [np.asarray(e, dtype=float) for e in ends if None not in e and not isinstance(e[0], str)]


def _pad(traces: list[dict], bars: bool) -> float:
    if bars:
        return 0.02
    marked = any("markers" in str(t.get("mode", "markers")) for t in traces)
    return 0.04 if marked else 0.0


def _equal_scales(x: Axis, y: Axis, wide: float, tall: float) -> None:
    """Plotly's scaleanchor: one data unit is as many pixels on both axes, the tighter axis's range widened."""
    sx = wide / abs(x.high - x.low)
    sy = tall / abs(y.high - y.low)
    scale = min(sx, sy)
    for axis, s, pixels in ((x, sx, wide), (y, sy, tall)):
        if s > scale:
            middle, half = (axis.low + axis.high) / 2, pixels / scale / 2
            sign = 1 if axis.high > axis.low else -1
            axis.low, axis.high = middle - sign * half, middle + sign * half


def _grid_and_ticks(x: Axis, y: Axis, tall: float, font: int) -> str:
    out = []
    for at, text in x.ticks():
        if (x.spec or {}).get("showgrid", True):
            out.append(f'<line x1="{at:.2f}%" y1="0" x2="{at:.2f}%" y2="{tall:.0f}" stroke="{GRID}"/>')
        out.append(f'<text x="{at:.2f}%" y="{tall + 1.3 * font:.1f}" text-anchor="middle">{html.escape(text)}</text>')
    for at, text in y.ticks():
        if (y.spec or {}).get("showgrid", True):
            out.append(f'<line x1="0" y1="{at:.1f}" x2="100%" y2="{at:.1f}" stroke="{GRID}"/>')
        out.append(f'<text x="-6" y="{at + 0.35 * font:.1f}" text-anchor="end">{html.escape(text)}</text>')
    return "".join(out)


def _trace_svg(trace: dict, i: int, x: Axis, y: Axis, traces: list[dict], barmode: str, tall: float) -> str:
    """One trace, clipped to the plot: marks placed in percent across; lines in a box stretched to the plot."""
    kind = trace.get("type", "scatter")
    opacity = float(trace.get("opacity", 1.0))
    lines = ""
    if kind == "image":
        (x0, x1), (y0, y1) = _image_extent(trace)
        px, py = x.px([x0, x1]), y.px([y0, y1])
        body = (
            f'<image href="{html.escape(str(trace.get("source") or ""))}" x="{min(px):.2f}%" y="{min(py):.1f}" '
            f'width="{abs(px[1] - px[0]):.2f}%" height="{abs(py[1] - py[0]):.1f}" preserveAspectRatio="none"/>'
        )
    elif kind == "bar":
        body = _bars(trace, i, x, y, [t for t in traces if t.get("type") == "bar"] if barmode == "group" else [])
    else:
        lines, body = _scatter(trace, i, x, y)
    stretched = (
        f'<svg width="100%" height="{tall:.0f}" viewBox="0 0 100 {tall:.0f}" preserveAspectRatio="none">{lines}</svg>'
        if lines
        else ""
    )
    return f'<g opacity="{opacity:g}">{stretched}<svg width="100%" height="{tall:.0f}">{body}</svg></g>'


def _scatter(trace: dict, i: int, x: Axis, y: Axis) -> tuple[str, str]:
    xs, ys = _trace_xy(trace)
    px, py = x.px(xs), y.px(ys)
    mode = str(trace.get("mode") or ("lines+markers" if len(xs) < 20 else "lines"))
    colour, out, dots = _colour(trace, i), [], ""
    line = trace.get("line") or {}
    if "lines" in mode:
        width = float(line.get("width", 2))
        dash = {"dash": "6,4", "dot": "2,3", "dashdot": "6,3,2,3"}.get(str(line.get("dash")), "")
        ok = np.isfinite(px) & np.isfinite(py)
        for run in np.split(np.arange(len(px)), np.flatnonzero(~ok)):
            run = run[ok[run]]
            if len(run) > 1:
                points = " ".join(f"{a:.2f},{b:.1f}" for a, b in zip(px[run], py[run]))
                out.append(
                    f'<polyline points="{points}" fill="none" stroke="{line.get("color") or colour}" '
                    f'stroke-width="{width:g}" stroke-dasharray="{dash}" vector-effect="non-scaling-stroke"/>'
                )
    if "markers" in mode:
        dots = _markers(trace, colour, px, py)
    return "".join(out), dots


def _markers(trace: dict, colour: str, px: np.ndarray, py: np.ndarray) -> str:
    marker = trace.get("marker") or {}
    size = values(marker.get("size", 6))
    radius = (np.broadcast_to(size, px.shape) if size.size in (1, len(px)) else np.full(px.shape, 6.0)) / 2
    fills = marker.get("color")
    per_point = np.broadcast_to(np.asarray(fills, dtype=object), px.shape) if _strings(fills, len(px)) else None
    alpha = marker.get("opacity", 1.0)
    alpha = float(alpha) if isinstance(alpha, (int, float)) else 1.0
    ok = np.isfinite(px) & np.isfinite(py)
    dots = [
        f'<circle cx="{a:.2f}%" cy="{b:.1f}" r="{r:.2g}"{"" if per_point is None else f" fill={chr(34)}{c}{chr(34)}"}/>'
        for a, b, r, c in zip(px[ok], py[ok], radius[ok], (per_point[ok] if per_point is not None else px[ok]))
    ]
    return f'<g fill="{colour}" fill-opacity="{alpha:g}">{"".join(dots)}</g>'


def _strings(fills, count: int) -> bool:
    return (
        isinstance(fills, (list, tuple, np.ndarray)) and len(fills) == count and all(isinstance(c, str) for c in fills)
    )


def _bars(trace: dict, i: int, x: Axis, y: Axis, group: list[dict]) -> str:
    """Vertical (or horizontal) bars from zero, or from the plot's edge on a log axis; side by side within
    `group` (plotly's barmode "group"), else overlaid."""
    flipped = trace.get("orientation") == "h"
    where, length = _trace_xy(trace)
    along, across = (y, x) if flipped else (x, y)
    centres = along.unit(where)
    gaps = np.diff(np.unique(centres[np.isfinite(centres)]))
    slot = float(gaps.min()) if gaps.size else 1.0
    width = values(trace.get("width")) if trace.get("width") is not None else np.full(centres.shape, slot * 0.8)
    width = np.broadcast_to(width.astype(float), centres.shape)
    if len(group) > 1:
        width = width / len(group)
        centres = centres + (group.index(trace) - (len(group) - 1) / 2) * width
    base = across.start if across.kind == "log" else float(across.px([0])[0])
    ends = across.px(length)
    low, high = along.px_of_units(centres - width / 2), along.px_of_units(centres + width / 2)
    colour, out = _colour(trace, i), []
    for a, b, e in zip(low, high, ends):
        if not (np.isfinite(a) and np.isfinite(b) and np.isfinite(e)):
            continue
        p0, p1, q0, q1 = min(a, b), max(a, b), min(base, e), max(base, e)
        rect = (p0, q0, p1 - p0, q1 - q0) if not flipped else (q0, p0, q1 - q0, p1 - p0)
        out.append('<rect x="{:.2f}%" y="{:.1f}" width="{:.2f}%" height="{:.1f}"/>'.format(*rect))
    return f'<g fill="{colour}">{"".join(out)}</g>'


def _shapes(layout: dict, x: Axis, y: Axis, tall: float) -> str:
    """Lines and rectangles from layout.shapes (add_vline, add_hline): in data or paper units, clipped."""
    out = []
    for shape in layout.get("shapes") or []:
        if shape.get("type") not in ("line", "rect"):
            continue
        x0, x1 = (_shape_at(shape, k, x, 100.0, 0.0) for k in ("x0", "x1"))
        y0, y1 = (_shape_at(shape, k, y, 0.0, tall) for k in ("y0", "y1"))
        line = shape.get("line") or {}
        stroke = f'stroke="{line.get("color", "#888888")}" stroke-width="{float(line.get("width", 2)):g}"'
        dash = ' stroke-dasharray="6,4"' if line.get("dash") in ("dash", "dot", "dashdot") else ""
        if shape["type"] == "line":
            out.append(f'<line x1="{x0:.2f}%" y1="{y0:.1f}" x2="{x1:.2f}%" y2="{y1:.1f}" {stroke}{dash}/>')
        else:
            fill, opacity = shape.get("fillcolor", "none"), float(shape.get("opacity", 1))
            out.append(
                f'<rect x="{min(x0, x1):.2f}%" y="{min(y0, y1):.1f}" width="{abs(x1 - x0):.2f}%" '
                f'height="{abs(y1 - y0):.1f}" fill="{fill}" opacity="{opacity:g}" {stroke}{dash}/>'
            )
    return f'<svg width="100%" height="{tall:.0f}">{"".join(out)}</svg>'


def _shape_at(shape: dict, end: str, axis: Axis, paper_one: float, paper_zero: float) -> float:
    """A shape's end on its axis (percent across, px down), from data units or from paper's 0..1."""
    if "paper" in str(shape.get(f"{end[0]}ref", end[0])):
        return paper_zero + (paper_one - paper_zero) * float(shape[end])
    return float(axis.px([shape[end]])[0])


def _axis_titles(x: Axis, y: Axis, tall: float, font: int) -> str:
    out = []
    if x.title:
        out.append(f'<text x="50%" y="{tall + 2.9 * font:.1f}" text-anchor="middle">{html.escape(x.title)}</text>')
    if y.title:
        at, middle = -5.0 * font, tall / 2
        out.append(
            f'<text x="{at:.1f}" y="{middle:.1f}" text-anchor="middle" '
            f'transform="rotate(-90 {at:.1f} {middle:.1f})">{html.escape(y.title)}</text>'
        )
    return "".join(out)


def _legend_svg(entries: list[tuple[str, str]], font: int, horizontal: bool) -> str:
    """The legend's swatches and names: a row above the plot (horizontal), else a column from (0, 0)."""
    out, at = [], 0.0
    for k, (name, colour) in enumerate(entries):
        if horizontal:
            cx, cy = at, -0.9 * font
            at += 2.2 * font + 0.62 * font * len(name)
        else:
            cx, cy = 0.0, 0.6 * font + 1.5 * font * k
        out.append(
            f'<rect x="{cx:.1f}" y="{cy - 0.4 * font:.1f}" width="{font}" height="{0.8 * font:.1f}" fill="{colour}"/>'
        )
        out.append(f'<text x="{cx + 1.4 * font:.1f}" y="{cy + 0.35 * font:.1f}">{html.escape(name)}</text>')
    return "".join(out)


def _side_legend(entries: list[tuple[str, str]], font: int, right: float, top: float) -> str:
    """The legend beside the plot, placed from the still's right edge (its width is the box's, unknown here)."""
    shift = f"translate({-right + 1.2 * font:.1f},{top:.0f})"
    return f'<svg x="100%" y="0" width="1" height="1" overflow="visible"><g transform="{shift}">' + (
        f"{_legend_svg(entries, font, False)}</g></svg>"
    )
