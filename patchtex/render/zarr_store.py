"""A canvas written to a chunked Zarr v3 store with an OME-Zarr multiscale pyramid,
through Dask, resumable.

Layout (`path/`): arrays `0`, `1`, ... of shape (C, H/2^k, W/2^k) (floor), chunks (C, chunk,
chunk); level 0 is the plane's window (x, y, W, H), level k the 2x2 box average of level
k-1, rounded to the nearest value (halves to even), down to the first level that fits in
one chunk. The group's attributes hold the OME-Zarr 0.5 `multiscales` block (axes c, y,
x; scale 2^k) and a `patchtex` block saying what was rendered (model hash, seed, size,
chunk, dtype, precision).

Each chunk is one task: level-0 tasks render their window and write it; level-k tasks
read their 2x2 children from the store once those are written, average and write. A task
writes its chunk and then an empty marker file `_patchtex_done/LEVEL/ROW.COL`; only a
marked chunk counts as complete. Writing to a store that holds the same render resumes
it automatically: marked chunks are not rendered again, unmarked ones (never started,
or cut off mid-write) are written whole.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .. import __version__
from ..model import Pyramid, downsample
from .chunks import DTYPES, ModelPayload, chunk_edges, render_chunk

DONE = "_patchtex_done"


@dataclass(frozen=True)
class ZarrResult:
    """What a write did: the store, its levels, and chunks per kind of work."""

    path: Path
    levels: int
    total: int  # chunks over every level
    written: int  # chunks written by this call (rendered or downsampled)
    skipped: int  # chunks found complete (a resumed write)


def level_sizes(width: int, height: int, chunk: int) -> list[tuple[int, int]]:
    """(width, height) per pyramid level, halving (floor) until one chunk holds a level."""
    sizes = [(width, height)]
    while max(sizes[-1]) > chunk and min(sizes[-1]) > 1:
        w, h = sizes[-1]
        sizes.append((max(1, w // 2), max(1, h // 2)))
    return sizes


def _marker(path: Path, level: int, row: int, col: int) -> Path:
    return path / DONE / str(level) / f"{row}.{col}"


def _mark(path: Path, level: int, row: int, col: int) -> None:
    marker = _marker(path, level, row, col)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()


def render_store(
    payload: ModelPayload,
    path: str,
    seed: int,
    origin: tuple[int, int],
    row: int,
    col: int,
    chunk: int,
    width: int,
    height: int,
    dtype: str,
) -> int:
    """Task: render level-0 chunk (row, col), write it, mark it. Returns 1."""
    import zarr

    x, y = col * chunk, row * chunk
    w, h = min(chunk, width - x), min(chunk, height - y)
    pixels = render_chunk(payload, seed, origin[0] + x, origin[1] + y, w, h, dtype)
    zarr.open_array(os.path.join(path, "0"), mode="r+")[:, y : y + h, x : x + w] = pixels
    _mark(Path(path), 0, row, col)
    return 1


def downsample_store(path: str, level: int, row: int, col: int, chunk: int, *children: int) -> int:
    """Task: level `level` chunk (row, col) as the 2x2 box average of level - 1 (whose
    chunks below it are `children`, already written), write it, mark it. Returns 1."""
    import zarr

    source = zarr.open_array(os.path.join(path, str(level - 1)), mode="r")
    target = zarr.open_array(os.path.join(path, str(level)), mode="r+")
    _, height, width = target.shape
    y, x = row * chunk, col * chunk
    h, w = min(chunk, height - y), min(chunk, width - x)
    block = torch.from_numpy(source[:, 2 * y : 2 * (y + h), 2 * x : 2 * (x + w)].astype(np.float32))
    mean = downsample(block[None])[0].numpy()  # the pyramid's own 2x2 box average (exact for 8/16-bit sums)
    target[:, y : y + h, x : x + w] = np.rint(mean).astype(target.dtype)
    _mark(Path(path), level, row, col)
    return 1


def _ome(sizes: list[tuple[int, int]], name: str) -> dict:
    return {
        "version": "0.5",
        "multiscales": [
            {
                "name": name,
                "axes": [
                    {"name": "c", "type": "channel"},
                    {"name": "y", "type": "space"},
                    {"name": "x", "type": "space"},
                ],
                "datasets": [
                    {"path": str(k), "coordinateTransformations": [{"type": "scale", "scale": [1.0, 2.0**k, 2.0**k]}]}
                    for k in range(len(sizes))
                ],
                "type": "mean",
            }
        ],
    }


def _open(path: Path, record: dict, sizes, channels: int, chunk: int, dtype: str, overwrite: bool):
    """The store at `path`, created for `record` or checked to hold the same render."""
    import zarr

    if overwrite and path.exists():
        shutil.rmtree(path)
    if path.exists():
        try:
            group = zarr.open_group(str(path), mode="r+")
        except Exception:  # zarr raises several kinds for "not a group"
            raise ValueError(
                f"{path} exists and is not a patchtex Zarr store; remove it or choose another path"
            ) from None
        found = dict(group.attrs.get("patchtex", {}))
        found.pop("patchtex_version", None)
        if found != record:
            differs = sorted(k for k in record if found.get(k) != record.get(k))
            raise ValueError(
                f"{path} holds a different render ({', '.join(differs) or 'not patchtex'} differ); "
                "remove it, pass --overwrite, or choose another path"
            )
        return group
    group = zarr.open_group(str(path), mode="w-", zarr_format=3)
    for k, (w, h) in enumerate(sizes):
        group.create_array(str(k), shape=(channels, h, w), chunks=(channels, chunk, chunk), dtype=dtype, fill_value=0)
    group.attrs.update({"ome": _ome(sizes, path.stem), "patchtex": {**record, "patchtex_version": __version__}})
    return group


def write_zarr(
    pyramid: Pyramid,
    path: str | os.PathLike,
    width: int,
    height: int,
    *,
    seed: int = 0,
    origin: tuple[int, int] = (0, 0),
    chunk: int = 512,
    dtype: str = "uint8",
    bf16: bool = False,
    client=None,
    scheduler: str = "sync",
    overwrite: bool = False,
    on_chunk: Callable[[int, int], None] | None = None,
) -> ZarrResult:
    """Render the window (x, y, width, height) of the seed's plane into a Zarr store,
    (x, y) = `origin`.

    client: a `distributed.Client` to run on (a local cluster or a remote scheduler);
    without one the tasks run in this process with dask's `scheduler` ("sync" or
    "threads"). A store that holds the same render is resumed; one that holds another
    is refused (unless `overwrite`). on_chunk(done, total) is called as chunks finish."""
    import dask

    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    if chunk < 16:
        raise ValueError(f"chunk must be at least 16 px, got {chunk}")
    path = Path(path)
    payload = ModelPayload.of(pyramid, bf16)
    record = {
        "model_sha256": payload.sha256,
        "seed": seed,
        "origin": list(origin),
        "width": width,
        "height": height,
        "chunk": chunk,
        "dtype": dtype,
        "bf16": bf16,
    }
    sizes = level_sizes(width, height, chunk)
    _open(path, record, sizes, pyramid.config.image_channels, chunk, dtype, overwrite)
    model = dask.delayed(payload, traverse=False)
    store = str(path)
    tasks, total, skipped = [], 0, 0
    below: dict[tuple[int, int], object] = {}  # the previous level's pending tasks by (row, col)
    for level, (w, h) in enumerate(sizes):
        pending: dict[tuple[int, int], object] = {}
        for row in range(len(chunk_edges(h, chunk))):
            for col in range(len(chunk_edges(w, chunk))):
                total += 1
                if _marker(path, level, row, col).exists():
                    skipped += 1
                    continue
                key = f"patchtex-zarr-{payload.sha256[:12]}-{level}-{row}-{col}"
                if level == 0:
                    task = dask.delayed(render_store, pure=False)(
                        model, store, seed, tuple(origin), row, col, chunk, width, height, dtype, dask_key_name=key
                    )
                else:
                    children = [
                        below[(r, c)] for r in (2 * row, 2 * row + 1) for c in (2 * col, 2 * col + 1) if (r, c) in below
                    ]
                    task = dask.delayed(downsample_store, pure=False)(
                        store, level, row, col, chunk, *children, dask_key_name=key
                    )
                pending[(row, col)] = task
                tasks.append(task)
        below = pending
    done = skipped
    if on_chunk is not None:
        on_chunk(done, total)
    if tasks:
        if client is not None:
            from distributed import as_completed

            futures = client.compute(tasks)
            for future in as_completed(futures):
                future.result()
                done += 1
                if on_chunk is not None:
                    on_chunk(done, total)
        else:
            from dask.callbacks import Callback

            class Progress(Callback):
                def _posttask(self, key, result, dsk, state, worker_id):
                    nonlocal done
                    if isinstance(key, str) and key.startswith("patchtex-zarr-"):
                        done += 1
                        if on_chunk is not None:
                            on_chunk(done, total)

            with Progress():
                dask.compute(*tasks, scheduler=scheduler)
    return ZarrResult(path, len(sizes), total, len(tasks), skipped)
