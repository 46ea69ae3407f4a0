"""Safe decoding of uploaded or drawn images and MNIST-style preprocessing (crop, fit, centre of mass)."""

from __future__ import annotations

import dataclasses
import functools
import io
import math
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 20_000_000
MIN_SIDE = 8
ALLOWED_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF")
# the file names read as pictures (uploads, folders, archives: archives imports it; this module imports nothing
# of aeviz, so that the decoding helper can load it alone)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff")
# Larger pictures are shrunk before the float maths: a 20-pixel digit needs no more, and it bounds memory.
WORK_SIDE = 512

_PLEASE = "please upload PNG, JPEG, WebP, GIF, BMP or TIFF."
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1"}
_DAMAGED = (
    "This image file is damaged or incomplete (it may have been cut off while downloading or "
    "copying); please re-save or re-export it and upload it again."
)
_UNEXPECTED = (
    "Something went wrong while reading this image; it may be damaged or use an unusual variant "
    "of its format. Please re-save it as PNG or JPEG and try again."
)
_TOO_BIG = (
    "Decoding this image needs more memory than this server gives one upload; please scale it down (a digit "
    "needs only a few hundred pixels) and upload it again."
)
_BLANK = (
    "No ink found: the image is blank (one flat colour, or marks too faint to see). Please upload or "
    "draw a digit: dark strokes on a light background, or light strokes on a dark one."
)
# Ink must stand this far (as a fraction of black-to-white) above the paper and its noise to count.
_MIN_CONTRAST = 0.1
# Beyond these the picture is unlike a digit on plain paper: MNIST's test digits cover 16 % of the frame (at
# most 36 %) and their thickest stroke is 22 % of their size (99 %: 41 %; a disc: 100 %), and a phone photo of
# paper varies by about 0.03 around its lighting.
_MAX_COVER = 0.4
_MAX_THICKNESS = 0.5
_MAX_BORDER_SIGMA = 0.08
_MAX_BORDER_OFF = 0.1  # the share of the border that may be ink (a stroke touching the edge) or clutter
PHOTO_SIDE = 64  # the largest input side of a colour model: what is kept of a photo for them
STEP_SIDE = 160  # each preprocessing stage is shown this big
# A picture whose pixels' channels differ by more than this on average (0-1 scale) is in colour; a scan of
# pencil on white paper differs by about 0.01, a JPEG's chroma noise stays under 0.03.
COLOUR_SPREAD = 0.05


class ImageError(ValueError):
    """A problem with the user's image; the message is shown to them verbatim, so it says what to do."""


@dataclass(frozen=True)
class Preprocessed:
    """The model-ready image (ink bright on black, float32 in [0,1]) and every stage that led to it."""

    image: np.ndarray
    steps: tuple[tuple[str, np.ndarray], ...]
    inverted: bool
    name: str = ""
    notes: tuple[str, ...] = ()  # why the picture may not be a digit, shown with the steps
    # the picture itself, for colour models and for the raw comparison: its centred square, (PHOTO_SIDE,
    # PHOTO_SIDE, 3) uint8 RGB (transparency on white); None for images sent from a page (already model-ready)
    photo: np.ndarray | None = None
    original: np.ndarray | None = None  # the upload as it came, fitted into STEP_SIDE (h, w, 3) uint8, for display
    size: tuple[int, int] = (0, 0)  # the upload's (width, height) in pixels
    colourful: bool = False  # its colours differ by more than COLOUR_SPREAD: turning it grey loses something


def _sniff(data: bytes) -> str | None:
    """Name the common non-raster files people upload by mistake, from their first bytes."""
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(b"%pdf-"):
        return "This file is a PDF document, not an image; please export the page as PNG or JPEG instead."
    if head.startswith(b"<svg") or (head.startswith((b"<?xml", b"<!doctype svg")) and b"<svg" in head):
        return f"This file is an SVG (vector drawing); {_PLEASE}"
    if data[4:8] == b"ftyp":
        brands = {data[i : i + 4] for i in range(8, min(len(data), 64) - 3, 4)}
        if brands & {b"avif", b"avis"}:
            return f"This file is an AVIF image, which can't be read here; convert it, or {_PLEASE}"
        if brands & _HEIF_BRANDS:
            return (
                "This file is a HEIC/HEIF photo (the iPhone default), which can't be read here; convert "
                "it to JPEG or PNG (on iPhone: Settings > Camera > Formats > Most Compatible) and upload "
                "it again."
            )
        return f"This file is a video or other media file, not a still image; {_PLEASE}"
    return None


