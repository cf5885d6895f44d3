"""Synthesis from a fitted pyramid: whole images, windows of the endless plane, tileable.

Every output pixel is computed inside one canonical tile of the finest grid (`TILE` px,
tiles at multiples of `TILE` in global coordinates). A window renders the tiles it
touches and keeps its part, so any window, at any offset, in any order, gives exactly the
pixels of a larger render; memory is bounded by one tile's pyramid, whatever the size.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import torch

from .model import Pyramid, Rect
from .noise import keyed_noise, seed_phases, wave_field
from .quality import colour_mean

TILE = 512


class KeyedSource:
    """Conditioning for one seed: noise keyed to (seed, scale, position) and periodic
    channels with phases keyed to the seed. `period` (finest pixels, divisible by the
    coarsest factor) wraps the plane for tileable output."""

    def __init__(self, pyramid: Pyramid, seed: int, device: torch.device, period: tuple[int, int] | None = None):
        self.config = pyramid.config
        self.seed, self.device, self.period = seed, device, period
        self.waves = pyramid.waves.detach().cpu()
        if period is not None:
            self.waves = quantize_waves(self.waves, period)
        self.phases = seed_phases(seed, len(self.config.waves))

    def __call__(self, scale: int, rect: Rect) -> torch.Tensor:
        factor = self.config.factor(scale)
        period = None
        if self.period is not None:
            period = (self.period[0] // factor, self.period[1] // factor)
        cond = keyed_noise(self.seed, scale, rect, self.config.noise_channels, period)
        if scale == 0 and self.config.waves:
            cond = torch.cat([cond, wave_field(self.waves, self.phases, factor, rect)], dim=1)
        return cond.to(self.device)


def quantize_waves(waves: torch.Tensor, period: tuple[int, int]) -> torch.Tensor:
    """Round wave vectors to whole cycles per period, so periodic channels wrap too."""
    px, py = period
    kx = torch.round(waves[:, 0] * px) / px
    ky = torch.round(waves[:, 1] * py) / py
    return torch.stack([kx, ky], dim=1)


def tiles_covering(rect: Rect, tile: int = TILE) -> Iterator[Rect]:
    """Canonical tiles (row-major) that intersect `rect`."""
    x0, y0, w, h = rect
    for ty in range(y0 // tile, (y0 + h - 1) // tile + 1):
        for tx in range(x0 // tile, (x0 + w - 1) // tile + 1):
            yield tx * tile, ty * tile, tile, tile


@torch.no_grad()
def render_tile(pyramid: Pyramid, tile: Rect, source: KeyedSource, bf16: bool) -> torch.Tensor:
    """One canonical tile at the finest scale: [1,C,TILE,TILE] float32 (unclamped)."""
    device = source.device
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
        out = pyramid.render(pyramid.config.num_scales - 1, tile, source)
    return out.float().cpu()


def iter_window(
    pyramid: Pyramid, rect: Rect, source: KeyedSource, bf16: bool, band_height: int = TILE
) -> Iterator[tuple[int, torch.Tensor]]:
    """Render `rect` as horizontal bands of whole tile rows: yields (row offset, [1,C,h,w])."""
    x0, y0, w, h = rect
    channels = pyramid.config.image_channels
    for ty in range(y0 // band_height, (y0 + h - 1) // band_height + 1):
        band_top = max(y0, ty * band_height)
        band_bottom = min(y0 + h, (ty + 1) * band_height)
        band = torch.empty(1, channels, band_bottom - band_top, w)
        for tile in tiles_covering((x0, band_top, w, band_bottom - band_top)):
            tx0, ty0 = tile[0], tile[1]
            pixels = render_tile(pyramid, tile, source, bf16)
            ix0, ix1 = max(x0, tx0), min(x0 + w, tx0 + TILE)
            band[..., :, ix0 - x0 : ix1 - x0] = pixels[..., band_top - ty0 : band_bottom - ty0, ix0 - tx0 : ix1 - tx0]
        yield band_top - y0, band


def render_window(pyramid: Pyramid, rect: Rect, source: KeyedSource, bf16: bool) -> torch.Tensor:
    """All bands of `rect` in one tensor: [1,C,h,w] float32 (unclamped)."""
    out = torch.empty(1, pyramid.config.image_channels, rect[3], rect[2])
    for row, band in iter_window(pyramid, rect, source, bf16):
        out[..., row : row + band.shape[-2], :] = band
    return out


def synth_window(pyramid: Pyramid, rect: Rect, seed: int, *, device: torch.device, bf16: bool) -> torch.Tensor:
    """Window `rect = (x, y, w, h)` of the plane of `seed`: [1,C,h,w] float32 in [-1,1]."""
    return render_window(pyramid, rect, KeyedSource(pyramid, seed, device), bf16).clamp(-1, 1)


def tileable_period(pyramid: Pyramid, width: int, height: int) -> tuple[int, int]:
    """Smallest period >= the size that every scale's grid divides."""
    step = pyramid.config.factor(0)
    return -(-width // step) * step, -(-height // step) * step


def synth_tileable(
    pyramid: Pyramid, size: tuple[int, int], seed: int, *, device: torch.device, bf16: bool
) -> torch.Tensor:
    """A `size = (w, h)` image that wraps seamlessly: [1,C,h,w] float32 in [-1,1].

    The plane is made periodic (noise and waves wrap) with the nearest period that all
    scales divide; if that differs from the size, one period is resampled to the exact
    size in the Fourier domain, which keeps it periodic. Every cyclic shift of a period is
    the same tiling; the one returned has its edges on the calmest column and row
    (`calm_edges`), so a tile seen on its own does not cut through a mortar line."""
    width, height = size
    period = tileable_period(pyramid, width, height)
    source = KeyedSource(pyramid, seed, device, period=period)
    out = render_window(pyramid, (0, 0, period[0], period[1]), source, bf16)
    if period != (width, height):
        out = fourier_resize(out, width, height)
    return calm_edges(out.clamp(-1, 1))


def calm_offsets(bands: Iterable[torch.Tensor]) -> tuple[int, int]:
    """For a periodic image given as consecutive row bands ([1,C,h,W] each, top to
    bottom): the column and row at which to start it so that its wrap-around edges lie
    between the neighbouring columns and rows whose luminance differs least."""
    col_steps, row_steps = None, []
    first = previous = None
    for band in bands:
        lum = colour_mean(band)[0]
        steps = (lum - lum.roll(1, dims=1)).abs().sum(0)  # step into column c from c-1
        col_steps = steps if col_steps is None else col_steps + steps
        above = lum.roll(1, dims=0)  # row r's neighbour above; row 0's is set below
        if previous is None:
            first = lum[:1]
        else:
            above[0] = previous
        row_steps.append((lum - above).abs().mean(1))
        previous = lum[-1]
    if col_steps is None:
        raise ValueError("calm_offsets needs at least one band")
    rows = torch.cat(row_steps)
    rows[0] = (first - previous).abs().mean()  # across the wrap: last row to first
    return int(col_steps.argmin()), int(rows.argmin())


def calm_edges(image: torch.Tensor) -> torch.Tensor:
    """Roll a periodic image [1,C,H,W] so that its wrap-around edges are calm
    (`calm_offsets`)."""
    col, row = calm_offsets([image])
    return image.roll((-row, -col), dims=(2, 3))


def iter_rolled(
    pyramid: Pyramid, size: tuple[int, int], offsets: tuple[int, int], source: KeyedSource, bf16: bool
) -> Iterator[torch.Tensor]:
    """Bands of one period (`size`) of a periodic plane, started at `offsets` = (col, row):
    the same pixels as `calm_edges` gives, rendered band by band."""
    (width, height), (col, row) = size, offsets
    for rect in ((0, row, width, height - row), (0, 0, width, row)):
        if rect[3] > 0:
            for _, band in iter_window(pyramid, rect, source, bf16):
                yield band.clamp_(-1, 1).roll(-col, dims=3)  # the band is fresh: clamp in place


def fourier_resize(image: torch.Tensor, width: int, height: int) -> torch.Tensor:
    """Resample a periodic image [1,C,H,W] to [1,C,height,width] keeping it periodic
    (band-limited Fourier resampling along each axis)."""
    from scipy.signal import resample

    array = image.double().numpy()
    array = resample(resample(array, height, axis=2), width, axis=3)
    return torch.from_numpy(array).float()
