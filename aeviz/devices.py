"""Where and how a model trains: the device, a seeded RNG, the optimizer, memory layout and allocator settings."""

from __future__ import annotations

import contextlib
import ctypes
import functools
import platform
import sys
from collections.abc import Iterator

import torch

from .models import AutoEncoder


def pick_device(requested: str = "auto") -> torch.device:
    """cuda > mps > cpu unless a device is named."""
    if requested != "auto":
        return torch.device(requested)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    threads = torch.get_num_threads()
    cpu = f"CPU ({threads} thread{'' if threads == 1 else 's'})"
    return {"mps": "Apple GPU (MPS)", "cpu": cpu}.get(device.type, str(device))


def adam(model: torch.nn.Module, lr: float, device: torch.device) -> torch.optim.Optimizer:
    """Adam with the fused kernel: one launch per parameter group on CUDA, and on 2 CPU cores 15 % faster per
    epoch than the default per-tensor loop (dense 784-64-784 on MNIST: 0.60 vs 0.70 s). Stepping the private
    kernel directly saved another ~100 us a step (90 vs 186), ~22 ms of a 235-step MNIST epoch, too little to
    rest on a private torch API (benchmarks/train_speed.py, commit history)."""
    try:
        return torch.optim.Adam(model.parameters(), lr=lr, fused=True)
    except (RuntimeError, TypeError):  # an older torch or a device without the fused kernel
        return torch.optim.Adam(model.parameters(), lr=lr)


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Set every parameter group's learning rate (a schedule's, between steps: the fused step reads it)."""
    for group in optimizer.param_groups:
        group["lr"] = lr


@contextlib.contextmanager
def seeded(seed: int, device: torch.device) -> Iterator[None]:
    """The global RNG (CPU, and `device` if a GPU) seeded for the block and put back as it was afterwards.

    The draws inside nn.Module constructors, dropout, a VAE's sampling and training-time noise use the global
    RNG; seeding it for good would reseed every other user of it in the process (a server's threads)."""
    gpus = [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=gpus):
        torch.random.default_generator.manual_seed(seed)
        for gpu in gpus:
            with torch.cuda.device(gpu):
                torch.cuda.manual_seed(seed)
        if device.type == "mps":  # seeded for reproducibility, but not put back: fork_rng keeps CPU and CUDA
            torch.mps.manual_seed(seed)
        yield


def memory_format(model: AutoEncoder) -> torch.memory_format:
    """channels_last for conv nets: oneDNN's convolutions run ~30 % faster per step on 2 CPU cores (28 vs
    40 ms for a conv q=16 batch of 256), and cuDNN prefers it too; dense nets keep the default layout."""
    convs = (torch.nn.Conv2d, torch.nn.ConvTranspose2d)
    return torch.channels_last if any(isinstance(m, convs) for m in model.modules()) else torch.contiguous_format


@functools.cache
def keep_freed_memory() -> bool:
    """Stop glibc handing each step's freed activations back to the kernel, for this process (once).

    By default blocks over 128 kB are mmap'ed and the heap's free top over 128 kB is trimmed, so every step
    faults its activations in afresh: 4,100 page faults per conv q16 step of 256 images (16 MB; ~3.5 us each in
    this VM, some 14 ms of a 30-45 ms step) and 107 per dense step; with these thresholds 15 and 0. The heap
    then keeps up to 256 MB it could have returned; results are unchanged.

    Called by the entry points of processes that train or time training (the CLI, a job's process, the zoo
    build, the app server), never by the trainer: importing aeviz into a notebook leaves its allocator alone."""
    if sys.platform != "linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        mmap_threshold, trim_threshold = -3, -1  # M_MMAP_THRESHOLD, M_TRIM_THRESHOLD in malloc.h
        return bool(libc.mallopt(mmap_threshold, 64 << 20)) and bool(libc.mallopt(trim_threshold, 256 << 20))
    except (OSError, AttributeError):
        return False


def gather(data: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """data[index] in data's layout. index_select copies whole rows (5x faster than advanced indexing for a
    batch of 256 MNIST images: 48 vs 230 us), but returns the default layout: a channels_last batch is
    gathered as NHWC rows and viewed back."""
    if data.dim() == 4 and not data.is_contiguous() and data.is_contiguous(memory_format=torch.channels_last):
        return data.permute(0, 2, 3, 1).index_select(0, index).permute(0, 3, 1, 2)
    return data.index_select(0, index)
