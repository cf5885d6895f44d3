"""Renders beyond one process: the canvas as a Dask array, chunked Zarr stores with a
multiscale pyramid, and where they run (a local cluster or an existing scheduler).

Every chunk is a window of the seed's plane asked of `Canvas`, so a chunk computed in any
process is byte-identical to the same region of a single-process render. Imports dask
and zarr only when used (`pip install patchtex[cluster]`).
"""

from .chunks import ModelPayload, canvas_array, render_chunk
from .zarr_store import ZarrResult, write_zarr

__all__ = ["ModelPayload", "ZarrResult", "canvas_array", "render_chunk", "write_zarr"]
