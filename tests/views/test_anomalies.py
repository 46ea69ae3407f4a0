"""Error-based anomaly scoring on the real zoo and data: ranks, ensembles, find-the-shoe AUROC, figures."""

from __future__ import annotations

import base64

import numpy as np
import pytest
import torch
from skips import require_data

from aeviz import list_checkpoints, load_checkpoint, load_dataset, scores
from aeviz.metrics import encode_all, image_errors, reconstruct_all, reconstruct_and_score
from aeviz.views import anomalies as view

SHOES = (5, 7, 9)  # Fashion-MNIST: sandal, sneaker, ankle boot


def zoo_model(name: str):
    info = next(c for c in list_checkpoints() if c.name == name)
    return info, load_checkpoint(info.path)


@pytest.fixture(scope="module")
def mnist():
    require_data("mnist")
    return load_dataset("mnist", "test")


@pytest.fixture(scope="module")
def shoes():
    require_data("fashion-mnist")
    fashion = load_dataset("fashion-mnist", "test")
    idx = view.pick_classes(fashion.labels.numpy(), SHOES, 100, seed=0)
    return fashion.images.numpy()[idx]


@pytest.fixture(scope="module")
def dense(mnist):
    _, model = zoo_model("mnist-dense-q16-bce")
    return model, reconstruct_and_score(model, mnist.images.numpy(), "mse")[1]


# ---------------------------------------------------------------- scores, ranks, percentiles


def test_normalise_centres_and_scales_log_errors_robustly():
    rng = np.random.default_rng(0)
    ref = np.exp(rng.normal(-4, 0.5, 20_000))  # log-normal, as reconstruction errors roughly are
    z = scores.normalise(ref, ref)
    assert abs(np.median(z)) < 0.02 and abs(np.median(np.abs(z)) * 1.4826 - 1) < 0.02
    assert np.all(np.diff(scores.normalise(np.sort(ref), ref)) >= 0)  # order kept
    outliers = np.r_[ref, [1e6] * 50]  # a few wild outliers barely move a median/MAD reference
    assert np.allclose(scores.normalise(ref[:10], outliers), z[:10], atol=0.01)
    assert np.isfinite(scores.normalise(np.zeros(3), ref)).all()  # a perfect reconstruction


def test_single_model_keeps_raw_errors_ensembles_ignore_each_models_scale():
    rng = np.random.default_rng(1)
    a, b = np.exp(rng.normal(-4, 0.5, 500)), np.exp(rng.normal(-2, 1.0, 500))
    np.testing.assert_array_equal(scores.ensemble_scores([a], [a]), a.astype(np.float32))
    for how in scores.COMBINE:
        base = scores.ensemble_scores([a, b], [a, b], how)
        rescaled = scores.ensemble_scores([a * 100, b], [a * 100, b], how)  # a model in other units
        np.testing.assert_allclose(base, rescaled, atol=1e-4)
    za, zb = scores.normalise(a, a), scores.normalise(b, b)
    np.testing.assert_allclose(scores.ensemble_scores([a, b], [a, b], "mean"), (za + zb) / 2, rtol=1e-5)
    np.testing.assert_allclose(scores.ensemble_scores([a, b], [a, b], "max"), np.maximum(za, zb), rtol=1e-5)
    with pytest.raises(ValueError):
        scores.ensemble_scores([a, b], [a, b], "median")
    with pytest.raises(ValueError):
        scores.ensemble_scores([a, b], [a], "mean")


def test_ranks_put_the_largest_first_and_break_ties_by_index():
    np.testing.assert_array_equal(scores.ranks(np.array([0.1, 0.5, 0.3, 0.5])), [4, 1, 3, 2])
    perm = scores.ranks(np.random.default_rng(2).random(1000))
    assert sorted(perm) == list(range(1, 1001))


def test_median_rank_ranks_each_injected_image_among_the_test_images_alone():
    test = np.random.default_rng(0).random(10_000)
    assert scores.median_rank(test, np.full(100, 5.0)) == "1 of 10,000"  # among each other they would be 1..100
    assert scores.median_rank(np.arange(100.0), [100.0, 98.5]) == "1.5 of 100"  # between ranks 1 and 2
    assert scores.median_rank(np.arange(100.0), [98.5, 49.5, 0.5]) == "51 of 100"


