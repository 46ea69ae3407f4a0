"""The running example's variants and the anomalies-in-training lesson, worded from measured rows."""

from __future__ import annotations

from aeviz import choices


def row(model, mse, *, output="sigmoid", loss="bce", weights="free", l2=0.0, hidden=(), pretrain=0, **more):
    return {
        "model": model, "output": output, "loss": loss, "weights": weights, "l2": l2, "hidden": list(hidden),
        "pretrain_epochs": pretrain, "epochs": 20, "params": 25_888, "weight_norm": 30.0, "mse": mse,
        "mse_raw": mse, "below": 0.0, "above": 0.0, **more,
    }  # fmt: skip


ROWS = [
    row("bce", 0.0210),
    row("mse", 0.0190, loss="mse"),
    row("linear", 0.0240, loss="mse", output="linear", mse_raw=0.0250, below=0.21, above=0.004),
    row("relu", 0.0214, loss="mse", output="relu", mse_raw=0.0216, above=0.012),
    row("tied", 0.0213, weights="tied", params=13_344),
    row("l2", 0.0300, l2=1e-5, weight_norm=12.5),
    row("deep", 0.0150, hidden=(256, 128)),
    row("stacked", 0.0151, hidden=(256, 128), pretrain=5),
]


def test_the_output_layer_sentence_reads_each_models_range_and_error():
    text = choices.output_sentence(ROWS)
    assert "a sigmoid output keeps every pixel in [0, 1] (test MSE 0.0190)" in text
    assert "a linear output leaves 21 % of the pixels outside it (21 % below 0, 0.4 % above 1; MSE 0.0250" in text
    assert "a ReLU output cannot go below 0 and leaves 1.2 % above 1 (MSE 0.0216; 0.0214 clipped)" in text
    assert text.endswith("The sigmoid net trained with BCE instead reaches MSE 0.0210.")
    assert choices.output_sentence(ROWS[:2]) == ""  # nothing to compare the sigmoid with


def test_tied_weights_and_weight_decay_are_set_beside_the_running_example():
    text = choices.weights_sentence(ROWS)
    assert "leaves 13,344 parameters instead of 25,888 (52 %), at about the same test MSE (0.0213 vs 0.0210)" in text
    assert "shrinks the weights' norm from 30.0 to 12.5, at higher test MSE (0.0300 vs 0.0210)" in text
    assert choices.weights_sentence(ROWS[1:]) == ""  # no running example to compare with


def test_the_stacked_verdict_follows_the_numbers():
    assert "pre-training changes little" in choices.stacked_sentence(ROWS)
    better = [*ROWS[:-1], row("stacked", 0.0100, hidden=(256, 128), pretrain=5)]
    worse = [*ROWS[:-1], row("stacked", 0.0200, hidden=(256, 128), pretrain=5)]
    assert "test MSE 0.0100, against 0.0150" in choices.stacked_sentence(better)
    assert "pre-training still helps a little" in choices.stacked_sentence(better)
    assert "pre-training no longer helps" in choices.stacked_sentence(worse)
    assert choices.stacked_sentence(ROWS[:-2] + ROWS[-1:]) == ""  # no end-to-end twin


def test_the_outlier_sentence_says_whether_the_auroc_falls():
    rows = [{"share": s, "auroc": a, "source": "fashion-mnist"} for s, a in ((0.05, 0.97), (0, 0.99), (0.2, 0.9))]
    text = choices.outlier_sentence(rows, "Fashion-MNIST")
    assert "with AUROC 0.990; with 5.0 % and 20 % of its training images replaced by Fashion-MNIST images, " in text
    assert "images, respectively 0.970 and 0.900: " in text
    assert text.endswith("the less its error flags them.")
    rows[2]["auroc"] = 0.995
    assert "does not fall steadily" in choices.outlier_sentence(rows, "Fashion-MNIST")
    assert choices.outlier_sentence(rows[:1], "x") == "" and choices.outlier_sentence(rows[::2][1:], "x") == ""


def test_the_lessons_table_has_a_row_per_measured_lesson():
    results = {"datasets": {"mnist": {"variants": ROWS, "outliers": []}, "digits": {}}}
    rows = choices.table_rows(results)
    assert [r["lesson"].split(" (")[0] for r in rows] == [
        "ReLU, sigmoid or linear output layer, with BCE or MSE",
        "L2 weight regularisation and tied weights",
        "Stacked",
    ]
    assert all(r["ours"] and r["where"].startswith("Reconstructions") for r in rows)
    assert [r["model"] for r in choices.display_rows(ROWS)] == [r["model"] for r in ROWS]