def _not_an_image(data: bytes, name: str) -> str:
    """Explain why Pillow could not identify the file, naming text files (often renamed to .png)."""
    text = data[:2048].decode("utf-8", errors="replace")  # UTF-8, so accented or non-Latin text counts
    printable = sum(c.isprintable() or c in "\t\r\n" for c in text)
    if "\0" not in text and text.count("\ufffd") <= 1 and printable >= 0.95 * len(text):
        renamed = (
            f" (even though its name ends in {name[name.rfind('.') :]})"
            if name.lower().endswith(IMAGE_SUFFIXES)
            else ""
        )
        return f"This file contains text, not image data{renamed}; {_PLEASE}"
    return f"This file isn't an image that can be read here; {_PLEASE}"


def _check_size(img: Image.Image) -> None:
    w, h = img.size
    if w * h > MAX_PIXELS:
        raise ImageError(
            f"This image is {w} x {h} pixels ({w * h / 1e6:.0f} megapixels), more than the "
            f"{MAX_PIXELS / 1e6:.0f}-megapixel limit; please scale it down and upload it again."
        )
    if min(w, h) < MIN_SIDE:
        raise ImageError(
            f"This image is only {w} x {h} pixels; it must be at least {MIN_SIDE} pixels on "
            "each side. Please upload a larger picture of the digit."
        )


def _decode(data: bytes, name: str, left: float | None = None) -> Image.Image:
    """Open (restricted to ALLOWED_FORMATS, so no other plugin ever parses hostile bytes) and fully load; with
    `left`, refuse a picture of more pixels than that (what is left of one upload's budget)."""
    try:
        with warnings.catch_warnings():
            # Pillow only warns between its limit and twice it; turn that into the same rejection as an error.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS) as img:
                _check_size(img)  # from the header alone, before any pixel is decoded
                _check_budget(img, left)
                img.seek(0)  # animations: the first frame
                img.load()
                return img.copy()  # detached from the byte buffer and from the multi-frame file object
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError(_not_an_image(data, name)) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(
            f"This image's dimensions are far beyond the {MAX_PIXELS / 1e6:.0f}-megapixel "
            "limit; please scale it down and upload it again."
        ) from None
    except (OSError, SyntaxError, EOFError, ValueError):  # Pillow's ways of saying "truncated or corrupt"
        raise ImageError(_DAMAGED) from None


def _check_budget(img: Image.Image, left: float | None) -> None:
    w, h = img.size
    if left is not None and w * h > left:
        raise ImageError(
            f"Not read: this {w} x {h} picture would take the pictures uploaded together past this server's "
            "limit of pixels per upload (AEVIZ_UPLOAD_MAX_MEGAPIXELS). Upload it again on its own, or smaller."
        )


def open_image(data: bytes, name: str = "", left: float | None = None) -> Image.Image:
    """Decode an uploaded file by its content; raise ImageError with a user-facing reason if unusable. With
    `left`, a picture of more pixels than that is refused from its header (one upload's budget)."""
    if not data:
        raise ImageError(f"This file is empty (0 bytes); {_PLEASE}")
    if len(data) > MAX_UPLOAD_BYTES:
        raise ImageError(
            f"This file is {len(data) / 2**20:.1f} MB; the limit is {MAX_UPLOAD_BYTES // 2**20} "
            "MB. Please upload a smaller image (a digit needs only a few hundred pixels)."
        )
    sniffed = _sniff(bytes(data))
    if sniffed:
        raise ImageError(sniffed)
    img = _decode(bytes(data), name, left)
    try:
        return ImageOps.exif_transpose(img)
    except Exception:  # a corrupt EXIF block should cost the rotation, not the whole upload
        return img


