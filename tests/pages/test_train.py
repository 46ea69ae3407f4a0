"""The Train page under AppTest: a tiny real job from the form to a model every page can pick."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
from apptest import run_page
from test_jobs_training import wait_for
from trainpage import by_label, finished, in_url, job_in_url, no_jobs_left, submit  # noqa: F401 - a fixture

from aeviz import ui
from aeviz.checkpoints import read_metadata, sessions_dir, user_dir
from aeviz.data import DATASETS
from aeviz.jobs import State
from aeviz.jobs.timing import Rates
from aeviz.ui.warm import throughput
from aeviz.views import codemap

PAGE = "pages/train.py"


RATES = Rates(step_fixed_s=0.01, step_image_s=1e-4, infer_image_s=1e-5, knn_unit_s=1e-3, save_s=0.2, probe_s=1.0)
STARTUP = {"starting": 3.0, "loading data": 0.5, "warmup": 1.5, "train_images": 1437, "test_images": 360}


@pytest.mark.estimates
def test_the_page_never_waits_for_the_training_speed_probe(monkeypatch):
    """The probe runs on a thread of its own: the page says it is timing, and shows the estimate once known."""
    import threading

    from aeviz.jobs import setup

    release, probed_on = threading.Event(), []

    def slow_probe(family, config):
        probed_on.append(threading.current_thread().name)
        release.wait(30)  # much longer than a page run may take
        return RATES

    monkeypatch.setattr(setup, "rates_of", slow_probe)
    monkeypatch.setattr(setup, "measure_startup", lambda dataset, subset, threads=1: STARTUP)
    throughput.clear()  # a probe of its own, not the process's shared one
    try:
        at = run_page(PAGE, {"dataset": "digits", "train_family": "conv"})
        assert not at.exception and any("Timing a training process" in c.value for c in at.caption)
        assert by_label(at.button, "Start training")  # the form is there while it times
        wait_for(lambda: probed_on, timeout=10)  # a loaded machine starts the probe's thread late
        assert not release.is_set() and probed_on == ["aeviz-throughput"]  # not the script's thread
        release.set()
        assert throughput().wait(("rates", "conv", probed_config(at)), timeout=10) == RATES
        at.run()
        said = next(c.value for c in at.caption if c.value.startswith("Measured on this server"))
        assert "to start" in said and "to evaluate on 360 test images" in said and "to save" in said
    finally:
        release.set()
        throughput.clear()


def probed_config(at):
    from aeviz.jobs.setup import Throughput

    asked = [key for key in throughput()._asked if key[0] == "rates"]
    assert len(asked) == 1 and isinstance(throughput(), Throughput)
    return asked[0][2]


@pytest.mark.estimates
@pytest.mark.slow
def test_a_tiny_job_trains_and_its_model_shows_up_on_this_sessions_pages_only():
    at = run_page(PAGE, {"dataset": "digits"})
    measured = lambda: any(c.value.startswith("Measured on this server") for c in at.run().caption)
    assert not at.exception and wait_for(measured, timeout=180, every=1.0)  # the time estimate before starting
    at = submit(at, epochs=3, q=8, name="apptest-digits")
    assert not at.exception and not at.error
    job_id, token = job_in_url(at), in_url(at, "ws")
    assert by_label(at.button, "Cancel")  # the live panel replaced the form
    snap = wait_for(lambda: finished(job_id))
    assert snap.state == State.DONE and (sessions_dir() / token / "apptest-digits.safetensors").is_file()
    assert not (user_dir() / "apptest-digits.safetensors").exists()  # not in the server's shared folder
    at.run()
    assert not at.exception and "Saved **apptest-digits**" in at.success[0].value
    assert "apptest-digits" not in [m.name for m in ui.list_models("digits")]
    at.switch_page("pages/home.py")
    mine = at.run()  # the same session, another page: listed, marked as its own
    assert not mine.exception and "apptest-digits · yours" in by_label(mine.selectbox, "Model").options
    other = run_page("pages/home.py", {"dataset": "digits"})  # anyone else: never listed
    assert not other.exception and not [o for o in by_label(other.selectbox, "Model").options if "apptest" in o]
    shared = run_page("pages/home.py", {"dataset": "digits", "ws": token})  # whoever opens its share link
    assert "apptest-digits · shared" in by_label(shared.selectbox, "Model").options  # sees it, not as theirs


@pytest.mark.slow
def test_cancel_from_the_page_saves_nothing():
    at = submit(run_page(PAGE, {"dataset": "digits"}), epochs=100, batch=16)
    job_id = job_in_url(at)
    wait_for(lambda: ui.job_manager().snapshot(job_id).steps)
    by_label(at.button, "Cancel").click().run()
    snap = wait_for(lambda: finished(job_id))
    assert snap.state == State.CANCELLED and not (user_dir().exists() and any(user_dir().iterdir()))
    at.run()
    assert not at.exception and at.warning[0].value.startswith("Cancelled")
    assert by_label(at.button, "Start training")  # the form is back


@pytest.mark.slow
def test_the_tabs_of_one_browser_share_one_job_and_any_of_them_may_cancel_it(browsers):
    """Issue 26: 6 tabs of one browser had 6 jobs accepted (the limit was per session)."""
    browsers.use("laptop")
    first = submit(run_page(PAGE, {"dataset": "digits"}), epochs=100, batch=16, name="tab-one")
    job_id = job_in_url(first)
    second = run_page(PAGE, {"dataset": "digits"})  # another tab of the same browser
    assert any("1 job(s) running or waiting" in c.value for c in second.main.caption)  # says what is limited
    second = submit(second, epochs=1, name="tab-two")
    assert "already has 1 training job, in this tab or another" in second.error[0].value
    assert "train_job" not in second.query_params and [j.id for j in ui.job_manager().jobs() if j.active] == [job_id]
    by_label(second.button, "Show this browser's job here").click().run()
    assert job_in_url(second) == job_id
    by_label(second.button, "Cancel").click().run()  # this tab did not start it, but it is the same browser's
    assert wait_for(lambda: finished(job_id)).state == State.CANCELLED
    browsers.use("neighbour")
    other = submit(run_page(PAGE, {"dataset": "digits"}), epochs=1, name="neighbours")
    assert not other.error and job_in_url(other) != job_id


@pytest.mark.slow
def test_a_full_disk_when_the_model_is_saved_says_so_once_and_lists_no_model(monkeypatch):
    """Issue 26: the checkpoint was written, the replay failed: "Training failed" beside a listed model."""
    from fakes import full_disk_for

    at = run_page(PAGE, {"dataset": "digits"})
    before = next(c.value for c in at.sidebar.caption if " models" in c.value)
    full_disk_for(monkeypatch, ".replay.npz")
    at = submit(at, epochs=1, name="never-saved")
    assert wait_for(lambda: finished(job_in_url(at))).state == State.FAILED
    at.run()
    assert [e.value for e in at.error] == [
        "Saving failed: the model was trained, but could not be saved (the server's disk is full), so nothing "
        "was kept. Try again later."
    ]
    assert not at.success and next(c.value for c in at.sidebar.caption if " models" in c.value) == before
    assert not any(sessions_dir().rglob("never-saved*"))


def test_a_bad_model_name_is_refused_before_any_job_starts():
    before = len(ui.job_manager().jobs())
    at = submit(run_page(PAGE, {"dataset": "digits"}), name="../../etc/passwd")
    assert not at.exception and "not a usable model name" in at.error[0].value
    assert "train_job" not in at.query_params and len(ui.job_manager().jobs()) == before


def test_the_vae_form_says_what_beta_means_with_mse():
    at = run_page(PAGE, {"dataset": "digits", "train_family": "vae"})
    note = next(c.value for c in at.caption if "Gaussian decoder" in c.value)
    assert "σ² = β/2" in note and "11.9 nats" in note and "23.3 nats" in note
    dense = run_page(PAGE, {"dataset": "digits", "train_family": "dense"})
    assert not any("Gaussian decoder" in c.value for c in dense.caption)


@pytest.mark.slow
def test_a_folder_without_images_fails_with_the_reason_on_the_page(tmp_path, monkeypatch):
    monkeypatch.setenv("AEVIZ_TRAIN_FOLDERS", str(tmp_path))
    (tmp_path / "empty").mkdir()
    at = run_page(PAGE, {"dataset": "digits", "train_data": "a folder on this server"})
    at = submit(at, folder=str(tmp_path / "empty"))
    job_id = job_in_url(at)
    assert wait_for(lambda: finished(job_id)).state == State.FAILED
    at.run()
    assert not at.exception and "Training failed: No images found in" in at.error[0].value
    outside = submit(run_page(PAGE, {"dataset": "digits", "train_data": "a folder on this server"}), folder="/etc")
    assert "outside the folders this server trains on" in outside.error[0].value


@pytest.mark.slow
@pytest.mark.parametrize(("fmt", "tag", "shape"), [("grey28", "", [1, 28, 28]), ("rgb32", "@rgb32", [3, 32, 32])])
def test_a_model_of_an_image_folder_brings_its_folder_to_every_page(tmp_path, monkeypatch, fmt, tag, shape):
    from PIL import Image

    from aeviz.data import load_dataset

    digits = load_dataset("digits", "test")
    for i in range(60):  # two classes of real pictures, one sub-folder each
        label = int(digits.labels[i]) % 2
        (tmp_path / f"class{label}").mkdir(exist_ok=True)
        Image.fromarray((digits.images[i, 0].numpy() * 255).astype("uint8")).save(tmp_path / f"class{label}/{i}.png")
    monkeypatch.setenv("AEVIZ_TRAIN_FOLDERS", str(tmp_path))
    at = run_page(PAGE, {"dataset": "digits", "train_data": "a folder on this server", "train_format": fmt})
    at = submit(at, folder=str(tmp_path), epochs=2, name="my-folder-model")
    assert wait_for(lambda: finished(job_in_url(at))).state == State.DONE
    saved = read_metadata(next(sessions_dir().rglob("my-folder-model.safetensors")))
    assert saved["dataset"] == f"folder{tag}:{tmp_path}" and saved["input_shape"] == shape
    at.query_params["dataset"] = f"folder{tag}:{tmp_path}"
    at.switch_page("pages/home.py")
    home = at.run()
    assert not home.exception and by_label(home.selectbox, "Model").options == ["my-folder-model · yours"]
    # another visitor, even with a link naming the folder, sees neither the folder nor its model
    other = run_page("pages/home.py", {"dataset": f"folder:{tmp_path}"})
    assert not other.exception and f"folder:{tmp_path}" not in by_label(other.sidebar.selectbox, "Dataset").options
    assert all("my-folder-model" not in m for m in by_label(other.selectbox, "Model").options)


def test_no_server_folder_is_offered_unless_the_operator_names_one(monkeypatch):
    monkeypatch.delenv("AEVIZ_TRAIN_FOLDERS", raising=False)
    at = run_page(PAGE, {"dataset": "digits"})
    options = by_label(at.selectbox, "Train on").options
    assert not at.exception and "images you upload" in options and "a folder on this server" not in options
    assert DATASETS["digits"].title in options and "digits" not in options  # titles, as the sidebar names them
    assert by_label(at.radio, "Loss").value == "bce"  # a grey set's first loss


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_an_old_job_link_says_its_job_is_gone():
    at = run_page(PAGE, {"dataset": "digits", "train_job": "0123456789ab"})
    assert not at.exception and "no longer on this server" in at.info[0].value
    assert "train_job" not in at.query_params and by_label(at.button, "Start training")


@pytest.mark.slow
def test_images_a_student_uploads_train_a_model_that_only_their_session_sees():
    import io
    import zipfile

    from PIL import Image

    from aeviz.data import load_dataset

    digits, buffer = load_dataset("digits", "test"), io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for i in range(40):  # a zip whose folders name the classes, as a student makes one
            picture = io.BytesIO()
            Image.fromarray((digits.images[i, 0].numpy() * 255).astype("uint8")).save(picture, format="PNG")
            archive.writestr(f"digit{int(digits.labels[i]) % 2}/{i}.png", picture.getvalue())
        archive.writestr("notes/readme.png", b"a text file in disguise")
    at = run_page(PAGE, {"dataset": "digits", "train_data": "images you upload"})
    assert not at.exception and "Upload at least ten images" in at.info[0].value
    at.file_uploader[0].set_value([("digits.zip", buffer.getvalue(), "application/zip")])
    at.run()
    caption = at.caption[0].value  # the file name markdown-escaped (literal): digits\\.zip
    assert not at.exception and "**40** images from digits\\.zip in 2 classes (digit0, digit1)" in caption
    assert "readme" in at.warning[0].value and "not an image" in at.warning[0].value
    at = submit(at, epochs=2, name="my-uploaded-model")
    assert wait_for(lambda: finished(job_in_url(at))).state == State.DONE
    at.run()  # as the page's live view does once the job ends: the set its job decoded is now listed
    assert "digits.zip (your upload)" in by_label(at.sidebar.selectbox, "Dataset").options  # not upload:<digest>
    own = [d for d in at.session_state["aeviz_own_datasets"] if d.startswith("upload:")]
    assert len(own) == 1
    at.query_params["dataset"] = own[0]
    at.switch_page("pages/home.py")
    assert by_label(at.run().selectbox, "Model").options == ["my-uploaded-model · yours"]
    other = run_page("pages/home.py", {"dataset": own[0]})
    assert "digits.zip (your upload)" not in by_label(other.sidebar.selectbox, "Dataset").options


@pytest.fixture
def instant_probe(monkeypatch):
    """A speed probe that answers at once: a real one still timing a model when the tests end aborts Python."""
    from aeviz.jobs import setup as trainsetup

    monkeypatch.setattr(trainsetup, "rates_of", lambda family, config: RATES)
    monkeypatch.setattr(trainsetup, "measure_startup", lambda dataset, subset, threads=1: STARTUP)
    throughput.clear()  # a probe of its own, not the process's shared one
    yield
    throughput.clear()


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_the_family_choice_and_its_fields_come_from_the_family_declarations(instant_probe):
    """Every registered family is offered, with the loss, body and hyper-parameter fields it declares, each
    mode's fields only in that mode."""
    import itertools

    from aeviz.models import MODELS

    at = run_page(PAGE, {"dataset": "digits"})
    family_box = by_label(at.selectbox, "Model family")
    assert family_box.options == [cls.label for cls in MODELS.values()]
    for family, cls in MODELS.items():
        modes = [p for p in cls.hyperparams if p.kind == "choice"]
        for combo in itertools.product(*(list(m.choices) for m in modes)):
            picked = {m.field: value for m, value in zip(modes, combo, strict=True)}
            at = run_page(
                PAGE,
                {
                    "dataset": "digits",
                    "train_family": family,
                    **{f"train_{field}": value for field, value in picked.items()},
                },
            )
            labels = {w.label for w in [*at.selectbox, *at.select_slider, *at.slider, *at.radio]}
            assert not at.exception and ("Loss" in labels) == (len(cls.loss_choices) > 1)
            assert ("Body" in labels) == bool(cls.body_choices)
            assert ("Bottleneck (code size)" in labels) == (not cls.derived_bottleneck)  # a VQ-VAE's q is derived
            assert not cls.derived_bottleneck or cls.derived_bottleneck in [c.value for c in at.caption]
            for param in cls.hyperparams:
                offered = param.when is None or picked.get(param.when[0]) == param.when[1]
                assert (param.label in labels) == offered, (family, picked, param.label)
                if param.kind == "noise":
                    assert any(label.startswith("Gaussian noise: ") for label in labels)


