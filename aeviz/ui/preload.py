"""What the pages share, imported once when `aeviz.ui` is (app.py's first line), before any page script runs.

A class opening chart pages on a freshly started server runs a dozen page scripts at once. A package a page
imported on first use was then imported by one session's thread while the others ran on, and plotly looks for
pandas in `sys.modules` without importing it: it found the half-made module there and raised (7 error pages
of 12, on 3 of 3 servers). Python makes every other thread that imports `aeviz.ui` wait until this module
has run, so nothing here can be seen half-made by a page.

pandas is the one that must be here (plotly's validators peek at it, st.dataframe imports it and pyarrow);
the page back-ends are cheap (0.2 s) and here so that no page's first run imports a module another page's
run is importing. scikit-learn is not: 5 s of a first page on a busy 2-core machine, used by one page's
function (`scores.detection`), which imports it through Python's locks like any module, and nothing peeks.
"""

from __future__ import annotations

import importlib
import pkgutil

SHARED = ("pandas", "pyarrow", "PIL.Image", "plotly.graph_objects", "plotly.io")


def _back_ends() -> list[str]:
    """Every page's back-end (aeviz.views.*) and what they import of the core on first use."""
    from .. import views

    names = [f"{views.__name__}.{m.name}" for m in pkgutil.iter_modules(views.__path__)]
    return names + ["aeviz.pca", "aeviz.knn", "aeviz.walks", "aeviz.sweeps", "aeviz.scores", "aeviz.jobs.setup"]


def preload() -> list[str]:
    """Import SHARED and the page back-ends; returns the names imported (a missing optional one is left out)."""
    done = []
    for name in (*SHARED, *_back_ends()):
        try:
            importlib.import_module(name)
        except ImportError:  # an optional package: the page that needs it says so itself
            continue
        done.append(name)
    return done


LOADED = preload()
