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
