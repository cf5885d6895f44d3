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
from ..streaming import TIFF_TILE, tiff_colour, tiff_tiles


def _bands(array) -> Iterator[np.ndarray]:
    """(C, H, W) zarr array -> its rows, TIFF_TILE at a time, as [h,W,C] arrays."""
    for y in range(0, array.shape[1], TIFF_TILE):
        yield np.asarray(array[:, y : y + TIFF_TILE, :]).transpose(1, 2, 0)


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
            tif.write(
                tiff_tiles(_bands(level), width),
                shape=(height, width, channels),
                dtype=level.dtype,
                tile=(TIFF_TILE, TIFF_TILE),
                planarconfig="contig",
                compression="zlib",
                subifds=len(levels) - 1 if k == 0 else None,
                subfiletype=1 if k else 0,
                metadata=None,
                **tiff_colour(channels),
            )
    return Path(path)
