"""The canvas: a fitted pyramid plus a seed -> the pixels of any window (the one seam).

Every output pixel is computed inside one canonical tile of the finest grid (`TILE` px,
tiles at multiples of `TILE` in global coordinates). A window renders the tiles it
touches and keeps its part, so any window, at any offset, in any order, gives exactly the
pixels of a larger render; memory is bounded by one tile's pyramid, whatever the size.
Tileable outputs run on a plane that wraps (noise and waves keyed modulo the period).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import torch
import torch.nn.functional as F

from .channels import colour_mean
from .layout import Quilt, coarse_lattice, lattice_phases, quilt_options
from .model import LayoutScale, Pyramid, Rect, grow, hinted, lifted, upsample_valid
from .noise import keyed_noise, reduced_basis, seed_phases, segments, wave_field

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
        self._quilt: Quilt | None = None
        first = pyramid.generators[0]
        self._hint_level = getattr(first, "hints", None)  # `ModelConfig.hint_channels`
        self._layout_level = first.level if isinstance(first, LayoutScale) else None
        self.waves = pyramid.waves.detach().cpu()
        count = len(self.config.waves)
        # a phased layout's channels draw the lattice where its quilt sets it
        phased = self.config.phased_layout
        self.phases = torch.from_numpy(lattice_phases(seed, count))[None] if phased else seed_phases(seed, count)
        # per scale, the wave vectors; on a wrapping plane rounded to whole cycles of that
        # scale's period (in finest pixels), so its periodic channels wrap with its noise
        self.scale_waves = [self.waves] * self.config.num_scales
        if periods is not None:
            self.scale_waves = [
                quantize_waves(self.waves, (w * self.config.factor(s), h * self.config.factor(s)))
                for s, (w, h) in enumerate(periods)
            ]

    def move_waves(self, dx: float, dy: float) -> None:
        """From now on the periodic channels at a position are those the plane had (dx, dy)
        finest pixels further on; the noise stays where it is."""
        shift = self.waves.double() @ torch.tensor([dx, dy], dtype=torch.float64)
        self.phases = self.phases + shift[None]

    def layout(self, level: torch.Tensor, rect: Rect) -> torch.Tensor:
        """`rect` of the coarsest scale drawn as this seed's quilt of `level` (`LayoutScale`)."""
        return self._quilt_of(level)(rect).to(self.device)

    def _quilt_of(self, level: torch.Tensor) -> Quilt:
        """This seed's quilt of `level`, made on first use (with the model's hints)."""
        if self._quilt is None:
            period = None if self.periods is None else self.periods[0]
            lattice, plane = (coarse_lattice(self.config, waves) for waves in (self.waves, self.scale_waves[0]))
            hints = None if self._hint_level is None else self._hint_level.cpu()
            self._quilt = Quilt(
                level,
                self.seed,
                period,
                lattice=lattice,
                plane_lattice=plane,
                hints=hints,
                **quilt_options(self.config),
            )
        return self._quilt

    def hints(self, scale: int, rect: Rect) -> torch.Tensor:
        """The quilt's guide channels (`Quilt.guide`) lifted to `rect` of `scale`."""
        return lifted(self._quilt_of(self._layout_level).guide, scale, rect).to(self.device)

    def __call__(self, scale: int, rect: Rect) -> torch.Tensor:
        factor = self.config.factor(scale)
        period = None if self.periods is None else self.periods[scale]
        cond = keyed_noise(self.seed, scale, rect, self.config.noise_channels, period)
        spread = self.config.noise_spread(scale, drawing=True)
        if spread != 1.0:
            cond = cond * spread
        fed = list(self.config.waves_at(scale))
        if fed:
            waves = self.scale_waves[scale][fed]
            cond = torch.cat([cond, wave_field(waves, self.phases[:, fed], factor, rect)], dim=1)
        return cond.to(self.device)


