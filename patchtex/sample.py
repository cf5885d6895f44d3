"""Synthesis from a fitted pyramid: whole images, windows of the endless plane, tileable.

Every output pixel is computed inside one canonical tile of the finest grid (`TILE` px,
tiles at multiples of `TILE` in global coordinates). A window renders the tiles it
touches and keeps its part, so any window, at any offset, in any order, gives exactly the
pixels of a larger render; memory is bounded by one tile's pyramid, whatever the size.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import torch
import torch.nn.functional as F

from .model import Pyramid, Rect, upsample_valid
from .noise import keyed_noise, seed_phases, wave_field
from .quality import colour_mean

TILE = 512


class KeyedSource:
    """Conditioning for one seed: noise keyed to (seed, scale, position) and periodic
    channels with phases keyed to the seed.

    For tileable output the plane wraps: `periods` gives each scale's period in its own
    pixels (`tileable_periods`)."""

    def __init__(
        self,
        pyramid: Pyramid,
        seed: int,
        device: torch.device,
        periods: list[tuple[int, int]] | None = None,
    ):
        self.config = pyramid.config
        self.seed, self.device = seed, device
        self.periods = periods
        self.waves = pyramid.waves.detach().cpu()
        if periods is not None:
            coarsest = self.config.factor(0)
            self.waves = quantize_waves(self.waves, (periods[0][0] * coarsest, periods[0][1] * coarsest))
        self.phases = seed_phases(seed, len(self.config.waves))

    def __call__(self, scale: int, rect: Rect) -> torch.Tensor:
        factor = self.config.factor(scale)
        period = None if self.periods is None else self.periods[scale]
        cond = keyed_noise(self.seed, scale, rect, self.config.noise_channels, period)
        if scale == 0 and self.config.waves:
            cond = torch.cat([cond, wave_field(self.waves, self.phases, factor, rect)], dim=1)
        return cond.to(self.device)


def quantize_waves(waves: torch.Tensor, period: tuple[int, int]) -> torch.Tensor:
    """Round wave vectors [P, 2] to whole cycles per period, so periodic channels wrap too.

    Along each axis the waves' components stay on one lattice where they have one:
    bricks have a course wave and a joint wave whose vertical component is minus half the
    course's (the joints stagger every other course). Rounding each component on its own
    breaks that relation and the joints drift; rounding their shared fundamental keeps it."""
    out = waves.clone().double()
    for axis, length in enumerate(period):
        values = [float(v) for v in waves[:, axis]]
        lattice = axis_lattice(values, length)
        if lattice is None:
            out[:, axis] = torch.round(out[:, axis] * length) / length
        else:
            fundamental, multiples = lattice
            cycles = round(fundamental * length)
            out[:, axis] = torch.tensor(multiples, dtype=torch.float64) * cycles / length
    return out.float()


def axis_lattice(
    values: list[float], length: int, max_multiple: int = 2, tolerance: float = 0.1
) -> tuple[float, list[int]] | None:
    """The largest f such that the values are whole multiples of f (within `tolerance * f`,
    multiples no larger than `max_multiple`), at least two of them non-zero: (f,
    multiples). Values put at multiple 0 must round to no cycle over `length` anyway.
    None when there is no such relation to keep."""
    best = None
    for v in values:
        for m in range(1, max_multiple + 1):
            f = abs(v) / m
            if f == 0.0:
                continue
            multiples = [round(u / f) for u in values]
            if max(abs(k) for k in multiples) > max_multiple or sum(k != 0 for k in multiples) < 2:
                continue
            on_lattice = all(abs(u - k * f) <= tolerance * f for u, k in zip(values, multiples))
            zeros_vanish = all(abs(u) * length < 0.5 for u, k in zip(values, multiples) if k == 0)
            if on_lattice and zeros_vanish and (best is None or f > best[0]):
                best = (f, multiples)
    return best


def tiles_covering(rect: Rect, tile: int = TILE) -> Iterator[Rect]:
    """Canonical tiles (row-major) that intersect `rect`."""
    x0, y0, w, h = rect
    for ty in range(y0 // tile, (y0 + h - 1) // tile + 1):
        for tx in range(x0 // tile, (x0 + w - 1) // tile + 1):
            yield tx * tile, ty * tile, tile, tile


@torch.no_grad()
def render_tile(
    pyramid: Pyramid, tile: Rect, source: KeyedSource, bf16: bool, upsampled=None, scale: int | None = None
) -> torch.Tensor:
    """One canonical tile of `scale` (default: the finest): [1,C,h,w] float32 (unclamped).
    `upsampled`: see `Pyramid.render`."""
    device = source.device
    scale = pyramid.config.num_scales - 1 if scale is None else scale
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
        out = pyramid.render(scale, tile, source, upsampled=upsampled)
    return out.float().cpu()


def iter_window(
    pyramid: Pyramid,
    rect: Rect,
    source: KeyedSource,
    bf16: bool,
    band_height: int = TILE,
    upsampled=None,
    scale: int | None = None,
) -> Iterator[tuple[int, torch.Tensor]]:
    """Render `rect` (of `scale`, default the finest) as horizontal bands of whole tile
    rows: yields (row offset, [1,C,h,w])."""
    x0, y0, w, h = rect
    channels = pyramid.config.image_channels
    for ty in range(y0 // band_height, (y0 + h - 1) // band_height + 1):
        band_top = max(y0, ty * band_height)
        band_bottom = min(y0 + h, (ty + 1) * band_height)
        band = torch.empty(1, channels, band_bottom - band_top, w)
        for tile in tiles_covering((x0, band_top, w, band_bottom - band_top)):
            tx0, ty0 = tile[0], tile[1]
            pixels = render_tile(pyramid, tile, source, bf16, upsampled, scale)
            ix0, ix1 = max(x0, tx0), min(x0 + w, tx0 + TILE)
            band[..., :, ix0 - x0 : ix1 - x0] = pixels[..., band_top - ty0 : band_bottom - ty0, ix0 - tx0 : ix1 - tx0]
        yield band_top - y0, band


def render_window(
    pyramid: Pyramid, rect: Rect, source: KeyedSource, bf16: bool, upsampled=None, scale: int | None = None
) -> torch.Tensor:
    """All bands of `rect` in one tensor: [1,C,h,w] float32 (unclamped)."""
    out = torch.empty(1, pyramid.config.image_channels, rect[3], rect[2])
    for row, band in iter_window(pyramid, rect, source, bf16, upsampled=upsampled, scale=scale):
        out[..., row : row + band.shape[-2], :] = band
    return out


def synth_window(pyramid: Pyramid, rect: Rect, seed: int, *, device: torch.device, bf16: bool) -> torch.Tensor:
    """Window `rect = (x, y, w, h)` of the plane of `seed`: [1,C,h,w] float32 in [-1,1]."""
    return render_window(pyramid, rect, KeyedSource(pyramid, seed, device), bf16).clamp(-1, 1)


def tileable_period(pyramid: Pyramid, width: int, height: int) -> tuple[int, int]:
    """Smallest period >= the size that every scale's grid divides."""
    step = pyramid.config.factor(0)
    return -(-width // step) * step, -(-height // step) * step


def exact_scale(pyramid: Pyramid, width: int, height: int) -> int:
    """The coarsest scale whose grid divides (width, height); every finer one does too."""
    return next(
        s
        for s in range(pyramid.config.num_scales)
        if width % pyramid.config.factor(s) == 0 and height % pyramid.config.factor(s) == 0
    )


def tileable_periods(pyramid: Pyramid, width: int, height: int) -> list[tuple[int, int]]:
    """Each scale's period in its own pixels for a tileable (width, height) output: the
    exact size at the scales whose grid divides it, `tileable_period` at the coarser ones."""
    first = exact_scale(pyramid, width, height)
    rounded = tileable_period(pyramid, width, height)
    out = []
    for s in range(pyramid.config.num_scales):
        w, h = (width, height) if s >= first else rounded
        out.append((w // pyramid.config.factor(s), h // pyramid.config.factor(s)))
    return out


def synth_tileable(
    pyramid: Pyramid, size: tuple[int, int], seed: int, *, device: torch.device, bf16: bool
) -> torch.Tensor:
    """A `size = (w, h)` image that wraps seamlessly: [1,C,h,w] float32 in [-1,1].

    Noise and waves wrap. Scales whose grid divides the size run on a plane with exactly
    that period. Coarser ones (any size is allowed) run on the nearest larger period
    their grids divide; the last of them is upsampled and resampled in the Fourier domain
    to the first exact scale's grid, which keeps it periodic. That image is smooth, so
    the resampling costs nothing visible, and every finer scale then draws sharp detail
    on the exact grid. (Resampling the finished image instead blurs and rings it: patch
    SWD 16% worse on bricks.) Every cyclic shift of a period is the same tiling; the one
    returned has its edges on the calmest column and row (`calm_edges`), so a tile seen
    on its own does not cut through a mortar line."""
    width, height = size
    periods = tileable_periods(pyramid, width, height)
    source = KeyedSource(pyramid, seed, device, periods=periods)
    first = exact_scale(pyramid, width, height)
    upsampled = None
    if first > 0:
        cw, ch = periods[first - 1]
        coarse = render_window(pyramid, (0, 0, cw, ch), source, bf16, scale=first - 1)
        prev = fourier_resize(periodic_upsample(coarse), *periods[first])
        upsampled = (first, lambda rect: wrapped_crop(prev, rect).to(device))
    out = render_window(pyramid, (0, 0, width, height), source, bf16, upsampled=upsampled)
    return calm_edges(out.clamp(-1, 1))


def periodic_upsample(image: torch.Tensor) -> torch.Tensor:
    """The model's bilinear 2x upsampling of a periodic image [1,C,h,w] -> [1,C,2h,2w]
    (pixel i of the input covers output pixels 2i and 2i+1, as between scales)."""
    padded = F.pad(image, (1, 1, 1, 1), mode="circular")
    return upsample_valid(padded)[..., 1:-1, 1:-1]


def wrapped_crop(image: torch.Tensor, rect: Rect) -> torch.Tensor:
    """`rect` of the periodic plane that one period `image` [1,C,H,W] repeats."""
    x0, y0, w, h = rect
    height, width = image.shape[-2:]
    rows = torch.arange(y0, y0 + h) % height
    cols = torch.arange(x0, x0 + w) % width
    return image.index_select(2, rows).index_select(3, cols)


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
    (band-limited Fourier resampling along each axis whose length changes)."""
    from scipy.signal import resample

    if image.shape[-2:] == (height, width):
        return image
    array = image.double().numpy()
    if array.shape[2] != height:
        array = resample(array, height, axis=2)
    if array.shape[3] != width:
        array = resample(array, width, axis=3)
    return torch.from_numpy(array).float()
