"""Why the browser kit runs decoders with its own kernel: time per decode against TensorFlow.js (CPU and WASM
backends) in the same headless Chromium page, and what each costs a visitor to download.

TensorFlow.js is fetched from the npm registry into a scratch folder (~/.cache/aeviz/bench-runtimes; nothing of it
is part of aeviz) and bundled with esbuild; the same layer list (aeviz.webdecoder) is built from tf ops: linear as
matMul, a transposed convolution as conv2dTranspose ('valid', then cropped as torch pads). onnxruntime-web is not
measured: its WASM runtime alone is over 10 MB (the npm package's ort-wasm-simd-threaded.wasm) for decoders of 1-10
M multiply-adds, and it needs an ONNX export (the onnx package) this project does not otherwise use.

    PYTHONPATH=. python benchmarks/decoder_runtimes.py
"""

from __future__ import annotations

import base64
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests"), str(REPO / "tests" / "e2e")]
SCRATCH = Path.home() / ".cache" / "aeviz" / "bench-runtimes"
TFJS = "4.22.0"
BACKENDS = ("kit", "cpu", "wasm")
ROUNDS, SECONDS = 5, 0.4

ENTRY = """
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
window.tf = tf;
window.setWasmPaths = setWasmPaths;
window.buildTf = (spec, t) => {
  // weights as tf tensors once; a decode runs the ops in NHWC and returns C*H*W values like the kit
  const ops = [];
  let shape = [spec.code_size];
  for (const L of spec.layers) {
    const inShape = shape;
    shape = L.shape;
    if (L.op === "linear") {
      const w = tf.transpose(tf.tensor2d(t[L.weight], [L.shape[0], inShape[0]]));
      const b = L.bias ? tf.tensor1d(t[L.bias]) : null;
      ops.push((x) => (b ? tf.add(tf.matMul(x, w), b) : tf.matMul(x, w)));
    } else if (L.op === "relu") ops.push((x) => tf.relu(x));
    else if (L.op === "sigmoid") ops.push((x) => tf.sigmoid(x));
    else if (L.op === "reshape") {
      if (L.shape.length === 3) ops.push((x) => tf.transpose(tf.reshape(x, [1, ...L.shape]), [0, 2, 3, 1]));
      else ops.push((x) => tf.reshape(x, [1, L.shape[0]]));
    } else if (L.op === "conv_transpose2d") {
      const [cin, h, w] = inShape, [cout, oh, ow] = L.shape, [kh, kw] = L.kernel, [s] = L.stride, [p] = L.padding;
      const filter = tf.transpose(tf.tensor4d(t[L.weight], [cin, cout, kh, kw]), [2, 3, 1, 0]);
      const b = L.bias ? tf.tensor1d(t[L.bias]) : null;
      const full = [1, (h - 1) * s + kh, (w - 1) * s + kw, cout];
      ops.push((x) => {
        const y = tf.slice(tf.conv2dTranspose(x, filter, full, s, "valid"), [0, p, p, 0], [1, oh, ow, cout]);
        return b ? tf.add(y, b) : y;
      });
    } else throw new Error("no " + L.op);
  }
  const chw = shape.length === 3;
  return (code) => tf.tidy(() => {
    let x = tf.tensor2d(code, [1, code.length]);
    for (const op of ops) x = op(x);
    return (chw ? tf.transpose(x, [0, 3, 1, 2]) : x).dataSync();
  });
};
"""

TIME = """async ({blob, backend, seconds}) => {  // ms per decode over `seconds` of decoding, and max |run - kit|
  const bytes = Uint8Array.from(atob(blob), (c) => c.charCodeAt(0));
  const kit = new window.kit.Decoder(bytes);
  let run = (code) => kit.decode(code);
  if (backend !== "kit") {
    await window.tf.setBackend(backend);
    await window.tf.ready();
    run = window.buildTf(kit.spec, kit.tensors);
  }
  const code = Array.from({length: kit.codeSize}, (_, i) => Math.sin(i));
  const reference = Array.from(kit.decode(code));
  const got = run(code);
  const diff = Math.max(...reference.map((v, i) => Math.abs(v - got[i])));
  for (let i = 0; i < 20; i++) { code[0] = i; run(code); }
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < seconds * 1000) { code[0] = Math.sin(n); run(code); n += 1; }
  return {ms: (performance.now() - start) / n, diff};
}"""


