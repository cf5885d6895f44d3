"""A lattice photographed at an angle, found and taken out before a fit.

A wall or a pavement photographed at an angle is a plane seen through a homography: its
courses or columns converge and their spacing changes across the photo (the bench's
brick_gray: columns 31 px apart at the top, 42 px at the bottom, leaning 7 degrees at the
left and 1 at the right). One lattice cannot hold that, and a quilt of such a photo
jogged at every block border. Where the exemplar has a lattice (`noise.find_waves`), each
wave is read in overlapping windows (`local_waves`), and the projective part of a
homography that makes one wave's readings agree everywhere is fitted (`find_perspective`).
The exemplar is then resampled through it (`rectify`): the wall seen square on, at the
scale the photo has at its centre.

A homography's projective part is all that changes a lattice's spacing from place to
place: G(x) = x / (1 + c . x) (x from the exemplar's centre) maps the photo to a plane
where the wave is k_r everywhere, and the photo's wave at x is then J(x)^T k_r, J the
Jacobian of G. Any affine map after G keeps a uniform lattice uniform, so c (2 numbers)
is what is fitted, and G is the identity to first order at the centre.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .channels import colour_mean
from .noise import bicubic_at, parabola_vertex, wave_read

# a wave is read in windows of half the exemplar's short side (at least this), a
# quarter of that apart: brick_gray's 256 x 512 in 3 x 7 windows of 128 px
WINDOW_MIN = 64
PAD = 8  # each window's spectrum zero-padded this many times (then a parabola's peak)
SEARCH = 0.3  # a window's peak is looked for within this share of the wave's length
# a perspective is taken out where one wave's readings spread by at least this much
# (mean squared difference from their mean over its squared length: brick_gray's columns
# 0.0108, about 10 % in period; wicker's waves and the diamond plate's ridges 0.0002-0.0021)
# and a homography explains all but `RESIDUAL` of that spread (brick_gray's columns keep
# 0.03 of theirs; every wave of bark, bricks, lego, parquet and a honeycomb 0.60-0.99:
# `benchmarks/perspective.py`, benchmarks/RESULTS session 44)
SPREAD_MIN = 0.004
RESIDUAL = 0.25


@dataclass(frozen=True)
class Perspective:
    """G(x) = x / (1 + c . x) about `centre` (x, y, exemplar pixels): `c` per pixel;
    `wave`: the index of the wave that decided it, `spread` and `residual` that wave's
    spread before and after (`wave_spread`), and `periods` the shortest and longest
    period it was read at across the photo (px)."""

    c: tuple[float, float]
    centre: tuple[float, float]
    wave: int
    spread: float
    residual: float
    periods: tuple[float, float]


def local_waves(image: torch.Tensor, waves: list[tuple[float, float]]) -> np.ndarray:
    """Each wave of `waves` (cycles per pixel) read in overlapping windows of `image`
    ([1,C,H,W]): [N, 5] rows of (window centre x, y, wave index, kx, ky), the spectral
    peak nearest the wave within `SEARCH` of its length, placed to a fraction of a bin."""
    grey = colour_mean(image.double())[0].numpy()
    height, width = grey.shape
    side = max(WINDOW_MIN, min(height, width) // 2)
    step = max(1, side // 2)
    hann = np.outer(np.hanning(side), np.hanning(side))
    size = side * PAD
    freq = np.fft.fftfreq(size)
    rows = []
    for y in range(0, height - side + 1, step):
        for x in range(0, width - side + 1, step):
            window = grey[y : y + side, x : x + side]
            power = np.abs(np.fft.fft2((window - window.mean()) * hann, s=(size, size))) ** 2
            for i, (kx, ky) in enumerate(waves):
                near = np.hypot(freq[None, :] - kx, freq[:, None] - ky) < SEARCH * math.hypot(kx, ky)
                iy, ix = np.unravel_index(np.argmax(np.where(near, power, -1.0)), power.shape)
                fx = freq[ix] + _vertex(power[iy, [(ix - 1) % size, ix, (ix + 1) % size]]) / size
                fy = freq[iy] + _vertex(power[[(iy - 1) % size, iy, (iy + 1) % size], ix]) / size
                rows.append((x + side / 2, y + side / 2, i, fx, fy))
    return np.array(rows, dtype=np.float64).reshape(-1, 5)


def _vertex(values: np.ndarray) -> float:
    """The offset (-0.5..0.5) of the peak of a parabola through three log powers."""
    return parabola_vertex(*np.log(np.maximum(values, 1e-30)))


def rectified_waves(field: np.ndarray, c: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """The waves of `field` (`local_waves`) as they are on the plane G maps the photo to:
    k_r = J(x)^-T k, [N, 2]."""
    x = field[:, :2] - centre
    d = 1 + x @ c
    jacobian = (np.eye(2)[None] * d[:, None, None] - x[:, :, None] * c[None, None, :]) / (d**2)[:, None, None]
    return np.linalg.solve(np.transpose(jacobian, (0, 2, 1)), field[:, 3:5, None])[..., 0]


def wave_spread(field: np.ndarray, c: np.ndarray, centre: np.ndarray) -> float:
    """How far one wave's readings (`field` rows of one wave) disagree on G's plane: their
    mean squared difference from their mean over the mean's squared length."""
    k = rectified_waves(field, c, centre)
    mean = k.mean(axis=0)
    return float((((k - mean) ** 2).sum(axis=1)).mean() / max(float(mean @ mean), 1e-30))