def _to_grey(img: Image.Image) -> np.ndarray:
    """Float greyscale in [0,1]; transparency composited on white, high bit depths scaled by their range."""
    if img.mode.startswith("I") or img.mode == "F":
        values = np.asarray(img, dtype=np.float64)
        top = float(values.max(initial=0))
        # scale by the bit depth's range, so 16-bit data is not clipped at 255; "I"/"F" don't say theirs
        full = 1.0 if img.mode == "F" and top <= 1 else 255.0 if top <= 255 else max(65535.0, top)
        grey = np.clip(values / (65535.0 if img.mode.startswith("I;16") else full), 0, 1).astype(np.float32)
        h, w = grey.shape
        return _resize(grey, _fit((w, h), WORK_SIDE)) if max(h, w) > WORK_SIDE else grey
    has_alpha = img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info
    img = img.convert("RGBA" if has_alpha else "RGB").convert("RGBA" if has_alpha else "L")
    if max(img.size) > WORK_SIDE:
        img = img.resize(_fit(img.size, WORK_SIDE), Image.Resampling.LANCZOS, reducing_gap=3.0)
    if not has_alpha:
        return np.asarray(img, dtype=np.float32) / 255
    rgba = np.asarray(img, dtype=np.float32) / 255
    luma, alpha = rgba[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32), rgba[..., 3]
    # the paper under the strokes: white under dark ones, black under light ones (a white digit drawn on a
    # transparent background, composited on white, came out blank: "No ink found")
    paper = 0.0 if float((luma * alpha).sum()) > 0.5 * max(float(alpha.sum()), 1e-6) else 1.0
    return np.clip(luma * alpha + paper * (1 - alpha), 0, 1)