def build_tfjs() -> Path:
    """tfjs-core, its CPU and WASM backends and esbuild in SCRATCH, bundled into SCRATCH/tf.js."""
    SCRATCH.mkdir(parents=True, exist_ok=True)
    deps = {f"@tensorflow/{p}": TFJS for p in ("tfjs-core", "tfjs-backend-cpu", "tfjs-backend-wasm")}
    package = {"name": "bench-runtimes", "private": True, "dependencies": deps | {"esbuild": "0.28.2"}}
    (SCRATCH / "package.json").write_text(json.dumps(package))
    (SCRATCH / "entry.js").write_text(ENTRY)
    if not (SCRATCH / "node_modules" / "@tensorflow" / "tfjs-backend-wasm").exists():
        subprocess.run(["npm", "install", "--no-audit", "--no-fund"], cwd=SCRATCH, check=True)
    esbuild = SCRATCH / "node_modules" / ".bin" / "esbuild"
    args = ["entry.js", "--bundle", "--minify", "--format=iife", "--outfile=tf.js"]
    subprocess.run([str(esbuild), *args], cwd=SCRATCH, check=True, capture_output=True)
    return SCRATCH / "tf.js"


def main() -> None:
    from browser import CHROMIUM, CHROMIUM_ARGS
    from kit import BUNDLE
    from playwright.sync_api import sync_playwright

    from aeviz import checkpoints, webdecoder
    from aeviz.models import build_model

    tf_bundle = build_tfjs()
    wasm_dir = SCRATCH / "node_modules" / "@tensorflow" / "tfjs-backend-wasm" / "dist"
    wasm = sorted(wasm_dir.glob("*.wasm"))
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())} on {os.cpu_count()} cores")
    print(
        f"download: aeviz kit {BUNDLE.stat().st_size / 1e3:.0f} kB; tfjs core+cpu+wasm JS "
        f"{tf_bundle.stat().st_size / 1e3:.0f} kB plus its WASM "
        + ", ".join(f"{p.name} {p.stat().st_size / 1e3:.0f} kB" for p in wasm)
    )
    models = {}
    for name in ("fashion-mnist-dense-h256x128-q16-bce", "fashion-mnist-conv-q32-bce", "mnist-dense-q16-bce"):
        info = next(c for c in checkpoints.list_checkpoints([checkpoints.zoo_dir()]) if c.name == name)
        models[name] = checkpoints.load_checkpoint(info.path)
    models["colour conv 3x32x32 q64 (32,64,128)"] = build_model(
        "conv", input_shape=(3, 32, 32), bottleneck=64, channels=(32, 64, 128)
    ).eval()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page()
        files = {"/index.html": b"<html><body></body></html>", "/tf.js": tf_bundle.read_bytes()}
        files |= {f"/{p.name}": p.read_bytes() for p in wasm}
        kinds = {".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm"}
        page.route(
            "http://bench.local/**",
            lambda route: route.fulfill(
                body=files[route.request.url.removeprefix("http://bench.local")],
                content_type=kinds[Path(route.request.url).suffix],
            ),
        )
        page.goto("http://bench.local/index.html")
        page.add_script_tag(url="http://bench.local/tf.js")
        page.evaluate(
            "(src) => import(URL.createObjectURL(new Blob([src], {type: 'text/javascript'})))"
            ".then((m) => { window.kit = m; })",
            BUNDLE.read_text(),
        )
        page.evaluate("() => window.setWasmPaths('http://bench.local/')")
        print(f"median ms per decode over {ROUNDS} interleaved rounds of {SECONDS} s each")
        print(f"{'decoder':42s} {'kit ms':>8s} {'tf cpu ms':>10s} {'tf wasm ms':>11s} {'max |tf - kit|':>15s}")
        for name, model in models.items():
            blob = base64.b64encode(webdecoder.export(model).to_bytes()).decode()
            times: dict[str, list[float]] = {b: [] for b in BACKENDS}
            diff = 0.0
            for _ in range(ROUNDS):
                for backend in BACKENDS:
                    r = page.evaluate(TIME, {"blob": blob, "backend": backend, "seconds": SECONDS})
                    times[backend].append(r["ms"])
                    diff = max(diff, r["diff"])
            kit, cpu, wasm = (statistics.median(times[b]) for b in BACKENDS)
            print(f"{name:42s} {kit:8.3f} {cpu:10.3f} {wasm:11.3f} {diff:15.2e}")
        browser.close()
    print(f"load average after:  {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
