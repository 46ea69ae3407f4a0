"""One net, other choices: the running dense example with another output layer, loss, tied weights, weight decay or
layer-wise pre-training, and with anomalies in its training set; sentences from benchmarks/reproduce.py's rows."""

from __future__ import annotations

from collections.abc import Sequence

from .checkpoints import ZOO

SAME = 0.02  # relative MSE differences below this are "about the same"
# The articles' claims as issue 31's check of the app against them states them (they print no figure for these)
CLAIMS = {
    "output": "the articles: a sigmoid output suits pixels in [0, 1] (with BCE or MSE); ReLU and linear ones are "
    "unbounded",
    "weights": "regularisation article: L2 weight decay and tied weights (decoder = encoder transposed) regularise",
    "stacked": "history: deep autoencoders were first pre-trained greedily, one layer at a time",
    "outliers": "anomaly article: anomalies in the training set are learnt too, and error flags them less",
}
WHERE = {"choices": "Reconstructions, 'One net, other choices'", "outliers": "Error gallery, 'Anomalies in training?'"}


def describe(row: dict) -> str:
    """'sigmoid output, BCE', 'tied weights, BCE', '256-128 layers, pre-trained layer by layer, BCE', ..."""
    parts = [f"{'-'.join(map(str, row['hidden']))} layers"] if row["hidden"] else []
    parts += [f"{'ReLU' if row['output'] == 'relu' else row['output']} output"]
    parts += ["tied weights"] * (row["weights"] == "tied") + [f"L2 {row['l2']:g}"] * bool(row["l2"])
    parts += ["pre-trained layer by layer"] * bool(row["pretrain_epochs"])
    return ", ".join(parts) + f", {row['loss'].upper()}"


def _find(rows: Sequence[dict], **want) -> dict | None:
    plain = {"output": "sigmoid", "loss": "bce", "weights": "free", "l2": 0.0, "hidden": [], "pretrain_epochs": 0}
    return next((r for r in rows if all(r[k] == v for k, v in (plain | want).items())), None)


def _compare(mine: float, other: float) -> str:
    """'about the same', 'lower' or 'higher': `mine` against `other`, relatively."""
    if abs(mine - other) <= SAME * other:
        return "about the same"
    return "lower" if mine < other else "higher"


def output_sentence(rows: Sequence[dict]) -> str:
    """What the output layer does, from the sigmoid, linear and ReLU models trained with MSE ('' without them)."""
    sig, lin, relu, bce = (_find(rows, loss="mse"), _find(rows, loss="mse", output="linear"),
                           _find(rows, loss="mse", output="relu"), _find(rows))  # fmt: skip
    if sig is None or (lin is None and relu is None):
        return ""
    said = [f"Trained with MSE, a sigmoid output keeps every pixel in [0, 1] (test MSE {sig['mse']:.4f})"]
    if lin is not None:
        said.append(
            f"a linear output leaves {_pct(lin['below'] + lin['above'])} of the pixels outside it "
            f"({_pct(lin['below'])} below 0, {_pct(lin['above'])} above 1; MSE {lin['mse_raw']:.4f} as it comes out, "
            f"{lin['mse']:.4f} clipped as the pages show it)"
        )
    if relu is not None:
        said.append(
            f"a ReLU output cannot go below 0 and leaves {_pct(relu['above'])} above 1 (MSE {relu['mse_raw']:.4f}; "
            f"{relu['mse']:.4f} clipped)"
        )
    text = "; ".join(said) + "."
    if bce is not None:
        text += f" The sigmoid net trained with BCE instead reaches MSE {bce['mse']:.4f}."
    return text


def weights_sentence(rows: Sequence[dict]) -> str:
    """Tied weights and weight decay against the running example ('' without them)."""
    base, tied, decay = _find(rows), _find(rows, weights="tied"), next((r for r in rows if r["l2"]), None)
    if base is None:
        return ""
    said = []
    if tied is not None:
        said.append(
            f"Tying the decoder to the encoder (its weights transposed) leaves {tied['params']:,} parameters "
            f"instead of {base['params']:,} ({_pct(tied['params'] / base['params'])}), at "
            f"{_compare(tied['mse'], base['mse'])} test MSE ({tied['mse']:.4f} vs {base['mse']:.4f})."
        )
    if decay is not None:
        said.append(
            f"Weight decay (L2 {decay['l2']:g}) shrinks the weights' norm from {base['weight_norm']:.1f} to "
            f"{decay['weight_norm']:.1f}, at {_compare(decay['mse'], base['mse'])} test MSE ({decay['mse']:.4f} vs "
            f"{base['mse']:.4f})."
        )
    return " ".join(said)


