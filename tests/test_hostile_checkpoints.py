"""Hostile or damaged checkpoint headers: each is skipped with a message, never breaks the listing, the CLI or a
page, and never makes the server allocate what a header merely claims."""

from __future__ import annotations

import json
import resource
import shutil
from pathlib import Path

import pytest
import streamlit as st
from apptest import routed_pages, run_page
from safetensors.torch import load_file, save

from aeviz import checkpoints, headers
from aeviz.checkpoints import CheckpointError, CheckpointInfo, load_checkpoint, read_metadata, save_checkpoint
from aeviz.checkpoints import scan_checkpoints as scan
from aeviz.cli import main as cli
from aeviz.models import build_model

REPO = Path(__file__).resolve().parent.parent
ZOO = REPO / "checkpoints"
RUNNING = "digits-dense-q16-bce"  # the model Home opens on for digits


def tiny():
    return build_model("dense", bottleneck=3, input_shape=(1, 8, 8))


def write_good(path: Path) -> Path:
    return save_checkpoint(
        path,
        tiny(),
        {
            "dataset": "digits",
            "slug": "dense-q3-bce",
            "series": "dense-bce",
            "metrics": {"mse": 0.1, "knn7": 0.5},
            "training": {"epochs": 1},
        },
    )


def rewrite(source: Path, target: Path, text: str) -> Path:
    """`source`'s weights (so its hash stays right) under another aeviz metadata text."""
    target.write_bytes(save(load_file(str(source)), metadata={"aeviz": text}))
    return target


def edited(**changes):
    """A variant: the good metadata with top-level fields set (None: removed)."""

    def make(meta):
        meta.update(changes)
        return {k: v for k, v in meta.items() if v is not None}

    return make


def config(**changes):
    def make(meta):
        meta["config"] = {k: v for k, v in {**meta["config"], **changes}.items() if v is not None}
        return meta

    return make


VARIANTS = {
    "list": lambda meta: [1, 2],
    "string": lambda meta: "an aeviz checkpoint",
    "null": lambda meta: None,
    "deep": "[" * 100_000 + "]" * 100_000,  # json raises RecursionError
    "not json": "{nope",
    "huge integer": '{"format": ' + "9" * 5000 + "}",  # over Python's digit limit for int()
    "no config": edited(config=None),
    "config list": edited(config=[3]),
    "config text": edited(config="q3"),
    "no bottleneck": config(bottleneck=None),
    "bottleneck text": config(bottleneck="sixteen"),
    "bottleneck fraction": config(bottleneck=2.5),
    "bottleneck true": config(bottleneck=True),
    "bottleneck negative": config(bottleneck=-4),
    "unknown config field": config(depth=3),
    "input_shape text": config(input_shape="8x8"),
    "input_shape two sides": config(input_shape=[8, 8]),
    "hidden text": config(hidden="wide"),
    "hidden of 100 layers": config(hidden=[4] * 100),
    "loss unknown": config(loss="l7"),
    "noise a number": lambda meta: {**meta, "family": "denoising", "config": {**meta["config"], "noise": 5}},
    "family unknown": edited(family="transformer"),
    "family a list": edited(family=["dense"]),
    "format other": edited(format="aeviz-checkpoint/99"),
    "dataset a number": edited(dataset=7),
    "dataset a list": edited(dataset=["digits"]),
    "dataset a megabyte": edited(dataset="folder:" + "a" * 10_000),
    "series a number": edited(series=3),
    "series a list": edited(series=["dense"]),
    "slug a number": edited(slug=3, series=None),
    "metrics a list": edited(metrics=[0.1]),
    "metric text": edited(metrics={"mse": "low"}),
    "metric null": edited(metrics={"mse": None}),
    "training a list": edited(training=[30]),
    "device a number": edited(device=0),
    "classes numbers": edited(classes=[0, 1]),
    "meta input_shape text": edited(input_shape="8x8"),
    "no hash": edited(hash=None),
    "hash a number": edited(hash=12),
}


def make_variant(folder: Path, label: str, good: Path) -> Path:
    """The hostile variant `label` of the checkpoint `good`, as a file in `folder`."""
    variant = VARIANTS[label]
    text = variant if isinstance(variant, str) else json.dumps(variant(read_metadata(good)))
    return rewrite(good, folder / f"bad {label}.safetensors", text)


def make_variants(folder: Path) -> dict[str, Path]:
    """Every hostile variant as a file in `folder`, beside one good checkpoint (good.safetensors)."""
    good = write_good(folder / "good.safetensors")
    return {label: make_variant(folder, label, good) for label in VARIANTS}


@pytest.mark.parametrize("label", list(VARIANTS))
def test_each_hostile_header_is_skipped_with_a_message(tmp_path, label):
    bad = make_variant(tmp_path, label, write_good(tmp_path / "good.safetensors"))
    infos, errors = scan([tmp_path])
    assert [i.name for i in infos] == ["good"]
    assert len(errors) == 1 and errors[0].startswith(f"{bad.name}: ")
    for read in (read_metadata, load_checkpoint):
        with pytest.raises(CheckpointError, match=bad.name):
            read(bad)