def _fit(size: tuple[int, int], side: int) -> tuple[int, int]:
    """(w, h) scaled so that the longer side is `side`, keeping the aspect ratio."""
    scale = side / max(size)
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def _resize(grey: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Antialiased (LANCZOS) resize of a float image to (w, h), clipped back to [0,1] after ringing."""
    src = Image.fromarray(np.ascontiguousarray(grey, dtype=np.float32), "F")
    out = src.resize(size, Image.Resampling.LANCZOS)
    return np.clip(np.asarray(out, dtype=np.float32), 0, 1)


def _ring_mask(shape: tuple[int, ...]) -> np.ndarray:
    """The outer border, where the paper (not the digit) is expected to be."""
    k = max(1, min(shape[:2]) // 32)
    mask = np.ones(shape[:2], bool)
    mask[k:-k, k:-k] = False
    return mask


def _orient(grey: np.ndarray) -> tuple[np.ndarray, bool, np.ndarray, float]:
    """Make ink bright on black, as in MNIST; also how far each pixel stands out as ink, and the paper's noise.

    The background is the smooth surface fitted to the border (see _shading); the ink is whichever side of it
    holds more: a red apple on grey paper is darker than the paper, so it is the ink even though its highlight
    is lighter. Thresholding the border's brightness at mid-grey instead made the highlight the "digit".
    """
    if float(grey.max() - grey.min()) < 1 / 255:
        raise ImageError(_BLANK)
    surface, sigma = _shading(grey)
    off = grey - surface
    noise = 4 * sigma + 1 / 255
    dark, light = float(np.clip(-off - noise, 0, None).sum()), float(np.clip(off - noise, 0, None).sum())
    border = float(np.median(grey[_ring_mask(grey.shape)]))
    inverted = dark > light if dark != light else border > 0.5
    return (1 - grey if inverted else grey), inverted, (-off if inverted else off), sigma


def _unlike_a_digit(ink: np.ndarray, sigma: float) -> tuple[str, ...]:
    """Warnings for pictures unlike a digit on plain paper (`ink`: how far each pixel stands out as ink)."""
    notes, noise = [], 4 * sigma + 1 / 255
    mask = ink > max(noise, 0.2 * float(ink.max()))
    cover, thick = float(mask.mean()), _thickness(mask)
    if cover > _MAX_COVER or thick > _MAX_THICKNESS:
        notes.append(
            f"This does not look like a digit: its ink is a solid shape, not thin strokes (its thickest "
            f"part is {thick * 100:.0f} % of its size, a digit's strokes 10 to 25 %; it covers "
            f"{cover * 100:.0f} % of the picture). The models will see it as a blob."
        )
    edge = float(np.mean(np.abs(ink[_ring_mask(ink.shape)]) > noise))
    if sigma > _MAX_BORDER_SIGMA or edge > _MAX_BORDER_OFF:
        why = (
            f"{edge * 100:.0f} % of it stands out from the rest"
            if edge > _MAX_BORDER_OFF
            else f"its brightness varies by ±{sigma:.2f}"
        )
        notes.append(
            f"The border is not a plain background ({why}), so which side is ink is a guess here: a "
            "digit on plain paper, clear of the edges, works best."
        )
    return tuple(notes)


def _thickness(mask: np.ndarray) -> float:
    """The widest disc that fits inside the ink, as a fraction of the ink's bounding box (a stroke's width)."""
    from scipy import ndimage  # imported here: only uploads need it, not the pages

    if not mask.any():
        return 0.0
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    side = max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1
    step = max(1, max(mask.shape) // 128)  # a ratio: a coarser grid gives the same answer, 10x faster
    return float(2 * step * ndimage.distance_transform_edt(np.pad(mask[::step, ::step], 1)).max() / side)


def _shading(ink: np.ndarray) -> tuple[np.ndarray, float]:
    """The paper's uneven lighting as a smooth quadratic surface, and its noise (sigma) around it.

    Fitted first to the border (paper by assumption), then to every pixel that fits it, so the strokes
    never pull the surface up; a quadratic is pinned down by its values on a rectangle's border.
    """
    h, w = ink.shape
    step = max(1, max(h, w) // 64)  # a coarse grid is plenty for a smooth surface
    ys, xs = np.mgrid[0:h:step, 0:w:step]
    basis = lambda y, x: np.stack([np.ones_like(x), x, y, x * x, x * y, y * y], axis=-1)
    grid = basis(2 * ys / max(h - 1, 1) - 1, 2 * xs / max(w - 1, 1) - 1).reshape(-1, 6)
    values = ink[::step, ::step].ravel()
    keep = np.zeros(ys.shape, bool)
    keep[_ring_mask(ys.shape)] = True
    keep, coef, sigma = keep.ravel(), np.zeros(6), 0.0
    for _ in range(5):
        if keep.sum() < 6:
            break
        coef = np.linalg.lstsq(grid[keep], values[keep], rcond=None)[0]
        resid = values - grid @ coef
        sigma = 1.4826 * float(np.median(np.abs(resid[keep])))  # robust to a few inked border pixels
        keep = np.abs(resid) < 3 * sigma + 1 / 255
    fy, fx = np.meshgrid(
        np.linspace(-1, 1, h, dtype=np.float32), np.linspace(-1, 1, w, dtype=np.float32), indexing="ij"
    )
    return basis(fy, fx) @ coef.astype(np.float32), sigma


def _level(flat: np.ndarray, sigma: float) -> np.ndarray:
    """Push the paper to 0 and the ink to 1: shading (already taken off `flat`) and noise up to 4 sigma above it
    count as nothing."""
    peak = float(flat.max())
    lo = min(4 * sigma, 0.5 * peak)
    if peak - lo < _MIN_CONTRAST:  # e.g. a photo of blank paper: only noise and shading
        raise ImageError(_BLANK)
    return np.clip((flat - lo) / (peak - lo), 0, 1).astype(np.float32)


def _crop(ink: np.ndarray) -> np.ndarray:
    """Cut to the bounding box of the ink, ignoring specks fainter than a fifth of the strongest stroke."""
    mask = ink > 0.2 * ink.max()
    if not mask.any():
        raise ImageError(_BLANK)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _centre(patch: np.ndarray, size: int) -> np.ndarray:
    """Paste so the ink's centre of mass sits at (size/2, size/2), shifting by whole pixels as LeCun did."""
    h, w = patch.shape
    mass = float(patch.sum())
    cy = float((patch.sum(axis=1) * np.arange(h)).sum()) / mass
    cx = float((patch.sum(axis=0) * np.arange(w)).sum()) / mass
    top = min(max(math.floor(size / 2 - cy + 0.5), 0), size - h)  # clamped: nothing falls off the canvas
    left = min(max(math.floor(size / 2 - cx + 0.5), 0), size - w)
    canvas = np.zeros((size, size), dtype=np.float32)
    canvas[top : top + h, left : left + w] = patch
    return canvas


def _rgb(img: Image.Image) -> Image.Image:
    """The picture as 8-bit RGB: transparency composited on white, 16-bit and float data scaled by their range."""
    if img.mode.startswith("I") or img.mode == "F":
        grey = _to_grey(img)
        return Image.fromarray(np.round(grey * 255).astype(np.uint8), "L").convert("RGB")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return img.convert("RGB")  # CMYK, palette, YCbCr, grey: Pillow's own conversions


def photo_of(img: Image.Image) -> tuple[np.ndarray, np.ndarray, bool]:
    """(the centred square at PHOTO_SIDE, the whole picture fitted into STEP_SIDE, whether it is in colour)."""
    rgb = _rgb(img)
    w, h = rgb.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    lanczos = Image.Resampling.LANCZOS
    square = rgb.crop((left, top, left + side, top + side)).resize((PHOTO_SIDE,) * 2, lanczos, reducing_gap=3.0)
    whole = rgb.resize(_fit(rgb.size, STEP_SIDE), lanczos, reducing_gap=3.0)
    pixels = np.asarray(square, dtype=np.float32) / 255
    spread = float(np.abs(pixels - pixels.mean(axis=2, keepdims=True)).mean())
    return np.asarray(square, np.uint8), np.asarray(whole, np.uint8), spread > COLOUR_SPREAD