def fit_projective(field: np.ndarray, centre: np.ndarray, extent: float) -> tuple[np.ndarray, float]:
    """The c (per pixel) that makes one wave's readings agree best, and that spread: a
    grid search over |c| up to 1 / `extent` (a vanishing line as near as the photo's
    size), narrowed five times."""
    best_c, best = np.zeros(2), wave_spread(field, np.zeros(2), centre)
    span = 1.0 / extent
    for _ in range(6):
        around = best_c.copy()
        for cx in np.linspace(-span, span, 21):
            for cy in np.linspace(-span, span, 21):
                c = around + np.array([cx, cy])
                if np.abs(c).sum() * extent >= 1.5:  # G must not fold the photo
                    continue
                spread = wave_spread(field, c, centre)
                if spread < best:
                    best_c, best = c, spread
        span /= 5
    return best_c, best


@dataclass(frozen=True)
class WaveFit:
    """One wave's window readings (`local_waves`): their `spread` (`wave_spread`) on the
    photo, and the `residual` spread on the plane of the G (`c`, per photo pixel, about
    the photo's centre) that makes them agree best; `periods`: the shortest and longest
    period it was read at (photo pixels)."""

    c: tuple[float, float]
    spread: float
    residual: float
    periods: tuple[float, float]


def wave_fits(image: torch.Tensor, waves: list[tuple[float, float]]) -> list[WaveFit]:
    """Each of `waves` read across `image` ([1,C,H,W]) and fitted on its own
    (`fit_projective`); none where too few windows fit. Read where the waves are read
    (`noise.wave_read`: a 1024 x 764 photo's windows took 10 s at full size): x there is
    x / (fx, fy) here."""
    height, width = image.shape[-2:]
    small = wave_read(image.double())
    fx, fy = width / small.shape[-1], height / small.shape[-2]
    field = local_waves(small, [(kx * fx, ky * fy) for kx, ky in waves])
    if len(field) < 4 * len(waves):  # too few windows to fit two numbers from
        return []
    centre = np.array([small.shape[-1] / 2, small.shape[-2] / 2])
    fits = []
    for i in range(len(waves)):
        rows = field[field[:, 2] == i]
        c, residual = fit_projective(rows, centre, float(max(small.shape[-2:])))
        k = rows[:, 3:5] / np.array([fx, fy])  # cycles per photo pixel
        periods = 1 / np.hypot(k[:, 0], k[:, 1])
        fits.append(
            WaveFit(
                (float(c[0] / fx), float(c[1] / fy)),
                wave_spread(rows, np.zeros(2), centre),
                residual,
                (float(periods.min()), float(periods.max())),
            )
        )
    return fits


def find_perspective(image: torch.Tensor, waves: list[tuple[float, float]]) -> Perspective | None:
    """The perspective a lattice exemplar ([1,C,H,W]) was photographed at, or None when its
    lattice is flat or no homography explains how it varies (`pick_perspective` of its
    `wave_fits`)."""
    if not waves:
        return None
    height, width = image.shape[-2:]
    return pick_perspective(wave_fits(image, waves), (width, height))


def pick_perspective(fits: list[WaveFit], size: tuple[int, int]) -> Perspective | None:
    """Of the waves fitted on their own (`wave_fits`) on a photo of `size` (width,
    height), the one a homography explains best decides, if it spreads by `SPREAD_MIN`
    or more and keeps at most `RESIDUAL` of that: a brick wall's second wave (its joints)
    is read unreliably in a window that holds two or three bricks along it."""
    best = None
    for i, fit in enumerate(fits):
        if fit.spread < SPREAD_MIN or fit.residual > RESIDUAL * fit.spread:
            continue
        if best is None or fit.residual / fit.spread < best[1].residual / best[1].spread:
            best = (i, fit)
    if best is None:
        return None
    wave, fit = best
    return Perspective(fit.c, (size[0] / 2, size[1] / 2), wave, fit.spread, fit.residual, fit.periods)


def rectify(image: torch.Tensor, perspective: Perspective) -> torch.Tensor:
    """`image` ([1,C,H,W]) resampled onto G's plane (bicubic, within [-1, 1]): the largest
    upright rectangle inside the photo's image there, at the photo's scale at its centre."""
    height, width = image.shape[-2:]
    c = np.array(perspective.c)
    centre = np.array(perspective.centre)
    corners = np.array([[0, 0], [width, 0], [0, height], [width, height]], dtype=np.float64) - centre
    mapped = corners / (1 + corners @ c)[:, None]
    left, right = max(mapped[0, 0], mapped[2, 0]), min(mapped[1, 0], mapped[3, 0])
    top, bottom = max(mapped[0, 1], mapped[1, 1]), min(mapped[2, 1], mapped[3, 1])
    out_w, out_h = int(right - left), int(bottom - top)
    u = torch.arange(out_w, dtype=torch.float64) + 0.5 + left
    v = torch.arange(out_h, dtype=torch.float64) + 0.5 + top
    vv, uu = torch.meshgrid(v, u, indexing="ij")
    denominator = 1 - (c[0] * uu + c[1] * vv)  # x = u / (1 - c . u)
    return bicubic_at(image, uu / denominator + centre[0], vv / denominator + centre[1]).clamp(-1, 1)
