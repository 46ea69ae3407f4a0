"""Your images with many models: the first upload and a rerun, each model count in a fresh server process.

The models are copies of the zoo's MNIST checkpoints under new names (each with its shipped test-set errors),
so 27, 54 and 108 models cost what as many trained models would. AppTest drives the page as a browser would.

    python benchmarks/upload_models.py --counts 27 54 108
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def fill_zoo(folder: Path, count: int) -> None:
    """`count` MNIST checkpoints in `folder`, cycling through the zoo's with a copy number in each name."""
    sources = sorted((ROOT / "checkpoints").glob("mnist-*.safetensors"))
    for i in range(count):
        stem = sources[i % len(sources)].name.removesuffix(".safetensors")
        for suffix in (".safetensors", ".errors.npz", ".maps.npz"):
            source = ROOT / "checkpoints" / f"{stem}{suffix}"
            if source.exists():
                shutil.copy(source, folder / f"{stem}-copy{i // len(sources)}{suffix}")


def measure_here(count: int) -> None:
    """In this (fresh) process: the page with no image, then one image arriving, then a rerun."""
    sys.path.insert(0, str(ROOT))
    from streamlit.testing.v1 import AppTest

    from aeviz import images

    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
    app.query_params["dataset"] = "mnist"
    app.switch_page("pages/your_images.py")
    app.run()
    picture = app.session_state["aeviz_context"].test.images[0, 0].numpy()  # a test image, (H, W)
    app.session_state["aeviz_user_images"] = [images.Preprocessed(picture, (), False, "benchmark")]
    start = time.perf_counter()
    app.run()
    first = time.perf_counter() - start
    if app.exception:
        raise SystemExit(f"the page failed: {app.exception[0].message}")
    start = time.perf_counter()
    app.run()
    rerun = time.perf_counter() - start
    shown = len(app.session_state["aeviz_context"].models)
    print(f"{shown:4d} models  first upload {first:6.2f} s  rerun {rerun:5.2f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[27, 54, 108])
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # the child process's model count
    args = parser.parse_args()
    if args.one:
        measure_here(args.one)
        return
    for count in args.counts:
        with tempfile.TemporaryDirectory() as zoo, tempfile.TemporaryDirectory() as home:
            fill_zoo(Path(zoo), count)
            env = {**os.environ, "AEVIZ_ZOO_DIR": zoo, "AEVIZ_HOME": home, "AEVIZ_CACHE_DIR": f"{home}/cache"}
            subprocess.run([sys.executable, __file__, "--one", str(count)], env=env, check=True)


if __name__ == "__main__":
    main()