def photo_batch(items: list[Preprocessed], shape: tuple[int, int, int]) -> np.ndarray:
    """Pictures as they are, for a model of input (C,H,W): each centred square resized, grey when C is 1;
    an image sent from a page (no photo kept) as it is. (N,C,H,W) float32 in [0,1]."""
    channels, h, w = shape
    out = []
    for item in items:
        if item.photo is None:
            grey = resize_to(item.image, (h, w))
            out.append(np.repeat(grey[None], channels, axis=0))
            continue
        square = Image.fromarray(item.photo, "RGB").convert("RGB" if channels == 3 else "L")
        pixels = np.asarray(square.resize((w, h), Image.Resampling.LANCZOS), dtype=np.float32) / 255
        out.append(pixels.transpose(2, 0, 1) if channels == 3 else pixels[None])
    return np.stack(out) if out else np.zeros((0, *shape), np.float32)


def photo_steps(pre: Preprocessed, size: int) -> list[tuple[str, np.ndarray]]:
    """A colour model's preprocessing, stage by stage, as (label, (h,w,3) uint8): the upload, its centred
    square, and that square at the model's size."""
    if pre.photo is None or pre.original is None:
        return []
    w, h = pre.size
    side = min(w, h)
    small = (photo_batch([pre], (3, size, size))[0].transpose(1, 2, 0) * 255).round().astype(np.uint8)
    return [
        (f"Your picture ({w} x {h})", pre.original),
        (f"Centre-cropped to {side} x {side}" if w != h else "Already square: nothing cropped", pre.photo),
        (f"Resized to {size} x {size}", small),
    ]


def preprocess(img: Image.Image, *, mnist_style: bool = True, size: int = 28, name: str = "") -> Preprocessed:
    """Turn a decoded image into a size x size float32 digit like MNIST's, keeping every stage for display,
    and keep the picture itself (its centred square in colour) for colour models and the raw comparison."""
    if size < 4:
        raise ValueError(f"size must be at least 4, got {size}")
    photo, original, colourful = photo_of(img)
    kept = functools.partial(Preprocessed, photo=photo, original=original, size=img.size, colourful=colourful)
    grey = _to_grey(img)
    ink, inverted, flat, sigma = _orient(grey)
    notes = _unlike_a_digit(flat, sigma)
    flip = "Inverted: ink bright on black" if inverted else "Not inverted: already light ink on dark"
    steps = [("Greyscale", grey), (flip, ink)]
    if not mnist_style:
        out = _resize(ink, (size, size))
        steps.append((f"Resized to {size}x{size}", out))
        return kept(out, tuple(steps), inverted, name, notes)
    levelled = _level(flat, sigma)
    cropped = _crop(levelled)
    box = max(1, round(size * 20 / 28))
    fitted = _resize(cropped, _fit((cropped.shape[1], cropped.shape[0]), box))
    if fitted.max() <= 0:
        raise ImageError(_BLANK)
    fitted = fitted / fitted.max()  # thin strokes dim when shrunk; MNIST's strokes peak at full white
    out = _centre(fitted, size)
    steps += [
        ("Background removed", levelled),
        ("Cropped to the ink", cropped),
        (f"Fitted into {box}x{box}", fitted),
        (f"Centred by mass in {size}x{size}", out),
    ]
    return kept(out, tuple(steps), inverted, name, notes)


def load_uploads(
    files: list[tuple[str, bytes]], *, mnist_style: bool = True, size: int = 28
) -> tuple[list[Preprocessed], list[tuple[str, str]]]:
    """Decode and preprocess each (name, bytes); bad files become (name, message) instead of raising."""
    good: list[Preprocessed] = []
    bad: list[tuple[str, str]] = []
    for name, data in files:
        try:
            good.append(preprocess(open_image(data, name), mnist_style=mnist_style, size=size, name=name))
        except ImageError as exc:
            bad.append((name, str(exc)))
        except Exception:  # hostile input can trip any Pillow decoder path; the user still gets an answer
            bad.append((name, _UNEXPECTED))
    return good, bad