@pytest.mark.slow  # starts a real training process (~5 s of CPU before it is cancelled)
def test_a_kl_sparse_model_is_offered_beside_l1():
    at = run_page(PAGE, {"dataset": "digits", "train_family": "sparse"})
    assert not at.exception and by_label(at.select_slider, "L1 weight")
    at = run_page(PAGE, {"dataset": "digits", "train_family": "sparse", "train_sparsity": "kl"})
    labels = [w.label for w in at.select_slider]
    assert not at.exception and "L1 weight" not in labels and {"Target rate ρ", "KL weight"} <= set(labels)
    by_label(at.select_slider, "Target rate ρ").set_value(0.1)
    at = submit(at, epochs=1, q=8)
    assert not at.exception and not at.error
    config = ui.job_manager().snapshot(job_in_url(at)).spec.config
    assert (config.sparsity, config.code_activation, config.kl_target) == ("kl", "sigmoid", 0.1)
    assert config.kl_weight == 3e-3 and config.l1 == 0


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_a_vq_vae_trains_from_the_form_its_code_size_derived_for_the_images():
    at = run_page(PAGE, {"dataset": "digits", "train_family": "vq", "train_codebook": "loss"})
    labels = [w.label for w in at.select_slider]
    assert not at.exception and "EMA decay" not in labels and "Bottleneck (code size)" not in labels
    by_label(at.select_slider, "Codebook size K").set_value(64)
    at = submit(at, epochs=1)
    assert not at.exception and not at.error, [e.value for e in at.error]
    job_id = job_in_url(at)
    config = ui.job_manager().snapshot(job_id).spec.config
    assert (config.codebook, config.codebook_size, config.code_dim) == ("loss", 64, 8)
    snap = wait_for(lambda: finished(job_id))
    assert snap.state == State.DONE, snap.message
    meta = read_metadata(snap.path)
    assert meta["family"] == "vq" and meta["config"]["bottleneck"] == 2 * 2 * 8  # 8x8 digits: a 2x2 token grid
    assert set(meta["history"][0]["diagnostics"]) == {"perplexity", "dead_codes"}


