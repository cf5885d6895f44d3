"""Noise fields keyed to global coordinates, and the periodic (PSGAN-style) channels.

For one seed the texture is a fixed function of global pixel coordinates. The Gaussian
noise at every scale is drawn in 64x64 blocks, each from its own CPU `torch.Generator`
seeded by a hash of (seed, scale, block x, block y); a window at any offset, including
negative ones, sees exactly the values that a larger render sees there. With a period the
coordinates wrap, which makes the whole render tileable.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from .channels import colour_mean

BLOCK = 64
_MASK64 = (1 << 64) - 1


def _mix(*values: int) -> int:
    """SplitMix64-style hash of a sequence of integers (negative ones included)."""
    h = 0x9E3779B97F4A7C15
    for v in values:
        h = (h ^ (v & _MASK64)) & _MASK64
        h = (h + 0x9E3779B97F4A7C15) & _MASK64
        h = ((h ^ (h >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        h = ((h ^ (h >> 27)) * 0x94D049BB133111EB) & _MASK64
        h ^= h >> 31
    return h & ((1 << 63) - 1)


def mix_array(*values: int | np.ndarray) -> np.ndarray:
    """`_mix` of many sequences at once: integers and int64 arrays, broadcast together;
    uint64 (below 2**63), equal to `_mix` of each element's sequence."""
    shape = np.broadcast_shapes(*(np.shape(v) for v in values))
    h = np.full(shape, 0x9E3779B97F4A7C15, dtype=np.uint64)
    for v in values:
        if isinstance(v, np.ndarray):
            word = v.astype(np.int64).view(np.uint64)  # two's complement, as v & _MASK64
        else:
            word = np.uint64(v & _MASK64)
        h ^= word
        h += np.uint64(0x9E3779B97F4A7C15)  # uint64 arrays wrap modulo 2**64
        h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        h ^= h >> np.uint64(31)
    return h & np.uint64((1 << 63) - 1)


