"""Runtime choices: the numeric precision a model runs at, and process-wide settings for
an application that owns its process (the CLI calls `reuse_freed_memory`).

Precision: "auto" runs convolutions under bfloat16 autocast where the device supports it
natively (CPUs with AVX-512 BF16 or AMX, most CUDA GPUs) and in float32 elsewhere; "bf16"
insists on it; "fp32" never uses it. bf16 is about twice as fast on such CPUs, but the same
seed then gives visibly different pixels on machines with and without native bf16 (the
texture is the same kind, the pixels are not). "fp32" gives the same pixels on every CPU.

Memory: rendering allocates tensors of tens of MB per conv layer. glibc serves allocations
that large with fresh `mmap` pages and returns them on free, so every layer pays page
faults for its output: measured on a 2-core CPU, a 2048x2048 synth took 1.29 s with the
default allocator and 0.97 s with these settings. Raising the mmap and trim thresholds
makes freed blocks get reused instead. Peak memory is unchanged (rendering is tile by
tile); freed memory is kept by the process until it exits.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from typing import TYPE_CHECKING

from .config import PRECISIONS, check_precision  # noqa: F401  (re-exported: the runtime choices)

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_KEEP_BYTES = 1 << 30

if TYPE_CHECKING:  # torch is imported where it is used: the CLI calls reuse_freed_memory before it
    import torch


def bf16_supported(device: torch.device) -> bool:
    """Whether `device` runs bfloat16 convolutions natively."""
    import torch

    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return False


def use_bf16(precision: str, device: torch.device) -> bool:
    """Whether to run convolutions under bfloat16 autocast for `precision` on `device`."""
    if check_precision(precision) == "fp32":
        return False
    supported = bf16_supported(device)
    if precision == "bf16" and not supported:
        raise ValueError(f"bfloat16 is not supported natively on {device}; use precision fp32 or auto")
    return supported


def reuse_freed_memory() -> bool:
    """Ask glibc malloc to reuse freed large blocks (Linux only; a no-op returning False
    elsewhere, or where the C library is not glibc)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, _KEEP_BYTES)) and bool(mallopt(_M_TRIM_THRESHOLD, _KEEP_BYTES))