@pytest.mark.slow  # starts a real training process (~5 s of CPU before it is cancelled)
def test_a_topk_dictionary_is_started_from_the_form():
    at = run_page(PAGE, {"dataset": "digits", "train_family": "sparse", "train_sparsity": "topk"})
    by_label(at.select_slider, "Active units k").set_value(8)
    at = submit(at, epochs=1, q=1024)
    assert not at.exception and not at.error, [e.value for e in at.error]
    config = ui.job_manager().snapshot(job_in_url(at)).spec.config
    assert (config.sparsity, config.topk, config.bottleneck, config.l1) == ("topk", 8, 1024, 0.0)


def test_with_mse_the_output_layer_is_a_choice_and_the_job_trains_it():
    at = run_page(PAGE, {"dataset": "digits"})
    assert not [r for r in at.radio if r.label == "Output layer"]  # BCE needs the sigmoid: no choice to offer
    by_label(at.radio, "Loss").set_value("mse").run()
    by_label(at.radio, "Output layer").set_value("relu")
    at = submit(at, epochs=1)
    assert not at.exception and not at.error, [e.value for e in at.error]
    config = ui.job_manager().snapshot(job_in_url(at)).spec.config
    assert (config.loss, config.output) == ("mse", "relu")


def figures_of(at) -> dict[str, dict]:
    """The page's plotly figures by their layout.meta (the code map's and the replay's are named)."""
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    return {s["layout"].get("meta", ""): s for s in specs}