def stacked_sentence(rows: Sequence[dict]) -> str:
    """Greedy layer-wise pre-training against the same deep net trained end to end ('' without both)."""
    stacked = next((r for r in rows if r["pretrain_epochs"]), None)
    twin = stacked and _find(rows, hidden=stacked["hidden"])
    if stacked is None or twin is None:
        return ""
    verdict = {"about the same": "changes little", "lower": "still helps a little", "higher": "no longer helps"}
    return (
        f"Deep autoencoders were first trained layer by layer (Hinton and Salakhutdinov 2006; Bengio et al. 2007): "
        f"pre-trained {stacked['pretrain_epochs']} epochs a layer, then {stacked['epochs']} epochs end to end, the "
        f"{'-'.join(map(str, twin['hidden']))} net reaches test MSE {stacked['mse']:.4f}, against {twin['mse']:.4f} "
        f"trained end to end alone: with ReLU and Adam, pre-training {verdict[_compare(stacked['mse'], twin['mse'])]}."
    )


def outlier_sentence(rows: Sequence[dict], source_title: str) -> str:
    """How the AUROC of error as an anomaly score falls as anomalies join the training set ('' without rows)."""
    ranked = sorted(rows, key=lambda r: r["share"])
    if len(ranked) < 2 or ranked[0]["share"] != 0:
        return ""
    clean, rest = ranked[0], ranked[1:]
    falls = all(a["auroc"] > b["auroc"] for a, b in zip(ranked, ranked[1:], strict=False))
    shares, aurocs = _listed([_pct(r["share"]) for r in rest]), _listed([f"{r['auroc']:.3f}" for r in rest])
    return (
        f"Trained on clean images, the dense q = 16 tells {source_title} test images from its own test set by "
        f"reconstruction error with AUROC {clean['auroc']:.3f}; with {shares} of its training images replaced by "
        f"{source_title} images, {'respectively ' * (len(rest) > 1)}{aurocs}"
        + (
            ": the more anomalies it learns to rebuild, the less its error flags them."
            if falls
            else ": the AUROC does not fall steadily with the share here."
        )
    )


def _listed(items: Sequence[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return ", ".join(items[:-1]) + (" and " if len(items) > 1 else "") + items[-1]


def _pct(share: float) -> str:
    return f"{100 * share:.1f} %" if share < 0.1 else f"{100 * share:.0f} %"


def table_rows(results: dict | None) -> list[dict]:
    """The lessons table's rows for the choices measured by benchmarks/reproduce.py, per dataset."""
    rows = []
    for dataset, measured in ((results or {}).get("datasets") or {}).items():
        variants, outliers = measured.get("variants", []), measured.get("outliers", [])
        said = [
            ("ReLU, sigmoid or linear output layer, with BCE or MSE", output_sentence(variants), CLAIMS["output"]),
            ("L2 weight regularisation and tied weights", weights_sentence(variants), CLAIMS["weights"]),
            ("Stacked (greedy layer-wise) pre-training, as history", stacked_sentence(variants), CLAIMS["stacked"]),
        ]
        if outliers:
            text = outlier_sentence(outliers, outliers[-1]["source"])  # the table names sets as the zoo does
            said.append(("Anomalies in the training set", text, CLAIMS["outliers"]))
        rows += [
            {
                "lesson": f"{lesson} ({dataset})",
                "published": claim,
                "ours": text,
                "where": WHERE["outliers" if claim == CLAIMS["outliers"] else "choices"],
            }
            for lesson, text, claim in said
            if text
        ]
    return rows


def display_rows(variants: Sequence[dict]) -> list[dict]:
    """The variants as the Reconstructions page's table shows them."""
    return [
        {
            "model": r["model"],
            "choice": describe(r),
            "parameters": f"{r['params']:,}",
            "test MSE": f"{r['mse']:.4f}",
            "MSE unclipped": f"{r['mse_raw']:.4f}",
            "pixels outside [0, 1]": _pct(r["below"] + r["above"]) if r["below"] + r["above"] else "none",
            "weight norm": f"{r['weight_norm']:.1f}",
        }
        for r in variants
    ]


def page_sentences(variants: Sequence[dict]) -> list[str]:
    """The Reconstructions page's sentences under its table ('' ones left out)."""
    return [s for s in (output_sentence(variants), weights_sentence(variants), stacked_sentence(variants)) if s]


def recipe_rows(infos) -> list[dict]:
    """The TensorFlow tutorial's recipe (784-64-784, ReLU code, sigmoid output, MSE, Adam, 10 epochs, batch 32),
    shipped as a zoo model: its test MSE and its last epoch's test loss as Keras would log val_loss."""
    rows = []
    for info in infos:
        training = info.metadata.get("training") or {}
        if info.origin != ZOO or info.family != "dense" or info.config.get("code_activation") != "relu":
            continue
        last = (info.metadata.get("history") or [{}])[-1].get("test") or {}
        rows.append(
            {
                "lesson": f"The Keras tutorial's recipe, 784-{info.bottleneck}-784 ({info.dataset})",
                "published": "TensorFlow's 'Intro to autoencoders' (ReLU code, sigmoid output, Adam, MSE, "
                f"{training.get('epochs')} epochs); its training log's figures are not stored here",
                "ours": f"{info.name}: test MSE {info.metrics.get('mse', float('nan')):.4f} on the whole test split; "
                f"last epoch's loss on 2,000 test images {last.get('recon', float('nan')):.4f}",
                "where": "every page's model list",
            }
        )
    return rows
