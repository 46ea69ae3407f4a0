"""Your images with many models: the first upload and a rerun, each model count in a fresh server process.

The models are copies of the zoo's checkpoints of `--dataset` under new names (each with its shipped test-set
errors), so 27, 54 and 108 models cost what as many trained models would. AppTest drives the page as a browser
would. On a colour dataset the upload is a photograph (a test image enlarged to 480x360 and saved as JPEG) taken
through the page's own preprocessing; `--counts 0` keeps the zoo as it is (CIFAR-10: its 5 models).

    python benchmarks/upload_models.py --counts 27 54 108
    python benchmarks/upload_models.py --dataset cifar10 --counts 0
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


def fill_zoo(folder: Path, count: int, dataset: str) -> None:
    """`count` checkpoints of `dataset` in `folder`, cycling through the zoo's with a copy number in each name
    (0: the zoo's own, once each)."""
    sources = sorted((ROOT / "checkpoints").glob(f"{dataset}-*.safetensors"))
    for i in range(count or len(sources)):
        stem = sources[i % len(sources)].name.removesuffix(".safetensors")
        for suffix in (".safetensors", ".errors.npz", ".maps.npz"):
            source = ROOT / "checkpoints" / f"{stem}{suffix}"
            if source.exists():
                copy = f"-copy{i // len(sources)}" if count else ""
                shutil.copy(source, folder / f"{stem}{copy}{suffix}")
    if not count:
        shutil.copy(ROOT / "checkpoints" / f"{dataset}.pca.npz", folder)


def uploaded(app):
    """A test image as the page would hold it after an upload: grey as it is; colour as a JPEG photograph."""
    import io

    import numpy as np
    from PIL import Image

    from aeviz import images

    test = app.session_state["aeviz_context"].test.images[0].numpy()  # (C, H, W)
    if test.shape[0] == 1:
        return images.Preprocessed(test[0], (), False, "benchmark")
    photo = Image.fromarray((test.transpose(1, 2, 0) * 255).astype(np.uint8)).resize((480, 360))
    buffer = io.BytesIO()
    photo.save(buffer, format="JPEG", quality=90)
    return images.compact(images.preprocess(images.open_image(buffer.getvalue(), "photo.jpg"), name="photo.jpg"))


def measure_here(dataset: str) -> None:
    """In this (fresh) process: the page with no image, then one image arriving, then a rerun."""
    sys.path.insert(0, str(ROOT))
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
    app.query_params["dataset"] = dataset
    app.switch_page("pages/your_images.py")
    app.run()
    app.session_state["aeviz_user_images"] = [uploaded(app)]
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
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    if args.one:
        measure_here(args.dataset)
        return
    for count in args.counts:
        with tempfile.TemporaryDirectory() as zoo, tempfile.TemporaryDirectory() as home:
            fill_zoo(Path(zoo), count, args.dataset)
            env = {**os.environ, "AEVIZ_ZOO_DIR": zoo, "AEVIZ_HOME": home, "AEVIZ_CACHE_DIR": f"{home}/cache"}
            subprocess.run([sys.executable, __file__, "--one", "--dataset", args.dataset], env=env, check=True)


if __name__ == "__main__":
    main()
