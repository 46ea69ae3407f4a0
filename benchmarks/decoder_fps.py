"""Frames the browser decodes per second while a code slider is dragged, per zoo decoder architecture.

Part 1, every architecture the zoo ships (one checkpoint per distinct layer list and code size) and a colour conv
decoder (3x32x32; no colour model in the zoo yet, random weights): the kit's playground mounted in a blank headless
Chromium page with the model's weights; a scripted drag moves one bar twice per animation frame for --seconds.
Reported: frames decoded per second during the drag (the display's rate is the ceiling: Chromium draws at most one
frame per animation frame), the time one frame takes (decode + paint), and the kernel's capacity (decodes per
second in a tight loop, no painting).
Part 2, the app (--app): `streamlit run app.py`, Home's and the VAE page's playgrounds dragged with Playwright's
mouse (each move a CDP round trip, so the mouse, not the decoder, sets this rate), frames per second and the
number of script runs during the drag (0: nothing went to the server).

The machine may be shared: the load average is printed before and after; compare figures from one run.

    PYTHONPATH=. python benchmarks/decoder_fps.py [--seconds 3] [--app]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests"), str(REPO / "tests" / "e2e")]

DRAG = """async ({blob, data, seconds}) => {
  const kit = window.kit;
  const id = kit.provide(Uint8Array.from(atob(blob), (c) => c.charCodeAt(0)));
  const host = document.createElement('div');
  host.style.width = '1000px';
  document.body.replaceChildren(host);
  const root = host.attachShadow({mode: 'open'});
  kit.default({data: {...data, model: id}, parentElement: root, setStateValue() {}, setTriggerValue() {}});
  const decoder = await kit.whenReady(id);
  const stats = () => (window.__aevizDecodes || {})[data.key] || {frames: 0, ms: 0};
  while (stats().frames === 0) await new Promise(requestAnimationFrame);
  const col = root.querySelectorAll('.col')[0], track = col.querySelector('.track').getBoundingClientRect();
  const at = (y) => ({clientX: track.left + track.width / 2, clientY: y, pointerId: 1, bubbles: true});
  col.dispatchEvent(new PointerEvent('pointerdown', at(track.top + 2)));
  const before = {...stats()}, start = performance.now();
  let ticks = 0, phase = 0;
  await new Promise((done) => {
    const tick = (now) => {
      if (now - start > seconds * 1000) return done();
      ticks += 1;
      for (let k = 0; k < 2; k++) {
        phase += 0.05;
        const y = track.top + track.height * (0.5 + 0.45 * Math.sin(phase));
        col.dispatchEvent(new PointerEvent('pointermove', at(y)));
      }
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
  const elapsed = (performance.now() - start) / 1000;
  col.dispatchEvent(new PointerEvent('pointerup', at(track.top + 2)));
  const frames = stats().frames - before.frames, ms = (stats().ms - before.ms) / Math.max(frames, 1);
  const code = data.code.slice();
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < 1000) { code[0] = Math.sin(n); decoder.decode(code); n += 1; }
  return {frames, elapsed, ticks, ms, capacity: n / ((performance.now() - t0) / 1000)};
}"""


def architectures() -> list[tuple[str, object]]:
    """(label, model): one zoo checkpoint per decoder architecture, then a colour conv decoder."""
    import torch
    from test_webdecoder import zoo_by_architecture

    from aeviz import checkpoints
    from aeviz.models import build_model

    found = [(info.name, checkpoints.load_checkpoint(info.path)) for info in zoo_by_architecture().values()]
    torch.manual_seed(0)
    colour = build_model("conv", input_shape=(3, 32, 32), bottleneck=64, channels=(32, 64, 128)).eval()
    return [*found, ("colour conv 3x32x32 q64 (32,64,128), random weights", colour)]


def playground_data(model, key: str) -> dict:
    from aeviz.views import decoding

    q = model.bottleneck
    rng = np.random.default_rng(0)
    codes = rng.normal(size=(256, q)).astype(np.float32) * 3
    spec = decoding.playground_data(codes[0], codes.var(axis=0), "σ", codes)
    shape = list(model.config.input_shape)
    return {"view": "playground", "key": key, "shape": shape, "title": "", "caption": "", "origin": key, **spec}


def kernel_part(browser, seconds: float, only: str = "") -> None:
    from kit import load_kit

    from aeviz import webdecoder

    page = browser.new_page(viewport={"width": 1280, "height": 720})
    load_kit(page)
    print(
        f"{'architecture (one zoo checkpoint each)':58s} {'weights':>8s} {'fps drag':>8s} {'ms/frame':>8s} "
        f"{'capacity':>9s}"
    )
    for i, (label, model) in enumerate(architectures()):
        if only not in label:
            continue
        blob = webdecoder.export(model).to_bytes(f"bench{i}")
        args = {
            "blob": base64.b64encode(blob).decode(),
            "data": playground_data(model, f"bench{i}"),
            "seconds": seconds,
        }
        r = page.evaluate(DRAG, args)
        fps = r["frames"] / r["elapsed"]
        print(
            f"{label:58s} {len(blob) / 1e3:7.0f}k {fps:8.1f} {r['ms']:8.2f} {r['capacity']:8.0f}/s"
            f"   ({r['ticks'] / r['elapsed']:.0f} animation frames/s)"
        )
    page.close()


def bytes_part(browser, url: str) -> None:
    """Websocket bytes a new visitor's Home receives, and a rerun (the next test image) after it."""
    from browser import open_deep_link, wait_idle
    from kit import record_websocket

    from aeviz import checkpoints, webdecoder

    name = "mnist-dense-h256x128-q16-bce"
    info = next(c for c in checkpoints.list_checkpoints([checkpoints.zoo_dir()]) if c.name == name)
    weights = len(webdecoder.export(checkpoints.load_checkpoint(info.path)).to_bytes(str(info.metadata["hash"])))
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    frames = record_websocket(page)
    open_deep_link(page, url, "", f"dataset=mnist&home_model={name}&home_idx=0")
    page.wait_for_function("() => (window.__aevizDecodes || {})['home_play']")
    first = sum(frames["received"])
    mark = len(frames["received"])
    page.locator(".st-key-w_home_idx input[type=range]").focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => location.search.includes('home_idx=1')")
    wait_idle(page)
    rerun = sum(frames["received"][mark:])
    print(
        f"\nHome with {name}: its decoder's weights {weights / 1e3:,.0f} kB; the websocket brought "
        f"{first / 1e3:,.0f} kB on the first visit (two page runs), {rerun / 1e3:,.0f} kB on a rerun"
    )
    page.close()


def app_part(browser, seconds: float) -> None:
    from browser import open_deep_link, serve_app, wait_idle

    with tempfile.TemporaryDirectory() as home, serve_app(Path(home)) as url:
        bytes_part(browser, url)
        print(f"\n{'the app, dragged with the real mouse (CDP)':58s} {'fps':>8s} {'ms/frame':>8s} {'runs':>5s}")
        for path, query, key, tab in (
            ("", "dataset=mnist&home_model=mnist-dense-h256x128-q16-bce", "home_play", None),
            ("", "dataset=mnist&home_model=mnist-conv-q32-bce", "home_play", None),
            ("vae", "dataset=mnist&vae_model=mnist-vae-conv-q16-bce", "vae_play", "Drag the code"),
        ):
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            open_deep_link(page, url, path, query)
            if tab:
                page.get_by_role("tab", name=tab).click()
            play = page.locator(f".st-key-{key}")
            play.locator(".col").first.wait_for()
            play.scroll_into_view_if_needed()
            page.wait_for_function(f"() => (window.__aevizDecodes || {{}})['{key}']")
            wait_idle(page)
            page.evaluate("""() => { window.__runs = 0; const app = document.querySelector('[data-test-script-state]');
                new MutationObserver(() => { window.__runs += 1; }).observe(app, {attributes: true}); }""")
            track = play.locator(".col").first.locator(".track").bounding_box()
            x, top, height = track["x"] + track["width"] / 2, track["y"], track["height"]
            before = page.evaluate(f"() => ({{...window.__aevizDecodes['{key}']}})")
            page.mouse.move(x, top + 2)
            page.mouse.down()
            start, i = time.perf_counter(), 0
            while time.perf_counter() - start < seconds:
                page.mouse.move(x, top + height * (0.5 + 0.45 * np.sin(0.3 * i)))
                i += 1
            elapsed = time.perf_counter() - start
            page.mouse.up()
            after = page.evaluate(f"() => ({{...window.__aevizDecodes['{key}'], runs: window.__runs}})")
            frames = after["frames"] - before["frames"]
            ms = (after["ms"] - before["ms"]) / max(frames, 1)
            label = f"{path or 'home'} · {json.dumps(query.split('&')[1].split('=')[1])}"
            print(
                f"{label:58s} {frames / elapsed:8.1f} {ms:8.2f} {after['runs']:5d}   ({i / elapsed:.0f} mouse moves/s)"
            )
            page.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each scripted drag")
    parser.add_argument("--app", action="store_true", help="also drag the playgrounds of a running app")
    parser.add_argument("--only", default="", help="only the architectures whose label holds this text")
    args = parser.parse_args()
    from browser import CHROMIUM, CHROMIUM_ARGS
    from playwright.sync_api import sync_playwright

    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())} on {os.cpu_count()} cores")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        kernel_part(browser, args.seconds, args.only)
        if args.app:
            app_part(browser, args.seconds)
        browser.close()
    print(f"load average after:  {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
