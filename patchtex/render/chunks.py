"""The canvas as a lazily evaluated Dask array whose chunks are windows of the plane.

Axis order is (C, H, W): channels first, as OME-Zarr (NGFF) requires for the stores this
feeds and as napari, neuroglancer and xarray's image readers expect of such stores; a
chunk holds every channel of its window, so one task renders one window once.

The model travels as one graph key holding its safetensors bytes (`ModelPayload`):
a scheduler ships it to each worker once, every chunk task depends on that key, and each
worker process rebuilds the pyramid once (`_pyramid`, cached by content hash).
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass

import numpy as np
import torch

from ..canvas import Canvas
from ..checkpoint import pyramid_bytes, pyramid_from_bytes
from ..images import to_uint8, to_uint16
from ..model import Pyramid

DTYPES = ("uint8", "uint16")


@dataclass(frozen=True)
class ModelPayload:
    """A pyramid as bytes (safetensors, no pickle) plus its SHA-256: what travels to a
    worker. `bf16` is decided once, by the client, so every worker renders alike."""

    data: bytes
    sha256: str
    bf16: bool

    @classmethod
    def of(cls, pyramid: Pyramid, bf16: bool) -> ModelPayload:
        return cls(pyramid_bytes(pyramid), weights_sha256(pyramid), bf16)


def weights_sha256(pyramid: Pyramid) -> str:
    """A hash of the configuration and every weight, in a fixed order (the safetensors
    bytes are not stable: their header's metadata order varies from call to call)."""
    digest = hashlib.sha256(pyramid.config.to_json().encode())
    for key, value in sorted(pyramid.state_dict().items()):
        digest.update(key.encode())
        digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


_PYRAMIDS: dict[str, Pyramid] = {}
_LOCK = threading.Lock()


def _pyramid(payload: ModelPayload) -> Pyramid:
    """The payload's pyramid, rebuilt once per process."""
    with _LOCK:
        if payload.sha256 not in _PYRAMIDS:
            _PYRAMIDS.clear()  # one model per process at a time is all a render needs
            _PYRAMIDS[payload.sha256] = pyramid_from_bytes(payload.data)
        return _PYRAMIDS[payload.sha256]


def render_chunk(payload: ModelPayload, seed: int, x: int, y: int, width: int, height: int, dtype: str) -> np.ndarray:
    """Window (x, y, width, height) of the seed's plane as a (C, height, width) array."""
    canvas = Canvas(_pyramid(payload), seed, device=torch.device("cpu"), bf16=payload.bf16)
    return to_array(canvas.window(x, y, width, height), dtype)


def to_array(pixels: torch.Tensor, dtype: str) -> np.ndarray:
    """[1,C,H,W] in [-1,1] -> (C, H, W) uint8 or uint16, rounded as every file output is."""
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    hwc = to_uint8(pixels) if dtype == "uint8" else to_uint16(pixels)
    return np.ascontiguousarray(hwc.transpose(2, 0, 1))


def chunk_edges(total: int, chunk: int) -> tuple[int, ...]:
    """Chunk lengths along one axis: `chunk` each, the last one shorter."""
    return tuple(min(chunk, total - start) for start in range(0, total, chunk))


def canvas_array(
    pyramid: Pyramid,
    width: int,
    height: int,
    *,
    seed: int = 0,
    x: int = 0,
    y: int = 0,
    chunks: int | tuple[int, int] = 512,
    dtype: str = "uint8",
    bf16: bool = False,
):
    """The window (x, y, width, height) of the seed's plane as a lazy dask array of shape
    (C, height, width). chunks: the chunk side, or (rows, columns)."""
    import dask.array as da
    from dask.base import tokenize
    from dask.highlevelgraph import HighLevelGraph

    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    rows, cols = (chunks, chunks) if isinstance(chunks, int) else chunks
    if min(width, height, rows, cols) < 1:
        raise ValueError("the size and the chunks must be at least 1 px")
    payload = ModelPayload.of(pyramid, bf16)
    model_key = f"patchtex-model-{payload.sha256[:16]}-{int(bf16)}"
    name = "patchtex-canvas-" + tokenize(payload.sha256, bf16, seed, x, y, width, height, rows, cols, dtype)
    ys, xs = chunk_edges(height, rows), chunk_edges(width, cols)
    graph: dict = {model_key: payload}
    top = y
    for i, h in enumerate(ys):
        left = x
        for j, w in enumerate(xs):
            graph[(name, 0, i, j)] = (render_chunk, model_key, seed, left, top, w, h, dtype)
            left += w
        top += h
    layer = HighLevelGraph.from_collections(name, graph)
    channels = pyramid.config.image_channels
    return da.Array(layer, name, chunks=((channels,), ys, xs), dtype=np.dtype(dtype))
