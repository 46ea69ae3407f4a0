"""The kNN panel of Latent space: accuracy per code size as a table and a bar chart, one bar per model."""

from __future__ import annotations

from ..knn import SOURCES, KnnRow
from ..zoo.references import ARTICLE_SHORT, printed


def knn_table(rows: list[KnnRow]) -> dict[str, list]:
    """Columns for st.dataframe: accuracies in %, seconds rounded, the article's figure beside ours."""
    pct = lambda v: None if v is None else round(100 * v, 1)
    as_printed = lambda v: None if v is None else printed(v)
    columns: dict[str, list] = {
        "codes of": [r.name for r in rows],
        "dims": [r.dims for r in rows],
        "kNN-7 %": [pct(r.accuracy) for r in rows],
        f"published % ({ARTICLE_SHORT})": [as_printed(r.published) for r in rows],
        "time s": [None if r.seconds is None else round(r.seconds, 2) for r in rows],
        "from": [SOURCES[r.source] for r in rows],
    }
    if all(r.published is None for r in rows):  # no published figure for this dataset: no column of blanks
        del columns[f"published % ({ARTICLE_SHORT})"]
    return columns


def bar_groups(rows: list[KnnRow]) -> list[tuple[str, str, list[KnnRow]]]:
    """The kNN chart's bar traces as (name, series, rows), PCA first: one bar per row, never two rows of one
    trace at the same size (plotly stacks those: a server model beside the zoo's at q=8 read 89.5 + 54.3 %).
    A series' zoo models share its trace; a model from elsewhere ("dense-q8-bce · server") gets one of its own."""
    groups: dict[tuple[str, str], list[list[KnnRow]]] = {}
    codes = [r for r in rows if r.series != "pixels" and r.accuracy is not None]
    for r in sorted(codes, key=lambda r: r.series != "pca"):  # stable: PCA first, then the rows' own order
        where = r.name.split(" · ", 1)[1] if " · " in r.name else ""
        lanes = groups.setdefault((r.series, where), [])
        lane = next((lane for lane in lanes if all(o.dims != r.dims for o in lane)), None)
        if lane is None:
            lanes.append(lane := [])
        lane.append(r)
    out = []
    for (series, where), lanes in groups.items():
        for k, lane in enumerate(lanes):
            name = "PCA" if series == "pca" else series + (f" · {where}" if where else "")
            out.append((name + (f" ({k + 1})" if k else ""), series, lane))
    return out


def knn_figure(rows: list[KnnRow], title: str = ""):
    """Accuracy per bottleneck size, one bar per model (PCA first, in grey; a model from outside the zoo dotted);
    raw pixels as a dashed line, the article's figures as a dark band on the bar of the model they compare with.
    Hover shows the model and the wall time."""
    import plotly.graph_objects as go

    from .figures import PALETTE

    fig = go.Figure()
    groups = bar_groups(rows)
    dims = sorted({r.dims for _, _, lane in groups for r in lane})
    labels = {d: f"q={d}" for d in dims}
    models = [s for s in dict.fromkeys(series for _, series, _ in groups) if s != "pca"]
    for name, series, lane in groups:
        j = models.index(series) if series in models else None
        outside = " · " in name
        fig.add_trace(
            go.Bar(
                x=[labels[r.dims] for r in lane],
                y=[100 * (r.accuracy or 0.0) for r in lane],
                name=name,
                offsetgroup=name,
                customdata=[[r.seconds, r.name] for r in lane],
                marker_color="#9a9a9a" if j is None else PALETTE[j % len(PALETTE)],
                marker_pattern_shape="." if outside else "/" if j is not None and j >= len(PALETTE) else "",
                hovertemplate="%{customdata[1]}: %{y:.1f} % in %{customdata[0]:.2f} s<extra></extra>",
            )
        )
    _published_marks(fig, groups, labels)
    for r in rows:
        if r.series == "pixels" and r.accuracy is not None:
            fig.add_hline(
                y=100 * r.accuracy,
                line_dash="dash",
                line_color="#888888",
                annotation_text=f"raw pixels {100 * r.accuracy:.1f} % ({r.seconds:.1f} s)",
                annotation_position="top left",
            )
    low = min([100 * r.accuracy for r in rows if r.accuracy is not None] + [100.0])
    fig.update_layout(
        barmode="group",
        title=dict(text=title) if title else None,
        height=380,
        yaxis=dict(title="kNN-7 test accuracy (%)", range=[max(0.0, low - 5), 104]),
        xaxis=dict(categoryorder="array", categoryarray=[labels[d] for d in dims]),
        legend=dict(orientation="h", y=-0.2),
        margin=dict(l=50, r=10, t=40 if title else 10, b=10),
    )
    return fig


def _published_marks(fig, groups, labels: dict[int, str], band: float = 0.8) -> None:
    """The article's figure at each size as a dark band across the bar it compares with: the zoo model of the
    published series (the first such bar at that size where the zoo has none), in that bar's offset group."""
    import plotly.graph_objects as go

    marks: dict[int, tuple[str, float]] = {}
    for name, _, lane in groups:
        for r in lane:
            if r.published is not None and r.dims in labels and r.dims not in marks:
                marks[r.dims] = (name, r.published)
    for dims, (group, value) in sorted(marks.items()):
        fig.add_trace(
            go.Bar(
                x=[labels[dims]],
                y=[band],
                base=[100 * value - band / 2],
                name="published (dense AE)",
                legendgroup="published",
                showlegend=dims == min(marks),
                offsetgroup=group,
                marker=dict(
                    color="#222222", line=dict(color="#ffffff", width=1.5)
                ),  # reads on a light page and a dark one
                hovertemplate=f"published: {printed(value)} %<extra></extra>",
            )
        )