def test_well_formed_headers_are_still_listed(tmp_path):
    good = write_good(tmp_path / "good.safetensors")
    base = read_metadata(good)
    minimal = {k: base[k] for k in ("format", "family", "config", "hash")}
    rewrite(good, tmp_path / "minimal.safetensors", json.dumps(minimal))
    rewrite(good, tmp_path / "newer.safetensors", json.dumps({**base, "notes": {"any": ["json"]}}))  # a new field
    infos, errors = scan([tmp_path])
    assert [i.name for i in infos] == ["minimal", "good", "newer"] and errors == []  # "?" sorts before "digits"
    assert infos[0].dataset == "?" and infos[0].series == "minimal" and infos[0].bottleneck == 3
    assert load_checkpoint(tmp_path / "newer.safetensors").metadata["notes"] == {"any": ["json"]}


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_the_zoo_command_lists_the_good_and_names_the_skipped(tmp_path, monkeypatch, capsys):
    made = make_variants(tmp_path)
    monkeypatch.setenv("AEVIZ_ZOO_DIR", str(tmp_path))
    assert cli.main(["zoo"]) == 0
    out = capsys.readouterr().out
    assert "\ngood " in out and "Traceback" not in out
    skipped = [line for line in out.splitlines() if line.startswith("skipped: ")]
    assert len(skipped) == len(made) and all(any(p.name in line for line in skipped) for p in made.values())


# --- a header that claims a huge model, or is huge itself ----------------------------------------------------


def claiming(tmp_path, **changes) -> Path:
    good = write_good(tmp_path / "good.safetensors")
    meta = read_metadata(good)
    return rewrite(good, tmp_path / "claims.safetensors", json.dumps({**meta, "config": {**meta["config"], **changes}}))


@pytest.mark.parametrize(
    "changes",
    [
        {"bottleneck": 3_000_000},
        {"hidden": [12000, 12000]},
        {"arch": "conv", "channels": [4096, 4096], "input_shape": [1, 1500, 1500]},
    ],
    ids=["bottleneck", "hidden", "conv"],
)
def test_a_config_claiming_a_huge_model_is_refused_before_anything_is_allocated(tmp_path, changes):
    path = claiming(tmp_path, **changes)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    with pytest.raises(
        CheckpointError, match=f"claims a model of [0-9,]+ parameters, over the limit of {headers.MAX_PARAMETERS:,}"
    ):
        load_checkpoint(path)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100_000  # the model would be GBs
    assert read_metadata(path)["config"]["bottleneck"] > 0  # the header itself is well formed: listed


def test_a_config_that_does_not_match_the_weights_names_the_first_difference(tmp_path):
    path = claiming(tmp_path, hidden=[5])
    with pytest.raises(
        CheckpointError,
        match=r"weights do not fit the recorded config \(decoder\.0\.bias: the "
        r"config needs shape \(5,\), the file holds \(64,\)\)",
    ):
        load_checkpoint(path)


def test_a_model_for_another_image_size_than_its_dataset_is_refused_at_load(tmp_path):
    path = save_checkpoint(
        tmp_path / "wrong-size.safetensors", build_model("dense", bottleneck=3), {"dataset": "digits"}
    )  # a 28x28 model labelled with the 8x8 digits
    with pytest.raises(CheckpointError, match=r"its input \[1, 28, 28\] is not the image shape of digits, \[1, 8, 8\]"):
        load_checkpoint(path)


def test_weights_over_the_parameter_cap_are_not_listed(tmp_path, monkeypatch):
    path = write_good(tmp_path / "big.safetensors")  # 64*3+3 + 3*64+64 = 451 parameters
    monkeypatch.setattr(headers, "MAX_PARAMETERS", 450)
    infos, errors = scan([tmp_path])
    assert infos == [] and errors == ["big.safetensors: its weights hold 451 parameters, over the limit of 450"]
    monkeypatch.setattr(headers, "MAX_PARAMETERS", 451)
    assert load_checkpoint(path).bottleneck == 3