def quantize_waves(waves: torch.Tensor, period: tuple[int, int]) -> torch.Tensor:
    """Round wave vectors [P, 2] to whole cycles per period, so periodic channels wrap too.

    Two non-parallel waves are a lattice, and what a tile must keep is the lattice, not
    the pair that names it: the pair is first reduced to the lattice's two shortest
    vectors (`reduced_basis`), those are rounded, and the waves are made again from them
    with the same whole multiples. A diamond plate's waves are its 9.96 px ridge wave and
    one of its 31.9 px fundamentals; its other fundamental is the first minus three times
    the second, and rounding the pair put three times the second's error into it (its
    real-space lattice strained 12 %; the quilt's blocks, holding the exemplar's
    lattice, then met their neighbours up to 4 px out of step and tileable outputs scored
    1.5x plain's patch SWD; `layout.lattice_strain`).

    Along each axis the components stay on one lattice where they have one: bricks have
    a course wave and a joint wave whose vertical component is minus half the course's
    (the joints stagger every other course). Rounding each component on its own breaks
    that relation and the joints drift; rounding their shared fundamental keeps it."""
    vectors = waves.detach().cpu().double()
    if len(vectors) == 2 and abs(float(torch.linalg.det(vectors))) > 1e-12:
        basis, multiples = reduced_basis(vectors)
        return (multiples @ _round_axes(basis, period)).float()
    return _round_axes(vectors, period).float()


def _round_axes(vectors: torch.Tensor, period: tuple[int, int]) -> torch.Tensor:
    """`vectors` [P, 2] (float64) rounded to whole cycles over `period`, axis by axis
    (`axis_lattice` keeps a relation between components)."""
    out = vectors.clone()
    for axis, length in enumerate(period):
        values = [float(v) for v in vectors[:, axis]]
        lattice = axis_lattice(values, length)
        if lattice is None:
            out[:, axis] = torch.round(out[:, axis] * length) / length
        else:
            fundamental, multiples = lattice
            cycles = round(fundamental * length)
            out[:, axis] = torch.tensor(multiples, dtype=torch.float64) * cycles / length
    return out


