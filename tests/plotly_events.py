"""AppTest helpers it lacks: selections on st.plotly_chart (the state a browser sends), fragment-only reruns."""

from __future__ import annotations

import json


def chart(at, key: str):
    """The plotly_chart element with user key `key` from the last run."""
    found = [c for c in at.get("plotly_chart") if c.key == key]
    assert found, f"no plotly chart with key {key!r}; keys: {[c.key for c in at.get('plotly_chart')]}"
    return found[0]


def fragment_id(at, name: str) -> str:
    """The id of the fragment whose function is called `name`, from the last full run."""
    for fid, wrapped in at._fragment_storage._fragments.items():
        for cell in wrapped.__closure__ or ():
            if getattr(cell.cell_contents, "__name__", None) == name:
                return fid
    raise KeyError(f"no fragment named {name!r}")


def select(at, key: str, customdata: list[int], timeout: float | None = None, fragment: str | None = None):
    """Rerun `at` as if the user had selected the points carrying `customdata` on chart `key`.

    Streamlit's browser side reports each point with its customdata, curve and index (selection.points);
    pages read the customdata, so that is what matters here. [] clears the selection. With `fragment` (the
    name of the st.fragment function holding the chart) only that fragment reruns, as in a browser; the
    returned tree then holds the fragment's elements only.
    """
    from streamlit.proto.WidgetStates_pb2 import WidgetStates

    points = [
        {"customdata": int(c), "curve_number": 0, "point_index": i, "point_number": i} for i, c in enumerate(customdata)
    ]
    state = {"selection": {"points": points, "point_indices": list(range(len(points))), "box": [], "lasso": []}}
    widgets = WidgetStates()
    widgets.CopyFrom(at._tree.get_widget_states())
    target = chart(at, key).proto.id
    kept = [w for w in widgets.widgets if w.id != target]
    del widgets.widgets[:]
    widgets.widgets.extend(kept)
    new = widgets.widgets.add()
    new.id = target
    new.string_value = json.dumps(state)
    if fragment is None:
        return at._run(widgets, timeout=timeout)  # AppTest's own run(), with the extra widget state
    return fragment_run(at, fragment, widgets, timeout)


def fragment_run(at, name: str, widgets=None, timeout: float | None = None):
    """Rerun only the st.fragment function called `name`, as a browser does for a widget inside it (after
    e.g. `at.slider(key=...).set_value(v)`); the returned tree holds that fragment's elements only."""
    import functools

    from streamlit.testing.v1 import local_script_runner

    widgets = at._tree.get_widget_states() if widgets is None else widgets
    plain = local_script_runner.RerunData
    local_script_runner.RerunData = functools.partial(plain, fragment_id_queue=[fragment_id(at, name)])
    try:
        return at._run(widgets, timeout=timeout)
    finally:
        local_script_runner.RerunData = plain
