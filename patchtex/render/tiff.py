"""A pyramidal, tiled BigTIFF from a patchtex Zarr store, for tools that read TIFF.

Level 0 is the main image; levels 1, 2, ... are its SubIFDs (reduced-resolution images,
as in Cloud Optimized GeoTIFFs and OME-TIFF pyramids), all with 512 px tiles. Tiles are
read from the store one tile row at a time, so memory stays at one row of tiles.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..images import atomic_path

TILE = 512


def _tiles(array) -> Iterator[np.ndarray]:
    """(C, H, W) zarr array -> (TILE, TILE, C) tiles, row by row, zero-padded at the edges."""
    channels, height, width = array.shape
    for y in range(0, height, TILE):
        band = np.asarray(array[:, y : y + TILE, :]).transpose(1, 2, 0)
        for x in range(0, width, TILE):
            tile = np.zeros((TILE, TILE, channels), dtype=band.dtype)
            part = band[:, x : x + TILE]
            tile[: part.shape[0], : part.shape[1]] = part
            yield tile


def zarr_to_tiff(store: str | os.PathLike, path: str | os.PathLike) -> Path:
    """Write every level of the patchtex Zarr `store` into one tiled BigTIFF at `path`
    (atomically: a temporary file renamed when complete)."""
    import tifffile
    import zarr

    group = zarr.open_group(str(store), mode="r")
    levels = [group[str(k)] for k in range(len(group.attrs["ome"]["multiscales"][0]["datasets"]))]
    with atomic_path(path) as tmp, tifffile.TiffWriter(tmp, bigtiff=True) as tif:
        for k, level in enumerate(levels):
            channels, height, width = level.shape
            photometric = "rgb" if channels in (3, 4) else "minisblack"
            extra = {"extrasamples": ["unassalpha"]} if channels in (2, 4) else {}
            tif.write(
                _tiles(level),
                shape=(height, width, channels),
                dtype=level.dtype,
                tile=(TILE, TILE),
                photometric=photometric,
                planarconfig="contig",
                compression="zlib",
                subifds=len(levels) - 1 if k == 0 else None,
                subfiletype=1 if k else 0,
                metadata=None,
                **extra,
            )
    return Path(path)