def test_percentile_and_rank_among_a_reference():
    ref = np.arange(100, dtype=np.float64)  # 0..99
    np.testing.assert_allclose(scores.percentile_of([-1, 0, 50, 99, 99.5], ref), [0, 0, 50, 99, 100])
    np.testing.assert_array_equal(scores.rank_among([99.5, 99, 50, -1], ref), [1, 1, 50, 101])
    assert scores.threshold_at(ref, 10) == pytest.approx(89.1)  # 10 % of 0..99 lie above it
    assert (ref > scores.threshold_at(ref, 10)).sum() == 10


def test_no_figure_is_rounded_to_a_perfect_score_or_to_nothing():
    # AUROC 0.99964 beside a shoe ranked #261 read "1.000"; one injected image ranked low gave AP "0.000"
    assert scores.fraction_text(0.99964) == "0.9996" and scores.fraction_text(0.99999) == "0.99999"
    assert scores.fraction_text(0.00021) == "0.0002" and scores.fraction_text(1 / 10001) == "0.0001"
    assert scores.fraction_text(1.0) == "1.000" and scores.fraction_text(0.0) == "0.000"
    assert scores.fraction_text(0.975) == "0.975" and scores.fraction_text(0.99987, 4) == "0.9999"
    assert scores.fraction_text(1 - 1e-9) == "> 0.9999999"
    rng = np.random.default_rng(0)
    test = rng.random(10_000)
    det = scores.detection(test, np.array([0.5]))  # one injected image, ranked near the middle
    assert 0 < det.average_precision < 0.001 and float(scores.fraction_text(det.average_precision)) > 0


def test_detection_by_hand():
    det = scores.detection(np.array([0.0, 1.0, 2.0]), np.array([1.5, 3.0]))
    assert det.auroc == pytest.approx(5 / 6)  # 5 of the 6 (out, in) pairs are ordered right
    assert det.average_precision == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)  # hits at ranks 1 and 3
    assert det.prevalence == pytest.approx(0.4)
    assert det.fpr[0] == 0 and det.tpr[-1] == 1 and np.all(np.diff(det.fpr) >= 0)
    perfect = scores.detection(np.zeros(5), np.ones(2))
    assert perfect.auroc == 1 and perfect.average_precision == 1
    with pytest.raises(ValueError):
        scores.detection(np.zeros(5), np.zeros(0))


def test_pick_classes_is_seeded_sorted_and_capped():
    labels = np.repeat(np.arange(10), 30)
    idx = view.pick_classes(labels, SHOES, 40, seed=3)
    assert len(idx) == 40 and set(labels[idx]) <= set(SHOES) and np.all(np.diff(idx) > 0)
    np.testing.assert_array_equal(idx, view.pick_classes(labels, SHOES, 40, seed=3))
    assert not np.array_equal(idx, view.pick_classes(labels, SHOES, 40, seed=4))
    assert len(view.pick_classes(labels, SHOES, 1000, seed=0)) == 90
    assert len(view.pick_classes(labels, [], 10, seed=0)) == 0


def test_fit_to_resizes_for_another_dataset(shoes):
    small = view.fit_to(shoes[:5], (1, 8, 8))
    assert small.shape == (5, 1, 8, 8) and small.dtype == np.float32 and small.min() >= 0 and small.max() <= 1
    assert abs(small.mean() - shoes[:5].mean()) < 0.05  # the same picture, only coarser
    np.testing.assert_array_equal(view.fit_to(shoes[:2], (1, 28, 28)), shoes[:2])


# ---------------------------------------------------------------- the real zoo: find the shoe