def load_uploads_within(
    files: list[tuple[str, bytes]], *, mnist_style: bool = True, left: float = float("inf")
) -> tuple[list[Preprocessed], list[tuple[str, str]], int]:
    """load_uploads within a budget of `left` pixels, counted from each header before it is decoded: (good ones
    compacted for a session to keep, bad ones with their message, pixels decoded). Runs in aeviz.decodehelper's
    helper process."""
    good: list[Preprocessed] = []
    bad: list[tuple[str, str]] = []
    used = 0
    for name, data in files:
        try:
            img = open_image(data, name, left - used)
            used += img.size[0] * img.size[1]
            good.append(compact(preprocess(img, mnist_style=mnist_style, name=name)))
        except ImageError as exc:
            bad.append((name, str(exc)))
        except MemoryError:  # the helper's address-space cap
            bad.append((name, _TOO_BIG))
        except Exception:  # hostile input can trip any Pillow decoder path; the user still gets an answer
            bad.append((name, _UNEXPECTED))
    return good, bad, used


def canvas_to_image(rgba: np.ndarray) -> Image.Image:
    """Canvas RGBA (H,W,4) -> black-on-white "L" image; ink is the alpha, or contrast with an opaque fill."""
    arr = np.asarray(rgba)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4) or min(arr.shape[:2]) < 1:
        raise ImageError("The drawing could not be read; please clear the canvas and draw the digit again.")
    scale = 255 if not np.issubdtype(arr.dtype, np.floating) or np.nanmax(arr) > 1 else 1  # 0..255 or 0..1
    arr = np.nan_to_num(arr.astype(np.float32)) / scale
    alpha = arr[..., 3] if arr.shape[2] == 4 else np.ones(arr.shape[:2], np.float32)
    if alpha.min() < 0.99:  # a transparent background: the strokes are wherever something was painted
        ink = alpha
    else:  # an opaque background colour: ink is how far each pixel is from that colour
        fill = np.median(arr[..., :3][_ring_mask(arr.shape)], axis=0)
        ink = np.abs(arr[..., :3] - fill).max(axis=2)
    grey: np.ndarray = np.clip(1 - ink, 0, 1)  # numpy's stubs lose the float dtype through abs/max/clip
    return Image.fromarray(np.round(grey * 255).astype(np.uint8), "L")


def resize_to(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A (H,W) float image in [0,1] resized (antialiased) to (h, w); unchanged when already that size."""
    image = np.asarray(image, dtype=np.float32)
    if image.shape == tuple(size):
        return image
    return _resize(image, (size[1], size[0]))


# --- keeping and showing the stages (the "Your images" page) --------------------------------------------------


def compact(pre: Preprocessed, side: int = 160) -> Preprocessed:
    """The same result with every stage shrunk to fit side x side: a session keeps dozens of these in memory."""

    def shrink(a: np.ndarray) -> np.ndarray:
        return a if max(a.shape) <= side else _resize(a, _fit((a.shape[1], a.shape[0]), side))

    steps = tuple((label, shrink(a)) for label, a in pre.steps)
    return dataclasses.replace(pre, steps=steps)


def step_pictures(pre: Preprocessed, side: int = STEP_SIDE, steps=None) -> list[tuple[str, np.ndarray]]:
    """Each stage (grey (h,w) in [0,1], or colour (h,w,3) uint8) as a side x side uint8 picture for display:
    fitted, aspect kept, small ones pixel-doubled."""
    out = []
    for label, a in pre.steps if steps is None else steps:
        a = np.asarray(a, np.float32) / (255 if a.dtype == np.uint8 else 1)
        h, w = a.shape[:2]
        factor = max(1, side // max(h, w))  # whole-pixel upscaling keeps a 28x28 digit crisp
        big = a.repeat(factor, axis=0).repeat(factor, axis=1) if factor > 1 else a
        if max(big.shape[:2]) > side:
            size = _fit((big.shape[1], big.shape[0]), side)
            big = (
                np.stack([_resize(c, size) for c in np.moveaxis(big, -1, 0)], -1)
                if big.ndim == 3
                else _resize(big, size)
            )
        frame = np.full((side, side, *big.shape[2:]), 0.5, np.float32)  # mid grey: where the stage's pixels end
        top, left = (side - big.shape[0]) // 2, (side - big.shape[1]) // 2
        frame[top : top + big.shape[0], left : left + big.shape[1]] = big
        out.append((label, np.round(frame * 255).astype(np.uint8)))
    return out