@pytest.mark.slow
def test_a_jobs_snapshots_carry_each_epochs_code_map_and_the_ended_job_replays_them():
    at = submit(run_page(PAGE, {"dataset": "digits"}), epochs=100, q=8, batch=16)
    job_id = job_in_url(at)
    snap = wait_for(lambda: len((s := ui.job_manager().snapshot(job_id)).maps) >= 3 and s, timeout=300)
    assert [e for e, _ in snap.maps][:3] == [0, 1, 2]  # the untrained encoder's map, then one per epoch
    assert snap.maps[-1][1].shape == (360, 2) and snap.maps[-1][1].dtype == np.float16
    assert snap.map_labels.shape == (360,) and set(snap.map_labels.tolist()) == set(range(10))
    assert not np.array_equal(snap.maps[0][1], snap.maps[2][1])  # the codes moved
    at.run()
    live = figures_of(at)[codemap.LIVE]
    assert not live.get("frames") and len(live["data"]) == 10  # one trace per class, the latest map only
    xs = [np.frombuffer(base64.b64decode(t["x"]["bdata"]), np.float32) for t in live["data"]]
    shown = np.sort(np.concatenate(xs))
    maps = ui.job_manager().snapshot(job_id).maps  # the page drew the latest map it saw, one of these
    assert any(np.array_equal(shown, np.sort(m[:, 0].astype(np.float32))) for _, m in maps)
    assert any("PCA of the 8-d codes per epoch, aligned to the previous epoch's axes" in c.value for c in at.caption)
    by_label(at.button, "Cancel").click().run()
    ended = wait_for(lambda: finished(job_id))
    at.run()
    assert not at.exception
    replay = figures_of(at)[codemap.REPLAY]
    epochs = [str(e) for e, _ in ended.maps]
    assert [f["name"] for f in replay["frames"]] == epochs and len(epochs) >= 3
    slider = replay["layout"]["sliders"][0]
    assert [s["label"] for s in slider["steps"]] == epochs and slider["active"] == len(epochs) - 1
    assert all(s["method"] == "animate" for s in slider["steps"])  # the browser swaps frames: no rerun
    words = f"360 test images, epoch 0 (untrained) to {epochs[-1]}; PCA of the 8-d codes per epoch"
    assert any(words in c.value for c in at.caption)


