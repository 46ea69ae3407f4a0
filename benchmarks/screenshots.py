"""Screenshots of every page in the light and dark themes at projector and laptop sizes, for looking at.

Run: `AEVIZ_DATA_DIR=... python benchmarks/screenshots.py [--out DIR] [--pages home,denoising]
[--sizes 1280x720,1920x1080] [--themes light,dark] [--query dataset=mnist]`. Starts `streamlit run app.py`
on a free port (caches and user folder in a temp dir), opens each page with `?embed_options=<theme>_theme`
(Streamlit's own switch, as the settings menu's choice would) and writes `<page>-<theme>-<WxH>.png`, the
page screen by screen (the first screen on top), to DIR (default: a new temp dir). Prints each file with the
page's background colour.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "tests" / "e2e")]

from browser import CHROMIUM, CHROMIUM_ARGS, open_deep_link, page_slugs, wait_idle  # noqa: E402
from cold import copy_parsed  # noqa: E402
from conftest import serve_app  # noqa: E402


def whole_page(page, path: Path, max_screens: int = 6) -> None:
    """The page as the screen shows it, screen after screen, stacked into one picture: Streamlit scrolls inside
    stMain, and growing the window to the content instead would change what lecture mode sizes by (100vh)."""
    import io

    from PIL import Image

    main = "document.querySelector(\"[data-testid='stMain']\")"
    height = page.viewport_size["height"]
    total = page.evaluate(f"() => {main}.scrollHeight")
    shots = []
    for i in range(min(max_screens, -(-total // height))):
        top = page.evaluate(f"(y) => {{ {main}.scrollTo(0, y); return {main}.scrollTop; }}", i * height)
        page.wait_for_timeout(400)  # plotly's WebGL layers redraw after a scroll
        shot = Image.open(io.BytesIO(page.screenshot()))
        shots.append(shot.crop((0, i * height - top, shot.width, shot.height)) if top < i * height else shot)
        if top < i * height:
            break
    page.evaluate(f"() => {main}.scrollTo(0, 0)")
    whole = Image.new("RGB", (shots[0].width, sum(s.height for s in shots)))
    for i, shot in enumerate(shots):
        whole.paste(shot, (0, sum(s.height for s in shots[:i])))
    whole.save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--pages", default="", help="comma-separated page stems (default: all of app.PAGES)")
    parser.add_argument("--sizes", default="1280x720,1920x1080")
    parser.add_argument("--themes", default="light,dark")
    parser.add_argument("--query", default="dataset=mnist")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="aeviz-shots-"))
    out.mkdir(parents=True, exist_ok=True)
    pages = [p for p in args.pages.split(",") if p] or page_slugs()
    with tempfile.TemporaryDirectory() as home:
        copy_parsed(Path(home) / "cache")  # all of this machine's parsed datasets
        _shoot(args, out, pages, home)
    print(out)


def _shoot(args, out: Path, pages: list[str], home: str) -> None:
    from playwright.sync_api import sync_playwright

    with serve_app(Path(home)) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        for size in args.sizes.split(","):
            width, height = map(int, size.split("x"))
            for theme in args.themes.split(","):
                context = browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=1)
                page = context.new_page()
                page.set_default_timeout(120_000)
                for stem in pages:
                    query = f"{args.query}&embed_options={theme}_theme"
                    open_deep_link(page, url, "" if stem == "home" else stem, query)
                    page.wait_for_timeout(1500)  # background jobs' first results and plotly's first paint
                    wait_idle(page)
                    path = out / f"{stem}-{theme}-{size}.png"
                    whole_page(page, path)
                    background = page.evaluate(
                        "() => getComputedStyle(document.querySelector(\"[data-testid='stApp']\")).backgroundColor"
                    )
                    print(f"{path}  background {background}", flush=True)
                context.close()
        browser.close()


if __name__ == "__main__":
    main()
