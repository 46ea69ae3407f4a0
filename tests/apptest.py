"""Open app.py on one page with AppTest, as a browser session would: the tests' and benchmarks' one opener."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


@functools.cache
def _share_component_scan() -> None:
    """Scan the installed packages for Streamlit components once per process, not once per AppTest.

    Each new AppTest reads the metadata of every installed distribution (500 here) to find components: ~0.25 s
    of CPU an AppTest, a third of a typical page test. The packages do not change while the tests run, so the
    scan's answer is kept. A Streamlit without this function only makes the tests slower, never wrong."""
    from streamlit.components.v2 import manifest_scanner

    scan = getattr(manifest_scanner, "scan_component_manifests", None)
    if scan is not None:
        manifest_scanner.scan_component_manifests = functools.cache(scan)


def routed_pages() -> list[str]:
    """The page files app.py lists in PAGES (read without running it) that exist."""
    tree = ast.parse((REPO / "app.py").read_text())
    pages = next(
        ast.literal_eval(n.value)
        for n in tree.body
        if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "PAGES"
    )
    return [path for path, _, _ in pages if (REPO / path).exists()]


def new_session(query: dict[str, str] | None = None, timeout: float = 120, own_images: list | None = None):
    """An AppTest of app.py with the given query string, not yet run (for callers that time its runs).

    `own_images`: aeviz.images.Preprocessed pictures already in the session, as after an upload or a drawing.
    """
    from streamlit.testing.v1 import AppTest

    _share_component_scan()
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=timeout)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    if own_images is not None:
        at.session_state["aeviz_user_images"] = own_images
    return at


def run_page(page: str, query: dict[str, str] | None = None, timeout: float = 120, own_images: list | None = None):
    """Run app.py, switch to `page` (a path such as 'pages/vae.py') and return the finished AppTest."""
    at = new_session(query, timeout, own_images)
    at.run()
    if page != routed_pages()[0]:
        at.switch_page(page)
        at.run()
    return at
