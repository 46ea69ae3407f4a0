"""How the user's own image sets are named: where the pictures are, and the shape they are read at.

`folder:PATH` and `upload:<digest>` are read grey at 28x28 (MNIST-sized, the names earlier models carry);
`folder@rgb32:PATH`, `upload@rgb64:<digest>`, `folder@grey64:PATH` say the channels and size. The name is what a
checkpoint stores as its dataset, so a page shows a model's test pictures at the shape it was trained on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

KINDS = ("folder", "upload")
SIZES = (28, 32, 64)  # the sizes conv bodies are laid out for (aeviz.models.conv_widths)
_NAME = re.compile(r"(folder|upload)(?:@(grey|rgb)(\d{2}))?:(.*)", re.DOTALL)


@dataclass(frozen=True)
class Format:
    """The shape an own set's pictures are read at: centre-cropped to a square, resized, grey or colour."""

    channels: int = 1
    size: int = 28

    def __post_init__(self) -> None:
        if self.channels not in (1, 3):
            raise ValueError(f"pictures are read grey (1 channel) or in colour (3), not {self.channels} channels")
        if self.size not in SIZES:
            raise ValueError(f"pictures are read at {', '.join(map(str, SIZES))} pixels square, not {self.size}")

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.channels, self.size, self.size)

    @property
    def tag(self) -> str:
        """'' for the grey 28x28 default, else '@rgb32' and the like."""
        return "" if self == GREY28 else f"@{'rgb' if self.channels == 3 else 'grey'}{self.size}"

    @property
    def key(self) -> str:
        """How a link spells it: 'grey28', 'rgb32'."""
        return f"{'rgb' if self.channels == 3 else 'grey'}{self.size}"

    def describe(self) -> str:
        return f"{'colour' if self.channels == 3 else 'grey'}, {self.size}x{self.size}"


GREY28 = Format()  # the default: what `folder:` and `upload:` names without a tag are read at
CHOICES = (GREY28, Format(3, 32), Format(3, 64), Format(1, 64))  # what the Train page offers


def from_key(key: str) -> Format:
    """The format a link's 'rgb32' names; ValueError if none."""
    match = re.fullmatch(r"(grey|rgb)(\d{2})", key)
    if match is None:
        raise ValueError(f"{key[:40]!r} is not a picture format (grey28, rgb32, rgb64, grey64)")
    return Format(3 if match[1] == "rgb" else 1, int(match[2]))


def own_kind(name: str) -> str | None:
    """'folder' or 'upload' for an own set's name (well formed or not: parse() says what is wrong), else None."""
    match = re.match(r"(folder|upload)(@[^:]*)?:", name)
    return match[1] if match else None


def is_own(name: str) -> bool:
    """Whether a dataset name is a folder's or an upload's."""
    return own_kind(name) is not None


def is_upload(name: str) -> bool:
    """Whether a dataset name is an upload's (any format): its pictures live in a workspace, not a folder."""
    return own_kind(name) == "upload"


def parse(name: str) -> tuple[str, Format, str]:
    """('folder' or 'upload', its format, the path or digest) of an own set's name; ValueError if malformed."""
    match = _NAME.fullmatch(name)
    if match is None:
        raise ValueError(
            f"{name[:80]!r} is not a folder or upload dataset: write folder:PATH, or folder@rgb32:PATH for colour "
            f"(sizes {', '.join(map(str, SIZES))}; grey or rgb)"
        )
    kind, colour, size, rest = match.groups()
    fmt = Format(3 if colour == "rgb" else 1, int(size)) if colour else GREY28
    return kind, fmt, rest


def own_name(kind: str, rest: str, fmt: Format = GREY28) -> str:
    """The dataset name of a folder (rest: its path) or an upload (rest: its digest) read at `fmt`."""
    if kind not in KINDS:
        raise ValueError(f"an own set is a folder or an upload, not {kind!r}")
    return f"{kind}{fmt.tag}:{rest}"


def with_format(name: str, fmt: Format) -> str:
    """The same pictures read at another format."""
    kind, _, rest = parse(name)
    return own_name(kind, rest, fmt)
