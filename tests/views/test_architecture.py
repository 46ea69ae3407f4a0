"""The architecture diagram: a bar per weighted layer, activations merged into it, the code in the middle."""

from __future__ import annotations

import numpy as np

from aeviz import architecture
from aeviz.models import build_model
from aeviz.views.architecture import HEIGHT, WIDTH, architecture_picture, count_text, steps


def test_activations_and_reshapes_merge_into_the_layer_before_them():
    model = build_model("conv", bottleneck=8, channels=(4, 8), input_shape=(1, 28, 28))
    d = architecture.describe(model)
    merged = steps(d["decoder"])
    assert [s.name for s in merged] == ["Linear", "ConvT", "ConvT"]
    assert merged[0].shape == (8, 7, 7) and merged[0].after == "ReLU"  # Linear + ReLU, then unflattened
    assert merged[-1].after == "Sigmoid" and merged[-1].shape == (1, 28, 28)
    assert [s.name for s in steps(d["encoder"])] == ["Conv2d", "Conv2d", "Linear"]  # the first Flatten: nothing


def test_the_picture_is_drawn_on_the_themes_panel():
    d = architecture.describe(build_model("vae", bottleneck=2, hidden=(16,), input_shape=(1, 8, 8)))
    for theme, corner in (("light", 255), ("dark", 40)):
        picture = architecture_picture(d, theme=theme)
        assert picture.shape == (HEIGHT, WIDTH, 3) and picture.dtype == np.uint8
        assert tuple(picture[2, 2]) == (corner,) * 3
    assert count_text(0) == "no weights" and count_text(1500) == "1.5k" and count_text(2_340_000) == "2.34M"