def axis_lattice(
    values: list[float], length: int, max_multiple: int = 2, tolerance: float = 0.03
) -> tuple[float, list[int]] | None:
    """The largest f such that the values are whole multiples of f (within `tolerance * f`,
    multiples no larger than `max_multiple`), at least two of them non-zero: (f,
    multiples). Values put at multiple 0 must round to no cycle over `length` anyway.
    A real relation is close (bricks' joints: 1% off half the course's wave, as found);
    at 10% a diamond plate's two waves, 7% off 2:1 along x, were tied and one moved 7%
    (its tileable outputs' patch SWD 2.2x plain's; 1.3x with the waves rounded apart).
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
def infer(run: Callable[[], torch.Tensor], device: torch.device, bf16: bool) -> torch.Tensor:
    """`run()` without gradients, under bfloat16 autocast when `bf16`: its output as float32
    on the CPU (the one way every render and fill runs a network)."""
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
        out = run()
    return out.float().cpu()


class Canvas:
    """A fitted pyramid and a seed: the pixels of any window of the seed's plane.

    This is the one way from a seed to pixels: in-memory images, streamed files, windows,
    tileable outputs and refine fills all ask a canvas. Windows may be asked for in any
    order, in any process (a canvas pickles with its pyramid), and each gives the bytes a
    whole render has there: every pixel is computed in the same canonical tile.

    tileable=None: the endless, non-repeating plane; `size`, when given, is the output's
    (width, height), what `bands()` with no rect covers. tileable=(width, height): the
    plane wraps with that period (`period`); its window (0, 0, width, height) is the
    tileable output, and every window repeats it. That output starts at `origin`, so a
    tile seen on its own does not cut through a mortar line (`calm_offsets`); finding
    it costs one render of the period, done when first needed and kept.

    Rendering precision: `bf16` (see `runtime.use_bf16`)."""

    def __init__(
        self,
        pyramid: Pyramid,
        seed: int,
        *,
        device: torch.device,
        bf16: bool,
        tileable: tuple[int, int] | None = None,
        size: tuple[int, int] | None = None,
    ):
        self.pyramid, self.seed, self.device, self.bf16 = pyramid, seed, torch.device(device), bf16
        self.channels = pyramid.config.image_channels
        self.period = None if tileable is None else check_size(tileable)
        self.size = self.period or (None if size is None else check_size(size))
        periods = None if self.period is None else tileable_periods(pyramid, *self.period)
        self.source = KeyedSource(pyramid, seed, self.device, periods=periods)
        self._origin: tuple[int, int] | None = None
        self._coarse: tuple[int, torch.Tensor] | None = None  # the Fourier-resampled input, once made

    @property
    def streams(self) -> bool:
        """Whether `bands` renders in bounded memory: always, except for tileable outputs
        whose size the coarse grids do not divide (their coarse image is resampled whole)."""
        return self.period is None or exact_scale(self.pyramid, *self.period) == 0

    @property
    def origin(self) -> tuple[int, int]:
        """(column, row) of the periodic plane at which a tileable output starts: its wrap
        then lies between the calmest neighbouring columns and rows. (0, 0) when endless."""
        if self.period is None:
            return 0, 0
        if self._origin is None:
            self._origin = calm_offsets(self._period_bands())
        return self._origin

    def window(self, x: int, y: int, width: int, height: int) -> torch.Tensor:
        """Window (x, y, width, height) of the canvas: [1,C,height,width] float32 in [-1,1]."""
        if self.period is not None and self._origin is None and width * height >= self.period[0] * self.period[1]:
            # the window holds a period anyway: one render of it gives the origin and the pixels
            bands = list(self._period_bands())
            self._origin = calm_offsets(bands)
            col, row = self._origin
            return wrapped_crop(torch.cat(bands, dim=2), (x + col, y + row, width, height))
        return _assemble(self.bands((x, y, width, height)), self.channels, width, height)

    def level(self, scale: int, x: int, y: int, width: int, height: int) -> torch.Tensor:
        """Window (x, y, width, height) of the endless plane at a coarser `scale`, in that
        scale's pixels: what the pyramid has drawn by then (fit previews, diagnostics).
        [1,C,height,width] float32 in [-1,1]."""
        if self.period is not None:
            raise ValueError("scale levels are drawn from the endless plane; use a canvas without tileable")
        return _assemble(self._plane_bands((x, y, width, height), scale=scale), self.channels, width, height).clamp_(
            -1, 1
        )

    def image(self) -> torch.Tensor:
        """The whole output (`size`; the period of a tileable canvas)."""
        return self.window(0, 0, *self._whole()[2:])

    def bands(self, rect: Rect | None = None) -> Iterator[tuple[int, torch.Tensor]]:
        """`rect` (x, y, w, h; default: the whole output) as horizontal bands of at most one
        tile row, top to bottom: (row offset in rect, [1,C,h,w] float32 in [-1,1]). Peak
        memory is one band's tiles (see `streams`)."""
        x, y, width, height = rect if rect is not None else self._whole()
        check_size((width, height))
        if self.period is None:
            for row, band in self._plane_bands((x, y, width, height)):
                yield row, band.clamp_(-1, 1)  # the band is fresh: clamp in place
            return
        # a tileable canvas repeats the period started at `origin`: render the base
        # period's rows and columns that the window wraps onto
        (period_w, period_h), (col, row) = self.period, self.origin
        cols = (torch.arange(x, x + width) + col) % period_w
        first, last = int(cols.min()), int(cols.max())
        done = 0
        for top, rows in segments(y + row, height, period_h):
            for offset, band in self._plane_bands((first, top, last - first + 1, rows)):
                yield done + offset, band.clamp_(-1, 1).index_select(3, cols - first)
            done += rows

    def move_waves(self, dx: float, dy: float) -> None:
        """From now on `step` feeds each scale the periodic channels the plane has (dx, dy)
        finest pixels further on (noise unchanged): refine lines the finer scales'
        lattice up with the coarse layout it placed in a hole."""
        self.source.move_waves(dx, dy)

    def step(
        self,
        scale: int,
        prev: torch.Tensor | None,
        rect: Rect,
        bounded: bool = True,
        guide: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Generator `scale` alone on `rect` of this scale's grid: `prev` is the coarser
        image already on this grid, covering `rect` grown by the generator's halo (None
        at the coarsest scale). [1,C,h,w] float32 on the CPU (unclamped). Refine runs
        the generators this way on images that are not the plane's, with `bounded` False:
        not held within the exemplar's range (`ModelConfig.colour_range`), as the image's
        range is its own."""
        gen = self.pyramid.generators[scale]
        if isinstance(gen, LayoutScale):
            return self.source.layout(gen.level, rect)
        rin = grow(rect, gen.halo)
        # a quilted model's guide channels: the plane's quilt's, or (refine) `guide` on `rin`
        cond = hinted(self.source(scale, rin), self.source, self.pyramid.config, scale, rin, guide)
        return infer(lambda: gen(None if prev is None else prev.to(self.device), cond, bounded), self.device, self.bf16)

    def finite_step(
        self,
        scale: int,
        prev: torch.Tensor,
        size: tuple[int, int],
        bounded: bool = True,
        guide: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Generator `scale` over a whole finite image of `size` (height, width): `prev`,
        the image one scale coarser (not the plane's), upsampled 2x, with reflected halos
        where the plane has neighbouring tiles. [1,C,height,width] float32 (unclamped).
        Refine's fills (`bounded` False, as `step`) and a fit's quilt probe
        (`train.quilt_candidates`) run this way."""
        height, width = size
        halo = self.pyramid.generators[scale].halo
        padded = F.pad(upsample_to(prev, height, width), (halo, halo, halo, halo), mode="reflect")
        if guide is not None:  # a quilted model's guide channels on the image ([1,K,height,width])
            guide = F.pad(guide, (halo, halo, halo, halo), mode="reflect")
        return self.step(scale, padded, (0, 0, width, height), bounded, guide)

    def _whole(self) -> Rect:
        if self.size is None:
            raise ValueError("this canvas is an endless plane with no output size; ask for a window")
        return (0, 0, *self.size)

    def _period_bands(self) -> Iterator[torch.Tensor]:
        """The base period of a tileable plane (not yet started at `origin`), clamped bands."""
        return (band.clamp_(-1, 1) for _, band in self._plane_bands((0, 0, *self.period)))

    def _plane_bands(self, rect: Rect, scale: int | None = None) -> Iterator[tuple[int, torch.Tensor]]:
        """`rect` of the plane at `scale` (default: the finest) in bands of whole tile rows,
        unclamped: (row offset, [1,C,h,w])."""
        x0, y0, w, h = rect
        upsampled = self._upsampled() if scale is None else None
        for ty in range(y0 // TILE, (y0 + h - 1) // TILE + 1):
            top, bottom = max(y0, ty * TILE), min(y0 + h, (ty + 1) * TILE)
            band = torch.empty(1, self.channels, bottom - top, w)
            for tile in tiles_covering((x0, top, w, bottom - top)):
                tx0, ty0 = tile[0], tile[1]
                pixels = self._tile(tile, scale, upsampled)
                ix0, ix1 = max(x0, tx0), min(x0 + w, tx0 + TILE)
                band[..., :, ix0 - x0 : ix1 - x0] = pixels[..., top - ty0 : bottom - ty0, ix0 - tx0 : ix1 - tx0]
            yield top - y0, band

    def _tile(self, tile: Rect, scale: int | None, upsampled) -> torch.Tensor:
        """One canonical tile of `scale` (default: the finest): [1,C,h,w] float32 (unclamped)."""
        scale = self.pyramid.config.num_scales - 1 if scale is None else scale
        return infer(lambda: self.pyramid.render(scale, tile, self.source, upsampled=upsampled), self.device, self.bf16)

    def _upsampled(self) -> tuple[int, Callable[[Rect], torch.Tensor]] | None:
        """For a tileable size that the coarse grids do not divide: (the first scale whose
        grid divides it, its input as a function of rect). Scales coarser than that run on
        the nearest larger period their grids divide; the last of them is upsampled and
        resampled in the Fourier domain to the first exact scale's grid, which keeps it
        periodic. That image is smooth, so resampling costs nothing visible, and every
        finer scale then draws sharp detail on the exact grid (resampling the finished
        image instead blurs and rings it: patch SWD 16% worse on bricks)."""
        if self.period is None:
            return None
        first = exact_scale(self.pyramid, *self.period)
        if first == 0:
            return None
        if self._coarse is None:
            periods = self.source.periods
            width, height = periods[first - 1]
            coarse = _assemble(self._plane_bands((0, 0, width, height), scale=first - 1), self.channels, width, height)
            self._coarse = (first, fourier_resize(periodic_upsample(coarse), *periods[first]))
        first, prev = self._coarse
        return first, lambda rect: wrapped_crop(prev, rect).to(self.device)


def _assemble(bands: Iterable[tuple[int, torch.Tensor]], channels: int, width: int, height: int) -> torch.Tensor:
    """(row offset, [1,C,h,width]) bands -> the [1,C,height,width] image they cover."""
    out = torch.empty(1, channels, height, width)
    for row, band in bands:
        out[..., row : row + band.shape[-2], :] = band
    return out


def upsample_to(image: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """`image` upsampled 2x (bilinear), edge pixels repeated or cut to height x width."""
    up = F.interpolate(image, scale_factor=2, mode="bilinear", align_corners=False)
    pad_h, pad_w = max(0, height - up.shape[-2]), max(0, width - up.shape[-1])
    if pad_h or pad_w:
        up = F.pad(up, (0, pad_w, 0, pad_h), mode="replicate")
    return up[..., :height, :width]


def check_size(size: tuple[int, int]) -> tuple[int, int]:
    """(width, height) as ints; ValueError unless both are positive."""
    width, height = (int(v) for v in size)
    if width < 1 or height < 1:
        raise ValueError(f"size must be positive, got {width}x{height}")
    return width, height


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
