"""Every AEVIZ_* setting, declared once: its variable, type, default and meaning, read and checked in one place."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

PREFIX = "AEVIZ_"


class SettingsError(ValueError):
    """An AEVIZ_* variable whose value cannot be used; the message names it and says what it must be."""


def _setting(default: Any, doc: str, kind: str, minimum: float | None = None) -> Any:
    return field(default=default, metadata={"doc": doc, "kind": kind, "minimum": minimum})


@dataclass(frozen=True)
class Settings:
    """This process's settings. Each field is the variable AEVIZ_<FIELD NAME IN CAPITALS>; None means "not set:
    the documented fallback applies"."""

    data_dir: Path | None = _setting(None, "where MNIST, Fashion-MNIST and CIFAR-10 are (torchvision's layout)", "path")
    cache_dir: Path | None = _setting(
        None, "parsed datasets and fitted maps; default `$XDG_CACHE_HOME/aeviz` (`~/.cache/aeviz`)", "path"
    )
    home: Path | None = _setting(None, "your checkpoints and session models; default `~/.local/share/aeviz`", "path")
    zoo_dir: Path | None = _setting(None, "another zoo instead of the repository's `checkpoints/`", "path")
    adapters: tuple[Path, ...] = _setting((), "the operator's adapter files (`os.pathsep`-separated)", "paths")
    train_folders: tuple[Path, ...] = _setting(
        (), "server folders the Train page may read (`os.pathsep`-separated); none unless named", "paths"
    )
    torch_threads: int = _setting(1, "torch threads of the app (concurrent students do not fight over cores)", "int", 1)
    warm_up: bool = _setting(True, "`0`: no start-up thread (parse data, check baselines, time training)", "bool")
    estimates: bool = _setting(
        True, "`0`: the Train page times no training and gives no estimate of a run's length", "bool"
    )
    max_jobs: int = _setting(1, "training jobs running at once", "int", 1)
    max_queued: int = _setting(8, "training jobs waiting", "int", 0)
    browser_max_jobs: int = _setting(
        1, "training jobs one browser may have running or waiting, all its tabs together", "int", 1
    )
    job_idle_s: float = _setting(120.0, "a job whose page has not asked for it in this long is stopped", "float", 1)
    job_max_s: float = _setting(3600.0, "the longest a training job may run", "float", 1)
    job_memory_mb: float | None = _setting(
        None, "peak memory of one training job; default a quarter of the machine's memory", "float", 1
    )
    job_threads: int | None = _setting(None, "torch threads of a training job; default half the cores", "int", 1)
    ray_address: str | None = _setting(
        None,
        "a Ray cluster (`host:6379`, `auto`) to run training jobs, map fits and kNN runs on, with `pip install "
        '"aeviz[cluster]"`; unset: training in child processes of this server, fits in its helper process',
        "str",
    )
    folder_max_entries: int = _setting(
        100_000, "directory or archive entries reading one server folder or archive may visit", "int", 1
    )
    folder_max_files: int = _setting(20_000, "image files one folder or archive may hold", "int", 1)
    folder_max_mb: float = _setting(
        1024.0, "megabytes one folder's images may take (an archive's: unpacked)", "float", 1e-6
    )
    folder_max_s: float = _setting(120.0, "seconds reading and decoding one folder or archive may take", "float", 1)
    folder_max_megapixels: float = _setting(
        4000.0, "megapixels one folder or archive's pictures may decode to (from their headers)", "float", 1e-6
    )
    session_max_models: int = _setting(8, "models one browser may keep (all its tabs and visits together)", "int", 1)
    sessions_max_models: int = _setting(
        400,
        "models all browsers together may keep; when full, a new one replaces the oldest model of the browser "
        "that changed nothing for longest",
        "int",
        1,
    )
    session_retention_h: int = _setting(24, "hours a browser's models are kept after it last trained", "int", 1)
    upload_max_files: int = _setting(64, "files one session's uploaders may hold", "int", 1)
    upload_max_mb: int = _setting(100, "megabytes one session's uploaders may hold", "int", 1)
    upload_max_megapixels: float = _setting(
        200.0,
        "megapixels one upload's pictures may decode to (a training set, or one batch on Your images)",
        "float",
        1e-6,
    )
    imported_memory_mb: float = _setting(
        1024.0, "peak tensor memory of one call of an imported model's program (on up to 256 inputs)", "float", 1
    )
    imported_gops: float = _setting(
        25.0,
        "billions of operations one call of an imported model's program may take (up to 256 inputs)",
        "float",
        1e-3,
    )

    @staticmethod
    def variable(name: str) -> str:
        return PREFIX + name.upper()


def _parse(raw: str, kind: str, variable: str, minimum: float | None) -> Any:
    if kind == "path":
        return Path(raw).expanduser()
    if kind == "paths":
        return tuple(Path(p.strip()).expanduser() for p in raw.split(os.pathsep) if p.strip())
    if kind == "str":
        return raw.strip()
    if kind == "bool":
        if raw.strip().lower() not in ("0", "1", "true", "false", "yes", "no"):
            raise SettingsError(f"{variable} must be 1 or 0, not {raw[:40]!r}")
        return raw.strip().lower() in ("1", "true", "yes")
    try:
        value = int(raw) if kind == "int" else float(raw)
    except ValueError:
        what = "a whole number" if kind == "int" else "a number"
        raise SettingsError(f"{variable} must be {what}, not {raw[:40]!r}") from None
    if value != value or value in (float("inf"), float("-inf")) or (minimum is not None and value < minimum):
        raise SettingsError(f"{variable} must be at least {minimum:g}, not {raw[:40]!r}")
    return value


_cache: dict[tuple, Settings] = {}


def current() -> Settings:
    """The settings the environment gives now, checked once per distinct environment (tests change it)."""
    environ = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith(PREFIX)))
    found = _cache.get(environ)
    if found is None:
        found = _cache[environ] = _read(dict(environ))
        if len(_cache) > 64:
            _cache.pop(next(iter(_cache)))
    return found


def _read(environ: dict[str, str]) -> Settings:
    values = {}
    for f in fields(Settings):
        raw = environ.get(Settings.variable(f.name), "")
        if raw.strip():
            values[f.name] = _parse(raw, f.metadata["kind"], Settings.variable(f.name), f.metadata["minimum"])
    return Settings(**values)


def table() -> str:
    """README's table of settings, made from the declarations (a test keeps README's copy equal to it)."""
    rows = ["| variable | default | what it sets |", "| --- | --- | --- |"]
    for f in fields(Settings):
        rows.append(f"| `{Settings.variable(f.name)}` | {_shown(f.default)} | {f.metadata['doc']} |")
    return "\n".join(rows)


def _shown(default: Any) -> str:
    if default is None or default == ():
        return "unset"
    if isinstance(default, bool):
        return "1" if default else "0"
    return f"{default:g}" if isinstance(default, float) else str(default)