def test_a_header_over_the_size_cap_is_refused_unparsed(tmp_path):
    good = write_good(tmp_path / "good.safetensors")
    meta = read_metadata(good)
    history = [{"epoch": i, "train": {"recon": 0.1}} for i in range(headers.MAX_HEADER_BYTES // 30)]
    rewrite(good, tmp_path / "huge.safetensors", json.dumps({**meta, "history": history}))
    rewrite(good, tmp_path / "long.safetensors", json.dumps({**meta, "history": history[:5000]}))
    infos, errors = scan([tmp_path])
    assert [i.name for i in infos] == ["good", "long"]
    assert len(errors) == 1 and errors[0].startswith("huge.safetensors: its header claims ")
    assert errors[0].endswith(f"bytes, over the limit of {headers.MAX_HEADER_BYTES:,}")


def test_the_zoo_is_within_both_caps():
    def header_size(path) -> int:
        with path.open("rb") as file:
            return int.from_bytes(file.read(8), "little")

    sizes = [header_size(p) for p in ZOO.glob("*.safetensors")]
    assert sizes and 4 * max(sizes) < headers.MAX_HEADER_BYTES  # the margin the comment promises
    largest = max(headers.parameter_count(headers.read_header(p)[1]) for p in ZOO.glob("*.safetensors"))
    assert 30 * largest < headers.MAX_PARAMETERS  # the margin headers.py's comment promises


def test_a_refused_model_is_remembered_until_its_file_changes(tmp_path, monkeypatch):
    from aeviz.ui import caches

    st.cache_resource.clear()
    path = claiming(tmp_path, bottleneck=3_000_000)
    loads = []
    real = checkpoints.load_checkpoint
    monkeypatch.setattr(checkpoints, "load_checkpoint", lambda p: loads.append(p) or real(p))
    info = CheckpointInfo(path, read_metadata(path))
    raised = []
    for _ in range(3):
        with pytest.raises(CheckpointError, match="over the limit") as caught:
            caches.get_model(info)
        raised.append(caught.value)
    assert len(loads) == 1  # refused once, then answered from the cache
    assert raised[0] is not raised[1]  # a fresh exception each time: no traceback grows in the shared cache
    write_good(path)  # fixed on disk: a new mtime and size, so it is read again
    assert caches.get_model(info).bottleneck == 3 and len(loads) == 2
    st.cache_resource.clear()


# --- the app with such files in its zoo ----------------------------------------------------------------------


@pytest.fixture
def zoo_copy(tmp_path, monkeypatch):
    """The digits part of the real zoo in a folder of its own, with empty process-wide caches."""
    zoo = tmp_path / "zoo"
    zoo.mkdir()
    for path in ZOO.glob("digits-*"):
        shutil.copy2(path, zoo / path.name)
    monkeypatch.setenv("AEVIZ_ZOO_DIR", str(zoo))
    st.cache_data.clear()
    st.cache_resource.clear()
    yield zoo
    st.cache_data.clear()
    st.cache_resource.clear()


def open_home(query: dict[str, str]):
    return run_page(routed_pages()[0], query, timeout=120)


def test_home_opens_with_hostile_files_in_the_zoo(zoo_copy, tmp_path):
    folder = tmp_path / "variants"
    folder.mkdir()
    made = make_variants(folder)
    for path in made.values():
        shutil.copy2(path, zoo_copy / path.name)
    long_path = edited(dataset="folder:" + "a" * 300)  # valid, but too long a name for the file system
    rewrite(
        folder / "good.safetensors",
        zoo_copy / "zz long folder.safetensors",
        json.dumps(long_path(read_metadata(folder / "good.safetensors"))),
    )
    at = open_home({"dataset": "digits"})
    assert not at.exception, [e.value for e in at.exception]
    assert at.query_params["home_model"] in (RUNNING, [RUNNING]) and at.get("image")
    warning = at.sidebar.warning[0].value
    assert warning.startswith("Cannot use bad") and warning.endswith(f"(and {len(made) - 3} more)")


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_a_damaged_file_named_in_markdown_is_shown_literally(zoo_copy):
    (zoo_copy / "[click](http:evil)**bold**.safetensors").write_bytes(b"garbage")
    at = open_home({"dataset": "digits"})
    assert not at.exception
    warning = at.sidebar.warning[0].value
    assert "[click](" not in warning and "**bold**" not in warning
    assert r"\[click\]\(http\:" in warning and r"\*\*bold\*\*\.safetensors" in warning


# --- the same name in the zoo and in the user folder ---------------------------------------------------------


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_a_model_trained_here_under_a_zoo_name_is_listed_apart(zoo_copy):
    user = checkpoints.user_dir()
    user.mkdir(parents=True)
    shutil.copy2(zoo_copy / f"{RUNNING}.safetensors", user / f"{RUNNING}.safetensors")
    twins = [i for i in scan()[0] if i.name == RUNNING]
    assert [(i.origin, i.key, i.label) for i in twins] == [
        ("zoo", RUNNING, RUNNING),
        ("server", f"server:{RUNNING}", f"{RUNNING} · server"),
    ]

    at = open_home({"dataset": "digits"})
    assert not at.exception
    box = at.selectbox(key="w_home_model")
    assert box.value.origin == "zoo" and at.query_params["home_model"] in (RUNNING, [RUNNING])
    assert f"{RUNNING} · server" in box.options
    at.slider(key="w_home_idx").set_value(5).run()  # a rerun must not switch to the twin of the same name
    assert at.selectbox(key="w_home_model").value.origin == "zoo"
    assert at.query_params["home_model"] in (RUNNING, [RUNNING])
    for link, origin in ((RUNNING, "zoo"), (f"server:{RUNNING}", "server")):
        shared = open_home({"dataset": "digits", "home_model": link})
        assert not shared.exception
        assert shared.selectbox(key="w_home_model").value.origin == origin
        assert shared.query_params["home_model"] in (link, [link])
