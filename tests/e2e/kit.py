"""The browser kit (aeviz/ui/components/frontend/bundle/kit.js) loaded into a blank Chromium page, for tests and
benchmarks that need its kernel without a Streamlit server."""

from __future__ import annotations

import base64

import numpy as np
from browser import REPO

BUNDLE = REPO / "aeviz" / "ui" / "components" / "frontend" / "bundle" / "kit.js"


def load_kit(page) -> None:
    """Import the bundle as an ES module into `page` (a blank one is fine) as window.kit."""
    page.goto("about:blank")
    page.evaluate(
        """async (source) => {
            const url = URL.createObjectURL(new Blob([source], {type: 'text/javascript'}));
            window.kit = await import(url);
        }""",
        BUNDLE.read_text(),
    )


def browser_decode(page, blob: bytes, codes: np.ndarray) -> np.ndarray:
    """Decode each row of `codes` (N,q) with the browser's kernel from the weights `blob`: (N, C*H*W) float32."""
    flat = page.evaluate(
        """([b64, codes]) => {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const decoder = new window.kit.Decoder(bytes);
            return codes.map((code) => Array.from(decoder.decode(code)));
        }""",
        [base64.b64encode(blob).decode(), np.asarray(codes, dtype=np.float64).tolist()],
    )
    return np.asarray(flat, dtype=np.float32)


def canvas_pixels(canvas) -> np.ndarray:
    """A canvas element's pixels (a Playwright locator, shadow DOM allowed): (H, W, 3) uint8."""
    data = canvas.evaluate(
        """(c) => ({w: c.width, h: c.height,
                    px: Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)})"""
    )
    return np.asarray(data["px"], dtype=np.uint8).reshape(data["h"], data["w"], 4)[..., :3]


def server_pixels(decoded: np.ndarray) -> np.ndarray:
    """A decoded image (C,H,W) in [0,1] as the kit paints it: (H, W, 3) uint8, grey copied to three channels."""
    image = np.round(255 * np.clip(decoded, 0, 1)).astype(np.uint8)
    return np.moveaxis(np.repeat(image, 3, axis=0) if image.shape[0] == 1 else image[:3], 0, -1)


def record_websocket(page) -> dict[str, list[int]]:
    """Sizes of every websocket frame the page sends and receives from now on (attach before opening a page)."""
    frames: dict[str, list[int]] = {"sent": [], "received": []}

    def attach(ws) -> None:
        ws.on("framesent", lambda payload: frames["sent"].append(len(payload)))
        ws.on("framereceived", lambda payload: frames["received"].append(len(payload)))

    page.on("websocket", attach)
    return frames