@pytest.mark.slow
def test_photos_uploaded_in_colour_train_a_colour_model_read_at_the_chosen_size():
    import io
    import zipfile

    from PIL import Image

    rng, buffer = np.random.default_rng(0), io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for i in range(30):  # wide photos, warm or cool: the crop keeps the middle, the colour tells the class
            warm = i % 2 == 0
            pixels = rng.integers(0, 60, (48, 96, 3), dtype=np.uint8)
            pixels[..., 0 if warm else 2] += 180
            picture = io.BytesIO()
            Image.fromarray(pixels).save(picture, format="JPEG")
            archive.writestr(f"{'warm' if warm else 'cool'}/{i}.jpg", picture.getvalue())
    at = run_page(PAGE, {"dataset": "digits", "train_data": "images you upload", "train_format": "rgb32"})
    assert by_label(at.selectbox, "Read the pictures as").value == "rgb32"
    at.file_uploader[0].set_value([("photos.zip", buffer.getvalue(), "application/zip")])
    at.run()
    assert not at.exception and "**30** images from photos\\.zip in 2 classes (cool, warm)" in at.caption[0].value
    assert by_label(at.radio, "Loss").value == "mse"  # a photograph's pixel is no probability of ink
    at = submit(at, epochs=1, name="my-colour-model")
    assert wait_for(lambda: finished(job_in_url(at))).state == State.DONE
    at.run()
    own = [d for d in at.session_state["aeviz_own_datasets"] if d.startswith("upload@rgb32:")]
    assert (
        len(own) == 1 and "photos.zip (your upload, colour, 32x32)" in by_label(at.sidebar.selectbox, "Dataset").options
    )
    saved = read_metadata(next(sessions_dir().rglob("my-colour-model.safetensors")))
    assert saved["input_shape"] == [3, 32, 32] and saved["dataset"] == own[0]
    at.query_params["dataset"] = own[0]
    at.switch_page("pages/reconstructions.py")
    at.run()
    assert not at.exception and at.session_state["aeviz_own_datasets"] == own
