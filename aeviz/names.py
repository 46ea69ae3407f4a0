"""Model names: what a safe file stem is, the name a new model gets by default, the first free one in a folder."""

from __future__ import annotations

import re
import time
from collections.abc import Set as AbstractSet
from pathlib import Path

from .checkpoints import SUFFIX
from .imagesets import upload_stem
from .ownformat import is_own, parse

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def check_name(name: str, taken: AbstractSet[str] = frozenset()) -> str:
    """A model name that is a safe file stem and not taken yet; raises ValueError saying why not."""
    name = name.strip().removesuffix(SUFFIX)
    if not NAME_RE.fullmatch(name) or ".." in name:
        raise ValueError(
            f"{name!r} is not a usable model name: use letters, digits, '.', '-' and '_' "
            "(at most 100, starting with a letter or digit)"
        )
    if name in taken:
        raise ValueError(f"a model named {name!r} already exists; choose another name")
    return name


def default_name(dataset: str, slug: str, *, stamped: bool = False) -> str:
    """'<dataset>-<slug>' (e.g. mnist-dense-q16-bce), a folder dataset by its folder's name, an upload by its
    file's; `stamped` adds
    '-<YYYYmmdd-HHMMSS>', so that models trained from a browser never collide with the zoo or each other."""
    if is_own(dataset):
        kind, fmt, rest = parse(dataset)
        # a folder by its own name, an upload after its file ('shoes.zip': shoes-dense-q16-...), not its digest
        stem = (Path(rest).expanduser().resolve().name or "folder") if kind == "folder" else upload_stem(dataset)
        dataset = stem + fmt.tag.replace("@", "-")  # photos-rgb32-conv-q16-mse
    stamp = time.strftime("-%Y%m%d-%H%M%S") if stamped else ""
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", f"{dataset}-{slug}").lstrip("._-")  # a safe stem, as check_name wants
    return stem[: 100 - len(stamp)] + stamp


def stems_in(folder: Path) -> set[str]:
    """The names of every checkpoint file in a folder, readable or not: a damaged file is still somebody's."""
    return {p.name.removesuffix(SUFFIX) for p in folder.glob(f"*{SUFFIX}")} if folder.is_dir() else set()


def free_name(base: str, taken: AbstractSet[str]) -> str:
    """`base`, or `base-2`, `base-3`, ...: the first that is not taken."""
    stem, n = base, 2
    while stem in taken:
        stem, n = f"{base}-{n}", n + 1
    return stem
