"""A reference run of aeviz.webdecoder's layer lists in numpy (float64), to test the export without a browser."""

from __future__ import annotations

import numpy as np
import torch
from scipy.special import erf
from torch import nn


def _conv2d(x, w, bias, stride, padding, dilation, groups):
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    c, h, wd = x.shape
    co, ci, kh, kw = w.shape
    xp = np.zeros((c, h + 2 * ph, wd + 2 * pw))
    xp[:, ph : ph + h, pw : pw + wd] = x
    oh, ow = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1, (wd + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((co, oh, ow))
    per = co // groups
    for g in range(groups):
        for ky in range(kh):
            for kx in range(kw):
                patch = xp[
                    g * ci : (g + 1) * ci,
                    ky * dh : ky * dh + sh * (oh - 1) + 1 : sh,
                    kx * dw : kx * dw + sw * (ow - 1) + 1 : sw,
                ]
                out[g * per : (g + 1) * per] += np.einsum("oc,chw->ohw", w[g * per : (g + 1) * per, :, ky, kx], patch)
    return out + (0 if bias is None else bias[:, None, None])


def _conv_transpose2d(x, w, bias, stride, padding, dilation, groups, output_padding):
    (sh, sw), (ph, pw), (dh, dw), (oph, opw) = stride, padding, dilation, output_padding
    c, h, wd = x.shape
    ci, per, kh, kw = w.shape
    oh, ow = (h - 1) * sh - 2 * ph + dh * (kh - 1) + oph + 1, (wd - 1) * sw - 2 * pw + dw * (kw - 1) + opw + 1
    full = np.zeros((per * groups, oh + 2 * ph + sh + dh * kh, ow + 2 * pw + sw + dw * kw))
    cin = c // groups
    for g in range(groups):
        for ky in range(kh):
            for kx in range(kw):
                contrib = np.einsum("chw,co->ohw", x[g * cin : (g + 1) * cin], w[g * cin : (g + 1) * cin, :, ky, kx])
                full[
                    g * per : (g + 1) * per,
                    ky * dh : ky * dh + sh * (h - 1) + 1 : sh,
                    kx * dw : kx * dw + sw * (wd - 1) + 1 : sw,
                ] += contrib
    out = full[:, ph : ph + oh, pw : pw + ow]
    return out + (0 if bias is None else bias[:, None, None])


def _upsample(x, shape, mode, align_corners):
    c, h, w = x.shape
    oh, ow = shape[1:]
    if mode == "nearest":
        return x[:, (np.arange(oh) * h) // oh][:, :, (np.arange(ow) * w) // ow]

    def coords(n_out, n_in):
        if align_corners:
            src = np.arange(n_out) * ((n_in - 1) / (n_out - 1) if n_out > 1 else 0)
        else:
            src = np.maximum((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0)
        lo = np.minimum(np.floor(src).astype(int), n_in - 1)
        return lo, np.minimum(lo + 1, n_in - 1), src - lo

    y0, y1, fy = coords(oh, h)
    x0, x1, fx = coords(ow, w)
    top = x[:, y0][:, :, x0] * (1 - fx) + x[:, y0][:, :, x1] * fx
    bottom = x[:, y1][:, :, x0] * (1 - fx) + x[:, y1][:, :, x1] * fx
    return top * (1 - fy[:, None]) + bottom * fy[:, None]


ELEMENTWISE = {
    "relu": lambda x, L: np.maximum(x, 0),
    "sigmoid": lambda x, L: 1 / (1 + np.exp(-x)),
    "tanh": lambda x, L: np.tanh(x),
    "silu": lambda x, L: x / (1 + np.exp(-x)),
    "gelu": lambda x, L: 0.5 * x * (1 + erf(x / np.sqrt(2))),
    "leaky_relu": lambda x, L: np.where(x >= 0, x, L["slope"] * x),
    "elu": lambda x, L: np.where(x > 0, x, L["alpha"] * np.expm1(x)),
    "affine": lambda x, L: x * L["scale"] + L["shift"],
}


def run(header: dict, tensors: dict, code: np.ndarray) -> np.ndarray:
    """One code (q,) through the layer list: the flat output."""
    t = {k: v.astype(np.float64) for k, v in tensors.items()}
    x = np.asarray(code, dtype=np.float64)
    for L in header["layers"]:
        op, bias = L["op"], t.get(L.get("bias") or "")
        if op in ELEMENTWISE:
            x = ELEMENTWISE[op](x, L)
        elif op == "linear":
            x = t[L["weight"]] @ x + (0 if bias is None else bias)
        elif op == "reshape":
            x = x.reshape(L["shape"])
        elif op == "scale_shift":
            extra = (1,) * (x.ndim - 1)
            x = x * t[L["scale"]].reshape(-1, *extra) + t[L["shift"]].reshape(-1, *extra)
        elif op == "conv2d":
            x = _conv2d(x, t[L["weight"]], bias, L["stride"], L["padding"], L["dilation"], L["groups"])
        elif op == "conv_transpose2d":
            args = (L["stride"], L["padding"], L["dilation"], L["groups"], L["output_padding"])
            x = _conv_transpose2d(x, t[L["weight"]], bias, *args)
        elif op == "upsample":
            x = _upsample(x, L["shape"], L["mode"], L["align_corners"])
        else:
            raise ValueError(f"unknown op {op}")
        assert list(x.shape) == L["shape"], (op, x.shape, L["shape"])
    return x.ravel()


def every_layer_type(q: int = 5) -> nn.Sequential:
    """A decoder with every layer type the browser's kernel has, settings off their defaults, trained-looking
    batch-norm statistics (eval mode)."""
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Linear(q, 48),
        nn.BatchNorm1d(48),
        nn.LeakyReLU(0.2),
        nn.Linear(48, 3 * 4 * 4),
        nn.ELU(0.7),
        nn.Unflatten(1, (3, 4, 4)),
        nn.Upsample(scale_factor=2, mode="nearest"),
        nn.Conv2d(3, 6, 3, padding=1),
        nn.BatchNorm2d(6),
        nn.GELU(),
        nn.ConvTranspose2d(6, 4, 3, stride=2, padding=1, output_padding=1, groups=2),  # 8 -> 16
        nn.SiLU(),
        nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),  # 16 -> 32
        nn.Conv2d(4, 4, 3, stride=2, padding=2, dilation=2, groups=4),  # 32 -> 16
        nn.Tanh(),
        nn.ConvTranspose2d(4, 2, 4, stride=2, padding=1, dilation=1, bias=False),  # 16 -> 32
        nn.Upsample(size=(64, 64), mode="bilinear", align_corners=True),
        nn.Conv2d(2, 3, 5, stride=2, padding=2),  # 64 -> 32
        nn.Sigmoid(),
    )
    for m in net.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    return net.eval()