def test_reconstruct_and_encode_take_numpy_and_leave_the_model_alone(mnist):
    _, model = zoo_model("mnist-conv-q8-bce")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    batch = mnist.images[:6].numpy()
    recon, errors = reconstruct_and_score(model, batch, "bce")
    assert recon.shape == batch.shape and errors.shape == (6,)
    np.testing.assert_allclose(errors, image_errors(batch, reconstruct_all(model, mnist.images[:6]), "bce"), rtol=1e-5)
    assert encode_all(model, batch).shape == (6, 8)
    empty_recon, empty_errors = reconstruct_and_score(model, batch[:0], "mse")
    assert empty_recon.shape == (0, 1, 28, 28) and empty_errors.shape == (0,)
    assert not model.training and all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_shoes_injected_into_mnist_rank_near_the_top(mnist, shoes, dense):
    model, test_errors = dense
    shoe_errors = reconstruct_and_score(model, shoes, "mse")[1]
    det = scores.detection(test_errors, shoe_errors)
    assert det.auroc > 0.9 and det.average_precision > 0.5 > det.prevalence * 10
    assert np.median(scores.rank_among(shoe_errors, test_errors)) < 20  # most shoes beat nearly every digit
    assert scores.median_rank(test_errors, shoe_errors).endswith(" of 10,000")
    assert np.mean(scores.percentile_of(shoe_errors, test_errors)) > 90


@pytest.mark.slow  # scores the 10k test set under a conv model
def test_an_ensemble_also_finds_the_shoes_and_its_scores_are_unitless(mnist, shoes, dense):
    model, dense_test = dense
    _, conv = zoo_model("mnist-conv-q8-bce")
    conv_test = reconstruct_and_score(conv, mnist.images.numpy(), "mse")[1]
    refs = [dense_test, conv_test]
    outs = [reconstruct_and_score(m, shoes, "mse")[1] for m in (model, conv)]
    for how in scores.COMBINE:
        det = scores.detection(scores.ensemble_scores(refs, refs, how), scores.ensemble_scores(outs, refs, how))
        assert det.auroc > 0.9
    z = scores.ensemble_scores(refs, refs, "mean")
    assert abs(np.median(z)) < 0.2  # a typical test digit scores about 0 whatever the models' units


# ---------------------------------------------------------------- pictures and figures


def test_gallery_and_comparison_grid_show_no_difference_for_a_perfect_copy(mnist):
    x = mnist.images[:3, 0].numpy()
    pic = view.gallery(x, x, [["a"] * 3, ["b"] * 3, ["c"] * 3], scale=2)
    assert pic.ndim == 3 and pic.shape[2] == 3 and pic.dtype == np.uint8
    grid = view.comparison_grid(
        x[0], np.stack([x[0]] * 10), [f"m{i}" for i in range(10)], ["x"] * 10, per_row=4, scale=1
    )
    assert grid.shape[1] < 4 * 40 + 60  # 4 per row, not 10
    wrong = view.comparison_grid(x[0], np.stack([1 - x[0]] * 2), ["a", "b"], ["x", "y"], scale=1)
    assert wrong.shape == view.comparison_grid(x[0], np.stack([x[0]] * 2), ["a", "b"], ["x", "y"], scale=1).shape
    assert (wrong[..., 1] > 200).sum() > (grid[..., 1] > 200).sum() / 10  # yellow where the copy is wrong


def test_short_names_fit_under_a_picture():
    assert view.short_name("mnist-dense-h256x128-q8-bce", "mnist") == "deep-q8"
    assert view.short_name("mnist-denoising-conv-q32-bce-gaussian0.5", "mnist") == "denoise-conv-q32"
    assert view.short_name("fashion-mnist-dense-q16-mse", "fashion-mnist") == "dense-q16-mse"
    assert view.short_name("mnist-sparse-q256-bce-kl0.05", "mnist") == "sparse-kl-q256"
    assert view.short_name("mnist-vae-h256-q16-bce-beta0.25", "mnist") == "vae-q16-beta0.25"
    assert view.short_name("cifar10-vae-conv-q64-mse-beta0.1", "cifar10") == "vae-q64-beta0.1"  # colour: MSE usual
    assert view.short_name("cifar10-denoising-conv-q64-mse-gaussian0.2", "cifar10") == "denoise-conv-q64"
    assert view.short_name("mnist-sparse-q1024-bce-top16", "mnist") == "topk16-q1024"
    assert view.short_name("digits-denoising-q16-bce-occlusion0.25", "digits") == "denoise-q16-occl"
    assert view.short_name("mnist-dense-q16-mse-linear", "mnist") == "dense-q16-linout"
    assert view.short_name("mnist-dense-q16-mse-relu", "mnist") == "dense-q16-reluout"
    assert view.short_name("fashion-mnist-dense-q64-mse-relucode", "fashion-mnist") == "relu-q64-mse"
    assert view.short_name("mnist-dense-q16-bce-l21e-05", "mnist") == "dense-q16-l2"
    assert view.short_name("mnist-dense-q16-bce-outliers0.05", "mnist") == "dense-q16-anom5%"
    names = [view.short_name(c.name, c.dataset) for c in list_checkpoints()]
    assert max(map(len, names)) <= 17


