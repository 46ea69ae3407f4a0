"""`streamlit run` with a package's import slow and raced: `python tests/e2e/slow_imports.py pandas=12 -- run app.py`.

Issue 26: on a fresh server, plotly found pandas half-imported by another session's thread (plotly looks for it
in `sys.modules` without importing it: `get_module("pandas", should_load=False)`), and 7 of 12 chart pages
failed. Whether a class hits that depends on timing: which page imports pandas first, and how long the import
takes on a loaded machine. This launcher makes the worst order happen whenever the app allows it:

- pages do not import the named package before plotly, in some page, first looks for it (for at most GATE_S);
- at that look, another thread starts the import, which takes the given seconds, and the look goes on once the
  half-made module is in `sys.modules`, as when another student's page has just started importing it.

An app that imports the package before any page can run never lets plotly look too early; it only waits
GATE_S longer to start.
"""

from __future__ import annotations

import importlib
import importlib.abc
import sys
import threading
import time

GATE_S = 10.0


def _in_a_page() -> bool:
    return threading.current_thread().name.startswith("ScriptRunner")  # not the server's own start-up


class SlowFinder(importlib.abc.MetaPathFinder):
    """Finds nothing itself: holds pages' imports of the named packages until `looked` is set, and wraps the
    loader the other finders return so that executing the module (already in sys.modules, empty) first sleeps."""

    def __init__(self, delays: dict[str, float], looked: threading.Event) -> None:
        self.delays, self.looked = delays, looked

    def find_spec(self, name, path, target=None):
        if name not in self.delays:
            return None
        if _in_a_page():
            self.looked.wait(GATE_S)
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None and spec.loader is not None:
                execute, delay = spec.loader.exec_module, self.delays.pop(name)

                def slow_exec(module, execute=execute, delay=delay):
                    time.sleep(delay)
                    execute(module)

                spec.loader.exec_module = slow_exec  # type: ignore[method-assign]
                return spec
        return None


def race_plotlys_lookups(names: set[str], looked: threading.Event) -> None:
    """Replace plotly's get_module (before plotly imports it by name) with one that, looking for one of `names`
    in a page while it is not imported yet, has another thread start that import and looks once the half-made
    module is there."""
    from _plotly_utils import optional_imports

    original = optional_imports.get_module

    def get_module(name, should_load=True):
        if _in_a_page() and not should_load and name in names and name not in sys.modules:
            names.discard(name)
            looked.set()
            threading.Thread(target=importlib.import_module, args=(name,), daemon=True).start()
            deadline = time.monotonic() + 10
            while name not in sys.modules and time.monotonic() < deadline:
                time.sleep(0.01)
        return original(name, should_load)

    optional_imports.get_module = get_module


def main() -> None:
    split = sys.argv.index("--")
    delays = {k: float(v) for k, v in (a.split("=") for a in sys.argv[1:split])}
    looked = threading.Event()
    sys.meta_path.insert(0, SlowFinder(dict(delays), looked))
    race_plotlys_lookups(set(delays), looked)
    sys.argv = ["streamlit", *sys.argv[split + 1 :]]
    from streamlit.web.cli import main as streamlit_main

    streamlit_main()


if __name__ == "__main__":
    main()