def _block(seed: int, scale: int, bx: int, by: int, channels: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(_mix(seed, scale, bx, by))
    return torch.randn(channels, BLOCK, BLOCK, generator=gen)


def _plane_noise(seed: int, scale: int, x0: int, y0: int, w: int, h: int, channels: int):
    """Non-periodic keyed noise for the rect [x0, x0+w) x [y0, y0+h): [channels, h, w]."""
    bx0, by0 = x0 // BLOCK, y0 // BLOCK
    bx1, by1 = (x0 + w - 1) // BLOCK, (y0 + h - 1) // BLOCK
    rows = []
    for by in range(by0, by1 + 1):
        rows.append(torch.cat([_block(seed, scale, bx, by, channels) for bx in range(bx0, bx1 + 1)], dim=2))
    field = torch.cat(rows, dim=1)
    ox, oy = x0 - bx0 * BLOCK, y0 - by0 * BLOCK
    return field[:, oy : oy + h, ox : ox + w]


def segments(start: int, length: int, period: int | None) -> list[tuple[int, int]]:
    """Split [start, start+length) into runs of wrapped coordinates: (source start, length)."""
    if period is None:
        return [(start, length)]
    out = []
    pos, left = start, length
    while left > 0:
        src = pos % period
        run = min(left, period - src)
        out.append((src, run))
        pos, left = pos + run, left - run
    return out


def keyed_noise(
    seed: int,
    scale: int,
    rect: tuple[int, int, int, int],
    channels: int,
    period: tuple[int, int] | None = None,
) -> torch.Tensor:
    """Standard normal noise for `rect = (x0, y0, w, h)` at `scale`: [1, channels, h, w] float32.

    `period = (px, py)` makes the field wrap with that period (for tileable output).
    """
    x0, y0, w, h = rect
    if channels == 0:
        return torch.zeros(1, 0, h, w)
    px, py = period if period is not None else (None, None)
    rows = []
    for sy, hy in segments(y0, h, py):
        cols = [_plane_noise(seed, scale, sx, sy, wx, hy, channels) for sx, wx in segments(x0, w, px)]
        rows.append(torch.cat(cols, dim=2))
    return torch.cat(rows, dim=1).unsqueeze(0)


def seed_phases(seed: int, count: int) -> torch.Tensor:
    """Phases in cycles [1, count] for the periodic channels of one seed."""
    gen = torch.Generator().manual_seed(_mix(seed, -1))
    return torch.rand(1, count, generator=gen, dtype=torch.float64)


def wave_field(
    waves: torch.Tensor,
    phases: torch.Tensor,
    factor: int,
    rect: tuple[int, int, int, int],
) -> torch.Tensor:
    """Periodic channels at a scale whose pixel is `factor` finest pixels.

    waves: [P, 2] cycles per finest pixel (x, y); phases: [B, P] in cycles.
    Returns [B, 2P, h, w] float32 (sin and cos of each wave). Computed in float64 and
    reduced modulo one cycle, so far-away windows keep full precision.
    """
    x0, y0, w, h = rect
    batch, count = phases.shape
    if count == 0:
        return torch.zeros(batch, 0, h, w)
    # centre of pixel i of this scale, in finest pixel coordinates (2x box/bilinear grids)
    xs = (torch.arange(x0, x0 + w, dtype=torch.float64) + 0.5) * factor - 0.5
    ys = (torch.arange(y0, y0 + h, dtype=torch.float64) + 0.5) * factor - 0.5
    k = waves.to(torch.float64)
    cyc = k[:, 0, None, None] * xs[None, None, :] + k[:, 1, None, None] * ys[None, :, None]
    cyc = cyc[None] + phases[:, :, None, None].to(torch.float64)  # [B, P, h, w]
    ang = 2 * math.pi * torch.remainder(cyc, 1.0)
    return torch.cat([torch.sin(ang), torch.cos(ang)], dim=1).float()


# `find_waves` reads a lattice off the exemplar's spectrum at most this many pixels on its
# short side (the bench's exemplars are 96-256): at twice the size, lego's stud harmonics
# at 4-8 px outranked its studs and were taken back to a bogus fundamental, and bricks',
# parquet's, wicker's and a honeycomb's lattices changed too; `refine_lattice` then
# places the waves at the full size
WAVE_SIDE = 256


def wave_read(image: torch.Tensor) -> torch.Tensor:
    """`image` ([1,C,H,W]) as a lattice is read off it: downscaled to `WAVE_SIDE` on its
    short side (bilinear, antialiased) where it is larger, else `image` itself."""
    height, width = image.shape[-2:]
    factor = min(height, width) / WAVE_SIDE
    if factor <= 1:
        return image
    return F.interpolate(image, size=(round(height / factor), round(width / factor)), mode="bilinear", antialias=True)


def find_waves(image: torch.Tensor, max_waves: int = 2, threshold: float = 40.0) -> list[tuple[float, float]]:
    """Dominant periodicities of an exemplar, as wave vectors in cycles per pixel.

    image: [1, C, H, W] in [-1, 1]. A spectral peak counts when its power exceeds the
    median power at the same radius by `threshold` (random textures stay far below), its
    period is 8 px or longer and it repeats at least 3 times across the image. A wave
    whose pattern repeats only every 2-4 of its periods (`supercell`: lego's courses, a
    weave's over and under) is returned at that longer period. Returns at most
    `max_waves` non-parallel vectors; an empty list for stochastic textures. Two waves
    that span only part of the pattern's lattice (a honeycomb's walls) are replaced by a
    basis of the whole lattice (`_finer_lattice`). An exemplar over `WAVE_SIDE` on its
    short side is read so far downscaled (its periods then count in those pixels), and
    at full size only where that finds none. A 2D lattice read off the exemplar's own
    autocorrelation (`correlation_lattice`: one repeated only two or three times across,
    whose spectrum reads none, one wave or a harmonic) is taken instead where the
    spectrum reads fewer than two waves, or a pair that agrees with itself `CORR_MARGIN`
    worse. The waves are then placed on the full-size exemplar, where it agrees best with
    itself a lattice step away (`refine_lattice`).
    """
    image = image.double()
    height, width = image.shape[-2:]
    small = wave_read(image)
    sx, sy = small.shape[-1] / width, small.shape[-2] / height
    waves = []
    if small is not image:
        waves = [(kx * sx, ky * sy) for kx, ky in _spectral_waves(small, max_waves, threshold)]
    if not waves:  # at most WAVE_SIDE, or a period under 8 px downscaled (a fine weave in a large photo)
        waves = _spectral_waves(image, max_waves, threshold)
    lattice, read = [], None
    if max_waves >= 2:  # a lattice repeated only two or three times across (`correlation_lattice`)
        read = _Autocorrelation(small[0].numpy())
        lattice = [(kx * sx, ky * sy) for kx, ky in _correlation_lattice(read)]
    if not waves and not lattice:
        return []
    # the waves are placed on the full-size exemplar: the read's autocorrelation where it is that
    auto = read if read is not None and small is image else _Autocorrelation(image[0].numpy())
    if not lattice:
        return _refine(auto, waves)[0]
    found, score = _refine(auto, lattice)
    if len(waves) == 2:  # both read a lattice: the one the exemplar repeats on better
        spectral, spectral_score = _refine(auto, waves)
        if spectral_score >= score - CORR_MARGIN:
            return spectral
    return found


def _spectral_waves(image: torch.Tensor, max_waves: int, threshold: float) -> list[tuple[float, float]]:
    """`find_waves` before `refine_lattice`: its waves as `image`'s ([1,C,H,W] float64)
    spectrum places them."""
    colour = image[0].numpy()
    img = colour_mean(image)[0].numpy()
    height, width = img.shape
    img = img - img.mean()
    win = np.outer(np.hanning(height), np.hanning(width))
    power = np.abs(np.fft.fft2(img * win)) ** 2 + 1e-12
    fy = np.fft.fftfreq(height)[:, None] * np.ones((1, width))
    fx = np.fft.fftfreq(width)[None, :] * np.ones((height, 1))
    radius = np.hypot(fx, fy)
    logp = np.log(power)
    bins = np.minimum((radius * 2 * min(height, width)).astype(int), min(height, width))
    background = np.zeros_like(logp)
    for b in np.unique(bins):
        sel = bins == b
        background[sel] = np.median(logp[sel])
    prominence = logp - background
    lo = 3.0 / min(height, width)
    in_band = (radius >= lo) & (radius <= 1.0 / 8)
    ok = in_band & ((fy > 0) | ((fy == 0) & (fx > 0)))  # one of each +-k pair
    # local maxima in the (periodic) 3x3 neighbourhood
    neigh = np.max([np.roll(np.roll(logp, dy, 0), dx, 1) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx], axis=0)
    local_max = in_band & (logp >= neigh)
    strong = local_max & (prominence > math.log(threshold))
    weak = local_max & (prominence > 0.5 * math.log(threshold))
    cand = strong & ok
    order = np.argsort(-prominence[cand])
    ys_, xs_ = np.nonzero(cand)
    chosen: list[tuple[float, float]] = []
    for idx in order:
        iy, ix = _fundamental(ys_[idx], xs_[idx], weak)
        if chosen:  # staggered lattices (bricks): prefer (k -+ c) / 2 when it is a peak too
            iy, ix = _half_lattice(iy, ix, chosen[0], weak)

        # sub-bin refinement by a parabola through the log power
        def refine(a, b, c):
            den = a - 2 * b + c
            return 0.0 if abs(den) < 1e-12 else float(np.clip(0.5 * (a - c) / den, -0.5, 0.5))

        dx = refine(logp[iy, (ix - 1) % width], logp[iy, ix], logp[iy, (ix + 1) % width])
        dy = refine(logp[(iy - 1) % height, ix], logp[iy, ix], logp[(iy + 1) % height, ix])
        kx = (np.fft.fftfreq(width)[ix] * width + dx) / width
        ky = (np.fft.fftfreq(height)[iy] * height + dy) / height
        vec = np.array([kx, ky])
        if any(abs(np.dot(vec, c) / (np.linalg.norm(vec) * np.linalg.norm(c))) > 0.95 for c in map(np.array, chosen)):
            continue
        chosen.append((float(kx), float(ky)))
        if len(chosen) == max_waves:
            break
    if len(chosen) == 2:
        chosen = _finer_lattice(chosen, strong, weak)
    return [supercell(colour, wave) for wave in chosen]


# `correlation_lattice`: where the spectrum reads no lattice, or a wrong one, the
# exemplar's own autocorrelation may read it. A lattice repeated only two or three times
# across its exemplar (a close-up of a knotted net, a few large tiles, a wall 1.4 bricks
# across) has its fundamentals under the three repeats a spectral peak needs, smeared by
# the window into their neighbours' bins: the spectrum reads a harmonic one bin off. Its
# steps are sought among the autocorrelation's CORR_PEAKS strongest peaks (local maxima of
# at least CORR_MIN, at least 8 px out and at most CORR_SPAN of the exemplar's side, so
# that the lattice repeats at least twice): pairs of them, from the one spanning the
# smallest cell up (two of a net's diagonals span half of it), the first whose sum and
# difference peak too (CORR_MIN) and whose four halfway points correlate CORR_CONTRAST
# below the weakest of those. A pattern that repeats halfway as well is a finer lattice
# or stripes (along a ridge, the halfway point correlates more); a running bond's course
# shift (half its two diagonal steps' sum) correlates through its level joints, 0.61
# against 0.67-0.74 at its steps on a synthetic wall with a shade per brick, so the
# contrast asked is small (0.1 lost the bond at 5 of 12 such walls). A spectral lattice
# gives way to it where it scores CORR_MARGIN better by `_Autocorrelation.lattice_score`
# (the same lattice in another basis, a diamond plate's, scores within 0.002; a wall read
# as a course's harmonic 0.08 worse).
CORR_MIN = 0.4
CORR_SPAN = 0.5
CORR_CONTRAST = 0.05
CORR_MARGIN = 0.02
CORR_PEAKS = 8  # the strongest peaks a lattice's two steps are sought among
CORR_REACH = 2  # px either way a step's sum or difference may peak from where it is


def correlation_lattice(image: np.ndarray) -> list[tuple[float, float]]:
    """Two wave vectors (cycles per pixel, x then y, in `find_waves`'s half plane) of the
    lattice `image` ([C, H, W]) repeats on, read off its autocorrelation; empty where it
    has none (see `CORR_MIN`)."""
    return _correlation_lattice(_Autocorrelation(np.asarray(image, dtype=np.float64)))


def _correlation_lattice(auto: _Autocorrelation) -> list[tuple[float, float]]:
    """`correlation_lattice` of the image whose autocorrelation is `auto`."""
    height, width = auto.height, auto.width
    corr = np.fft.fftshift(auto.corr)  # [dy + H, dx + W]
    dy, dx = np.mgrid[-height:height, -width:width]
    window = (np.abs(dy) <= CORR_SPAN * height) & (np.abs(dx) <= CORR_SPAN * width)
    reach = range(-2, 3)
    neigh = np.max([np.roll(corr, (a, b), (0, 1)) for a in reach for b in reach if a or b], axis=0)
    half = (dy > 0) | ((dy == 0) & (dx > 0))
    peaks = window & half & (np.hypot(dx, dy) >= 8) & (corr >= neigh) & (corr >= CORR_MIN)
    ys, xs = np.nonzero(peaks)
    if len(ys) < 2:
        return []
    order = np.argsort(-corr[ys, xs])[:CORR_PEAKS]
    steps = [_parabola_peak(corr, int(ys[i]), int(xs[i]))[::-1] - (width, height) for i in order]  # x, y
    # pairs from the smallest cell up: two of a lattice's longer steps span a part of it
    pairs = [
        (abs(float(a[0] * b[1] - a[1] * b[0])), a, b)
        for i, a in enumerate(steps)
        for b in steps[i + 1 :]
        if abs(a @ b) < 0.95 * np.hypot(*a) * np.hypot(*b)
    ]
    for _, first, second in sorted(pairs, key=lambda t: t[0]):
        basis, _ = reduced_basis(torch.from_numpy(np.stack([first, second])))
        a1, a2 = basis.numpy()
        if _holds_lattice(auto, corr, a1, a2):
            break
    else:
        return []
    k = np.linalg.inv(np.stack([a1, a2])).T  # rows: k_i with k_i . a_j = delta_ij
    return [
        (float(v[0]), float(v[1])) if v[1] > 0 or (v[1] == 0 and v[0] > 0) else (float(-v[0]), float(-v[1])) for v in k
    ]


def parabola_vertex(a: float, b: float, c: float) -> float:
    """The offset (-0.5..0.5) from the middle sample of the peak of the parabola through
    three equally spaced values `a`, `b`, `c`; 0 where they do not bend down."""
    bend = a - 2 * b + c
    return float(np.clip(0.5 * (a - c) / bend, -0.5, 0.5)) if bend < 0 else 0.0


def _parabola_peak(values: np.ndarray, row: int, col: int) -> np.ndarray:
    """(row, col) of the peak of `values` at (row, col), placed to a fraction of a pixel
    by a parabola along each axis (`parabola_vertex`)."""
    return np.array(
        [
            row + parabola_vertex(values[row - 1, col], values[row, col], values[row + 1, col]),
            col + parabola_vertex(values[row, col - 1], values[row, col], values[row, col + 1]),
        ]
    )


def _holds_lattice(auto: _Autocorrelation, corr: np.ndarray, a1: np.ndarray, a2: np.ndarray) -> bool:
    """Whether steps `a1`, `a2` are a lattice the autocorrelation `corr` ([2H, 2W], zero
    shift at [H, W]) repeats on: their sum and difference (inside the window) peak too
    and the correlation halfway along each of the four stands `CORR_CONTRAST` below."""
    height, width = auto.height, auto.width

    def best_near(v: np.ndarray) -> float | None:
        """The highest correlation within CORR_REACH of step `v`; None beyond the window."""
        x, y = round(v[0]), round(v[1])
        if abs(x) + CORR_REACH > CORR_SPAN * width or abs(y) + CORR_REACH > CORR_SPAN * height:
            return None
        r = np.arange(-CORR_REACH, CORR_REACH + 1)
        return float(corr[(y + height + r)[:, None], (x + width + r)[None, :]].max())

    steps4 = [a1, a2, a1 + a2, a1 - a2]
    on = [best_near(v) for v in steps4]
    if on[0] is None or on[1] is None:
        return False
    on_values = [c for c in on if c is not None]
    between = auto.at(np.stack([v / 2 for v in steps4]))
    return min(on_values) >= CORR_MIN and between.max() <= min(on_values) - CORR_CONTRAST


def reduced_basis(waves: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Two non-parallel vectors [2, 2] (float64) -> (the shortest basis of the lattice
    they span, [2, 2]; the whole multiples [2, 2] (float64) that make `waves` from it).
    Lagrange's reduction: take the shorter vector from the longer as many times as it
    goes, until neither shortens the other."""
    basis = waves.clone()
    multiples = torch.eye(2, dtype=torch.float64)  # waves = multiples @ basis, throughout
    for _ in range(64):
        if basis[0].dot(basis[0]) > basis[1].dot(basis[1]):
            basis, multiples = basis.flip(0), multiples.flip(1)
        mu = round(float(basis[0].dot(basis[1]) / basis[0].dot(basis[0])))
        if mu == 0:
            break
        basis[1] -= mu * basis[0]
        multiples[:, 0] += mu * multiples[:, 1]
    return basis, multiples


# `refine_lattice`: the exemplar is compared with itself moved by every lattice step
# (i a1 + j a2, |i|, |j| <= REFINE_REACH) that leaves at least REFINE_OVERLAP of it
# overlapping; each wave's length and direction are searched REFINE_LENGTH (relative) and
# REFINE_ANGLE (radians) either way in REFINE_STEPS places, REFINE_ROUNDS times, a third
# as far each round.
REFINE_REACH = 16
REFINE_OVERLAP = 0.3
REFINE_LENGTH = 0.03
REFINE_ANGLE = math.radians(2.0)
REFINE_STEPS = 9
REFINE_ROUNDS = 4


def cubic_taps(fraction: np.ndarray) -> np.ndarray:
    """[N, 4]: Keys' cubic convolution taps (a = -1/2) at pixels -1, 0, 1, 2 for points
    `fraction` ([N], 0-1) past pixel 0 (also `layout.cubic_weights`'s)."""
    t = np.abs(np.arange(-1, 3)[None] - fraction[:, None])
    near = 1.5 * t**3 - 2.5 * t**2 + 1
    far = -0.5 * t**3 + 2.5 * t**2 - 4 * t + 2
    return np.where(t <= 1, near, np.where(t < 2, far, 0.0))


def bicubic_at(image: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """`image` ([1,C,H,W]) read at positions `x`, `y` ([h, w] each, in pixels, pixel
    centres at half-pixels) by bicubic interpolation, the border repeated, outside any
    autocast: [1,C,h,w] float32."""
    height, width = image.shape[-2:]
    grid = torch.stack([2 * x / width - 1, 2 * y / height - 1], dim=-1)[None].float().to(image.device)
    with torch.autocast(image.device.type, enabled=False):
        return F.grid_sample(image.float(), grid, mode="bicubic", padding_mode="border", align_corners=False)


class _Autocorrelation:
    """An image's correlation with itself moved by any (fractional) shift, normalised by
    the overlap and the image's variance (1 at no shift), read off one FFT."""

    def __init__(self, image: np.ndarray):
        _, height, width = image.shape
        self.height, self.width = height, width
        size = (2 * height, 2 * width)  # zero-padded: no wrap-around
        power = np.zeros((size[0], width + 1))
        variance = 0.0
        for channel in image:  # one channel's transform at a time (a 1024 px exemplar: 34 MB)
            x = channel - channel.mean()
            power += np.abs(np.fft.rfft2(x, s=size)) ** 2
            variance += float((x * x).sum()) / (height * width)
        # pixels that overlap at each shift, index [dy mod 2H, dx mod 2W]
        dy, dx = np.fft.fftfreq(size[0], 1 / size[0]), np.fft.fftfreq(size[1], 1 / size[1])
        count = np.maximum(np.outer(height - np.abs(dy), width - np.abs(dx)), 1.0)
        self.corr = np.fft.irfft2(power, s=size) / count / max(variance, 1e-12)

    def at(self, shifts: np.ndarray) -> np.ndarray:
        """The correlation at `shifts` ([N,2], x then y), by Keys' cubic convolution: a
        bilinear read peaks at whole pixels and pulled a lattice's steps onto them (a
        96.48 px course read as 96.8)."""
        h2, w2 = 2 * self.height, 2 * self.width
        x0, y0 = np.floor(shifts[:, 0]).astype(np.int64), np.floor(shifts[:, 1]).astype(np.int64)
        wx, wy = cubic_taps(shifts[:, 0] - x0), cubic_taps(shifts[:, 1] - y0)  # [N, 4] each
        taps = np.arange(-1, 3)
        rows, cols = (y0[:, None] + taps) % h2, (x0[:, None] + taps) % w2

        return np.einsum("ny,nyx,nx->n", wy, self.corr[rows[:, :, None], cols[:, None, :]], wx)

    def lattice_score(self, waves: np.ndarray) -> float:
        """The overlap-weighted mean correlation at the lattice's steps (`REFINE_REACH`)."""
        if len(waves) == 2:
            basis = np.linalg.inv(waves)  # columns: the steps a1, a2 (k_i . a_j = delta_ij)
            r = np.arange(-REFINE_REACH, REFINE_REACH + 1)
            ij = np.stack(np.meshgrid(r, r, indexing="ij"), -1).reshape(-1, 2)
            shifts = ij[np.any(ij != 0, axis=1)] @ basis.T
        else:  # one wave: whole periods across its stripes
            k = waves[0]
            shifts = np.arange(1, 2 * REFINE_REACH + 1)[:, None] * (k / (k @ k))[None]
        room = np.stack([self.width - np.abs(shifts[:, 0]), self.height - np.abs(shifts[:, 1])], axis=1)
        overlap = room.prod(axis=1)  # pixels that overlap at each shift
        keep = (room.min(axis=1) > 0) & (overlap >= REFINE_OVERLAP * self.height * self.width)
        if not keep.any():
            return -1.0
        return float((self.at(shifts[keep]) * overlap[keep]).sum() / overlap[keep].sum())


def refine_lattice(image: np.ndarray, waves: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """`waves` (cycles per pixel, x then y) moved to where `image` ([C, H, W]) agrees best
    with itself one or more lattice steps away (`_Autocorrelation.lattice_score`): each
    wave's length and direction searched a few per cent and degrees either way (a lone
    wave's length only).

    A spectral peak places a wave to a fraction of a frequency bin, and a long wave's
    direction and a supercell's period (`supercell`) are read off little: lego's courses
    came out 98.65 px apart and 0.74 degrees off level, where its rows stand 96.5 px
    apart (six of its 16.08 px studs) and level, so a block taken from one end of the
    exemplar landed ~6 px off in a quilt. Its own autocorrelation at every lattice step
    at once puts the courses at 96.51 px and 90.01 degrees. Each wave keeps its sign."""
    if not waves:
        return waves
    return _refine(_Autocorrelation(np.asarray(image, dtype=np.float64)), waves)[0]


def _refine(auto: _Autocorrelation, waves: list[tuple[float, float]]) -> tuple[list[tuple[float, float]], float]:
    """`refine_lattice` on an image's autocorrelation: (the waves, their lattice score)."""
    k = np.asarray(waves, dtype=np.float64)
    params = np.stack([np.log(np.hypot(k[:, 0], k[:, 1])), np.arctan2(k[:, 1], k[:, 0])], axis=1)

    def vectors(p: np.ndarray) -> np.ndarray:
        return np.exp(p[:, 0:1]) * np.stack([np.cos(p[:, 1]), np.sin(p[:, 1])], axis=1)

    best = auto.lattice_score(k)
    span = np.array([REFINE_LENGTH, REFINE_ANGLE])
    # one wave's steps all run across its stripes, along which the image barely changes:
    # they fix its period, not its direction (stripes at 90 degrees drifted to 90.2)
    searched = (0, 1) if len(params) == 2 else (0,)
    for _ in range(REFINE_ROUNDS):
        for i in range(len(params)):
            for d in searched:
                tries = params[i, d] + np.linspace(-span[d], span[d], REFINE_STEPS)
                scores = []
                for value in tries:
                    p = params.copy()
                    p[i, d] = value
                    scores.append(auto.lattice_score(vectors(p)))
                j = int(np.argmax(scores))
                if scores[j] > best:
                    best, params[i, d] = scores[j], tries[j]
        span = span / 3
    return [(float(kx), float(ky)) for kx, ky in vectors(params)], best


def _finer_lattice(waves: list[tuple[float, float]], peaks: np.ndarray, weak: np.ndarray) -> list[tuple[float, float]]:
    """Two waves may span only part of the pattern's lattice of frequencies: a honeycomb's
    thin walls put more power in its second ring of peaks (sqrt 3 times its cells'
    frequency, 60 degrees apart) than in its first, so the two strongest waves repeat
    three times in each cell, and blocks placed in step with them can land a third of
    a cell off. Where (a k1 + b k2) / n (n = 2 or 3) is a peak as strong as a wave must
    be (`peaks`), the lattice holds it too: return the two shortest non-parallel vectors
    of the lattice that k1, k2 and it span (a basis of it, in two dimensions), cycles per
    pixel, x then y. A honeycomb's first ring may stand weaker than that (its cells'
    contents are random): where k1 and k2 are a hexagonal ring (`_hexagonal`), the ring
    inside it is taken when its three peaks (and their opposites) all stand half as high
    (`weak`). A weak peak alone is not enough: brick_gray's and lego's exemplars have
    weak peaks at such points that are no lattice's. The bench's lattices keep their
    waves."""
    height, width = peaks.shape
    k = np.array(waves, dtype=np.float64)

    def near(mask: np.ndarray, g: np.ndarray) -> bool:
        return _peak_near(mask, g[1] * height, g[0] * width) is not None

    def is_peak(g: np.ndarray) -> bool:
        return np.hypot(*g) * min(height, width) >= 3 and near(peaks, g)

    # a and b both nonzero: a sub-multiple of one wave alone is `_fundamental`'s
    combos = [(n, a, b) for n in (2, 3) for a in range(1, n) for b in range(1, n)]
    found = next((c for c in combos if is_peak((c[1] * k[0] + c[2] * k[1]) / c[0])), None)
    if found is None and _hexagonal(k[0], k[1]):
        for a, b in ((1, 1), (1, 2)):  # the pair 60 or 120 degrees apart
            first, second = _lattice_basis(k, 3, a, b)
            third = min(first - second, first + second, key=lambda v: float(np.hypot(*v)))
            if all(near(weak, v) for v in (first, second, third)):
                found = (3, a, b)
                break
    if found is None:
        return waves
    # both in the half plane find_waves reports (y > 0, or y == 0 and x > 0)
    basis = [v if v[1] > 0 or (v[1] == 0 and v[0] > 0) else -v for v in _lattice_basis(k, *found)]
    return [(float(v[0]), float(v[1])) for v in basis]


def _lattice_basis(k: np.ndarray, n: int, a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
    """The two shortest non-parallel vectors of the lattice that k[0], k[1] and
    (a k[0] + b k[1]) / n span: {(i k0 + j k1) / n : (i, j) = m (a, b) mod n}."""
    points = [
        (i * k[0] + j * k[1]) / n
        for i in range(-2 * n, 2 * n + 1)
        for j in range(-2 * n, 2 * n + 1)
        if (i, j) != (0, 0) and any((i - m * a) % n == 0 and (j - m * b) % n == 0 for m in range(n))
    ]
    points.sort(key=lambda v: float(np.hypot(*v)))
    first = points[0]
    second = next(v for v in points if abs(np.dot(v, first)) < 0.95 * np.hypot(*v) * np.hypot(*first))
    return first, second


# a wave's true period is m of its periods (m = 2-4) when its image's profile across the
# wave's stripes repeats at m periods this much better than at one, and at least this well.
# Lego's yellow courses (every 3rd 33 px row: 0.60 at 99 px, -0.25 at 33 px) and wicker's
# over-under weave (0.65 at 2 x 16 px, -0.14 at 16 px); bricks and brick_gray repeat best
# at one period (0.97, 0.67). Placed a whole 33 px step from its source, a lego quilt's
# block stepped its courses by a row.
SUPERCELL_GAIN = 0.3
SUPERCELL_MIN = 0.4
SUPERCELL_TIE = 0.1  # within this of the best, the fewest periods win
SUPERCELL_SPAN = 0.4  # m periods may span at most this share of the profile


def supercell(image: np.ndarray, wave: tuple[float, float]) -> tuple[float, float]:
    """`wave` (cycles per pixel, x then y), or a wave along it 2-4 times longer where the
    pattern of `image` ([C, H, W]) repeats only every m of its periods: where its profile
    (the mean along each stripe) correlates with itself at m periods `SUPERCELL_GAIN`
    better than at one and at least `SUPERCELL_MIN` (the fewest periods within
    `SUPERCELL_TIE` of the best). That long period is read from the profile's own
    correlation peak: m times a spectral period is m times its error (lego: 3 x 32.9 px
    = 98.7 px, its courses 96-97 px apart). That peak still reads lego's 98.65 px;
    `refine_lattice` then places it."""
    profile = _profile(image, wave)
    period = 1.0 / math.hypot(*wave)
    scores: dict[int, tuple[float, int]] = {}
    for m in (1, 2, 3, 4):
        lag = m * period
        if lag > SUPERCELL_SPAN * profile.shape[1]:
            break
        slack = max(1, round(0.05 * lag))  # the peak's frequency is known to a few per cent
        scores[m] = max((_lag_correlation(profile, round(lag) + e), round(lag) + e) for e in range(-slack, slack + 1))
    if len(scores) < 2:
        return wave
    top = max(score for m, (score, _) in scores.items() if m > 1)
    best = min(m for m, (score, _) in scores.items() if m > 1 and score >= top - SUPERCELL_TIE)  # 2, not 4
    score, lag = scores[best]
    if score < SUPERCELL_MIN or score - scores[1][0] < SUPERCELL_GAIN:
        return wave
    below, above = (_lag_correlation(profile, lag + e) for e in (-1, 1))
    long_period = lag + parabola_vertex(below, score, above)
    return wave[0] * period / long_period, wave[1] * period / long_period


def _hexagonal(k1: np.ndarray, k2: np.ndarray) -> bool:
    """Two wave vectors of equal length (within 8 %), 60 or 120 degrees apart (within 6)."""
    n1, n2 = np.hypot(*k1), np.hypot(*k2)
    return abs(n1 / n2 - 1) < 0.08 and abs(abs(np.dot(k1, k2)) / (n1 * n2) - 0.5) < 0.09


def _profile(image: np.ndarray, wave: tuple[float, float]) -> np.ndarray:
    """[C, L]: `image`'s mean along each 1 px line across `wave` (its stripes), over the
    lines at least half as long as the longest."""
    _, height, width = image.shape
    ux, uy = np.asarray(wave, dtype=np.float64) / math.hypot(*wave)
    ys, xs = np.mgrid[0:height, 0:width]
    t = xs * ux + ys * uy
    t = np.round(t - t.min()).astype(np.int64).ravel()
    count = np.bincount(t)
    sums = np.stack([np.bincount(t, channel.ravel(), minlength=len(count)) for channel in image])
    return (sums / np.maximum(count, 1))[:, count >= 0.5 * count.max()]


def _lag_correlation(profile: np.ndarray, lag: int) -> float:
    a, b = profile[:, lag:], profile[:, : profile.shape[1] - lag]
    a = a - a.mean(1, keepdims=True)
    b = b - b.mean(1, keepdims=True)
    return float((a * b).sum() / max(math.sqrt((a * a).sum() * (b * b).sum()), 1e-12))


def _fundamental(iy: int, ix: int, peaks: np.ndarray) -> tuple[int, int]:
    """Thin lines (mortar, seams) put more power in harmonics than in the fundamental:
    if a peak also shows at 1/n of this frequency, return that one instead."""
    height, width = peaks.shape
    fy = iy if iy <= height // 2 else iy - height
    fx = ix if ix <= width // 2 else ix - width
    for n in (4, 3, 2):
        found = _peak_near(peaks, fy / n, fx / n)
        if found is not None:
            return found
    return iy, ix


def _half_lattice(iy: int, ix: int, other: tuple[float, float], peaks: np.ndarray) -> tuple[int, int]:
    height, width = peaks.shape
    fy = iy if iy <= height // 2 else iy - height
    fx = ix if ix <= width // 2 else ix - width
    oy, ox = other[1] * height, other[0] * width
    for sign in (-1, 1):
        found = _peak_near(peaks, (fy + sign * oy) / 2, (fx + sign * ox) / 2)
        if found is not None:
            return found
    return iy, ix


def _peak_near(peaks: np.ndarray, cy: float, cx: float) -> tuple[int, int] | None:
    """A peak within one bin of the frequency (cy, cx) (in bins), if there is one."""
    height, width = peaks.shape
    for dy in (0, -1, 1):
        for dx in (0, -1, 1):
            y, x = round(cy) + dy, round(cx) + dx
            if (y, x) != (0, 0) and abs(y - cy) <= 1 and abs(x - cx) <= 1 and peaks[y % height, x % width]:
                return y % height, x % width
    return None