def counts(values) -> np.ndarray:
    """Plotly ships numpy arrays base64-encoded ({'dtype', 'bdata'}); decode them for the assertions."""
    if isinstance(values, dict):
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"])
    return np.asarray(values)


def test_figures(shoes, dense):
    _, test_errors = dense
    out = test_errors[:40] * 10
    hist = view.with_threshold(view.histogram_spec(test_errors, xlabel="MSE", scores_out=out, out_name="shoes"), 0.05)
    assert [t.name for t in hist.data] == ["test images", "shoes"]
    assert counts(hist.data[0].y).sum() == len(test_errors) and counts(hist.data[1].y).sum() == len(out)
    assert hist.layout.xaxis.ticktext and hist.layout.shapes[0].x0 == pytest.approx(np.log10(0.05))
    signed = np.array([-1.0, 0.0, 2.0])  # z-scores: a linear axis
    z_hist = view.with_threshold(view.histogram_spec(signed, xlabel="z"), 1.0)
    assert len(z_hist.data) == 1 and z_hist.layout.shapes[0].x0 == 1.0
    det = scores.detection(test_errors, out)
    roc = view.with_point(view.roc_spec(det), (0.01, 0.9))
    assert len(roc.data) == 3 and "AUROC" in roc.data[1].name
    labels = np.arange(len(test_errors)) % 10
    box = view.class_box_figure(
        test_errors, labels, [str(i) for i in range(10)], ylabel="MSE", scores_out=out, out_name="shoes"
    )
    assert [t.name for t in box.data][-1] == "shoes" and len(box.data) == 11 and box.layout.yaxis.type == "log"
    bars = view.percentile_figure(["a", "b"], np.array([50.0, 99.5]), np.array([0.01, 0.2]), metric="mse")
    assert list(bars.data[0].x) == [50.0, 99.5]
    meaning = {t.marker.color: t.name for t in bars.data[1:]}  # a legend for the bar colours
    assert [meaning[c] for c in bars.data[0].marker.color] == ["below 90", "99 and above"]
    assert list(meaning.values()) == ["below 90", "90 to 99", "99 and above"] and bars.layout.legend.title.text
    pts = np.random.default_rng(0).normal(size=(50, 2))
    fig = view.map_figure(pts, np.arange(50) % 10, [str(i) for i in range(10)], pts[:2], ["<b>x</b>", "y"])
    assert fig.data[-1].name == "your images" and len(fig.data[-1].x) == 2
    assert "<b>" not in fig.data[-1].hovertext[0]  # file names are shown as text, never as markup


def test_the_lecture_row_shows_as_many_images_as_the_height_leaves_room_for():
    """Beside the histogram at 1280x720 the height allows 56 px cells whatever the count: three of them left
    room for five more; where the height allows taller cells, as many as stay three text lines tall."""
    from aeviz.views.lettering import Fit

    labels, digit = ["input", "output", "|diff|"], (28, 28)
    beside = Fit(580, 310, 20, 160)  # the right half of a 1280x720 lecture screen under its controls
    assert view.columns_that_fit(beside, digit) == 8
    assert beside.scale(digit, 3, 8, row_labels=labels) == beside.scale(digit, 3, 3, row_labels=labels)
    tall = Fit(580, 600, 20, 160)
    k = view.columns_that_fit(tall, digit)
    assert tall.scale(digit, 3, k, row_labels=labels) * 28 >= 60 > tall.scale(digit, 3, k + 1, row_labels=labels) * 28
