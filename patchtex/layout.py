"""The coarsest scale drawn by example: a quilt of the exemplar's own coarsest level.

A GAN at the coarsest scale has a few dozen pixels of exemplar to learn from, and its
critics win early: tomatoes, leaves and cobbles came out as merged blobs there, and no
finer scale can put back a whole object that the layout lacks. The finer scales, fed a
real coarse layout, draw whole objects (benchmarks/README, sessions 17 and 19). So the
coarsest image can be a quilt instead: the plane is cut
into square cells of `CELL` coarse pixels, and each cell shows a block of the exemplar's
coarsest level. The cells form a checkerboard: a "black" cell takes a block at a random
place; a "white" cell, whose four neighbours are all black, takes the best of
`CANDIDATES` random blocks, the one whose `OVERLAP`-pixel margins best agree with its
neighbours' blocks. Agreement alone favours bland blocks: an unrelated block's squared
difference from its neighbours grows with its own variance, so of 16 the flattest tends
to win, and grass's quilts held clover and leaves where its exemplar has blades
(benchmarks/RESULTS, session 36). A model fitted since session 37 may record a
`variance_credit`: where it draws, that share of a candidate's own variance over its
margins is taken off its cost. Of a white cell's candidates, the last `coherent` (a model's
`layout_coherent`, 0 by default) are no random places but its neighbours' continuations:
the block that carries on the left neighbour's block exactly across their shared edge,
and so on for the right, upper and lower ones (as Ashikhmin's coherent candidates do for
pixels). Where one wins, a band, a vein or a course runs on across that edge as the
exemplar has it, where 16 random blocks rarely hold one that enters at the right place.
A continuation's strip along the edge it continues costs nothing, so it is judged on its
other three strips (scaled to four): it wins where it also fits the cell's other
neighbours, not by that free edge alone (which made it win so often that small
exemplars' quilts repeated their level in larger pieces). Neighbouring blocks meet along
a minimum-error cut through their overlap. Every choice depends on the seed and on cells
at most one apart, so the quilt is a fixed function of position like the noise: any
window is exact, and with a period the cells wrap (tileable outputs).

Lattices (bricks, tiles, weaves) are quilted too, with each block's source moved to the
nearest place a whole number of lattice steps (the exemplar's waves) from where it
goes, shifted by a phase of the seed's own: blocks then continue each other's courses,
rows and weave across every seam, and seeds differ in where the lattice sits. A lattice
step is rarely a whole number of pixels, so blocks are taken at sub-pixel offsets too,
from copies of the level resampled at `SUBPIXEL` steps a pixel. Where a lattice wave runs
along an axis and is longer than a block (lego's yellow rows), a model fitted since
session 41 lays that axis's cells one period apart, every edge where the level's rows
agree best (`aligned_axes`): square cells cut such courses at every phase and joined
the halves of two bricks.

A real level is a box average of the exemplar, so where an outline crosses one of its
pixels that pixel holds a mix of both sides; a cut between two blocks is a step no real
level has. A model fitted since session 33 records a `feather`: the pixel after each cut
mixes in that share of the block before it, read at the same pixel.

A quilt's mean colour drifts from its level's (random blocks show a small level's middle
more often than its edges; white cells favour bland blocks): a model fitted since
session 25 records that drift (`quilt_offset`) and its quilts add it back to every pixel.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from .config import MIN_WAVE_PERIOD, ModelConfig, num_scales_for
from .noise import _mix, bicubic_at, cubic_taps, mix_array

CELL = 16  # coarse pixels a cell spans (its width on a wrapping plane: `Axis`)
OVERLAP = 3  # pixels beyond a cell's edge compared with its neighbours' blocks
# an edge-aware cut's floor under the two blocks' colour steps (`seam_costs`): colour
# distance in [-1, 1] units, small beside an outline's step (~0.3-1) and so a flat place
# where the blocks differ costs far more to cut through than an outline
SEAM_EDGE_FLOOR = 0.05
CANDIDATES = 16  # random blocks a white cell chooses among
LAYOUT_KEY = 0x0B10C  # quilt choices are keyed apart from the noise
SUBPIXEL = 8  # a lattice block's source is placed to 1/SUBPIXEL of a coarsest pixel
PHASE_KEY = 0x1A77  # keys a seed's lattice phase apart from its blocks
SNAP_STEPS = 2  # lattice steps either way a block's source may move to its lattice phase
# of the places in step, those within the first of these of whole pixels (px, the larger
# of the two axes) are preferred, else the second, and of those the nearest to the random
# draw; where none is, the nearest to whole pixels. A block shifted by half a pixel is a
# blurred block: bricks' 1 px mortar lines became 2 px wide and the output's mortar
# thick (VGG ratio 3.21 without a preference, 2.50 / 2.76 with these at seeds 0 / 1; a
# looser rule that let the draw decide among all places within 0.1 px of the nearest:
# 2.94 / 3.11; benchmarks/RESULTS, session 22)
SNAP_TOLERANCES = (0.15, 0.25)
PERIOD_DB = 3.0
NEIGHBOURS = ((-1, 0), (1, 0), (0, -1), (0, 1))  # a white cell's: left, right, upper, lower
# cells whose block a quilt remembers (and twice as many seams) before it forgets them
# all: a canvas keeps one quilt for its whole render, and a 16384 px output of a model
# quilted at 1/2 has 262144 cells (about 150 MB of remembered seams)
CACHE_CELLS = 32768


def fits(height: int, width: int) -> bool:
    """Whether a coarsest level of this size holds a block (`CELL` plus its margins)."""
    return min(height, width) >= CELL + 2 * OVERLAP


class Axis:
    """The cells along one axis: cell i spans [edge(i), edge(i + 1)). On an endless plane
    every cell is `cell` wide (a model's `layout_cell`); with a period P the plane holds
    ceil(P / cell) cells a period (rounded up to an even count, so that the checkerboard
    wraps too), as even as whole pixels allow, and cell indices wrap.

    With a `pitch` (a lattice quilt's cells laid along a wave, `aligned_axes`), cell i
    spans [floor(origin + i pitch), floor(origin + (i + 1) pitch)) instead; with a period,
    P / pitch cells a period (the caller makes that whole; an odd count wraps too, with
    `Quilt.white`) from `origin` on."""

    def __init__(self, period: int | None, cell: int = CELL, pitch: float | None = None, origin: float = 0.0):
        self.period, self.side = period, cell
        self.pitch, self.origin = pitch, origin
        self.count = None
        if period is not None and pitch is not None:
            self.count = round(period / pitch)
        elif period is not None:
            cells = -(-period // cell)
            self.count = max(2, cells + cells % 2)

    def edge(self, i: int) -> int:
        if self.pitch is not None:
            return int(self.edges(np.array([i], dtype=np.int64))[0])
        if self.period is None:
            return i * self.side
        turns, k = divmod(i, self.count)
        return turns * self.period + (k * self.period) // self.count

    def edges(self, i: np.ndarray) -> np.ndarray:
        """`edge` of every cell index in the int64 array `i`."""
        if self.pitch is not None:
            if self.period is None:
                return np.floor(self.origin + i * self.pitch).astype(np.int64)
            turns, k = np.divmod(i, self.count)
            return turns * self.period + np.floor(self.origin + k * (self.period / self.count)).astype(np.int64)
        if self.period is None:
            return i * self.side
        turns, k = np.divmod(i, self.count)
        return turns * self.period + (k * self.period) // self.count

    def keys(self, i: np.ndarray) -> np.ndarray:
        """`key` of every cell index in the int64 array `i`."""
        return i if self.count is None else np.mod(i, self.count)

    def cell(self, x: int) -> int:
        """The cell holding coordinate x."""
        if self.pitch is not None:
            i = math.floor((x - self.origin) / (self.pitch if self.period is None else self.period / self.count))
        else:
            i = x // self.side if self.period is None else (x * self.count) // self.period
        while self.edge(i + 1) <= x:
            i += 1
        while self.edge(i) > x:
            i -= 1
        return i

    def key(self, i: int) -> int:
        """The index a cell's random choices are keyed by (wrapped on a periodic plane)."""
        return i if self.count is None else i % self.count

    def last(self, key: int) -> bool:
        """Whether `key` is the last cell of a period with an odd number of cells."""
        return self.count is not None and self.count % 2 == 1 and key == self.count - 1

    def widest(self) -> int:
        """The widest cell: `cell`, or on a wrapping plane ceil(period / count), no wider;
        with a `pitch`, ceil of it."""
        if self.pitch is not None:
            return math.ceil(self.pitch if self.period is None else self.period / self.count)
        return self.side if self.period is None else -(-self.period // self.count)


def _times(vectors: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """[..., K] vectors times the [M, K] matrix: [..., M], each sum over k in order, in
    plain float64 (the same for every vector whatever the others)."""
    out = vectors[..., 0, None] * matrix[:, 0]
    for k in range(1, matrix.shape[1]):
        out = out + vectors[..., k, None] * matrix[:, k]
    return out


def coarse_lattice(config: ModelConfig, waves: torch.Tensor) -> torch.Tensor:
    """`waves` (cycles per finest pixel) in cycles per pixel of the coarsest level: the
    lattice a quilted coarsest scale keeps ([P,2] float64; P = 0 without waves)."""
    return waves.detach().cpu().double().reshape(-1, 2) * config.factor(0)


def structure_period(image: torch.Tensor) -> float:
    """The largest period (px) at which `image` ([1,C,H,W]) still has nearly its most
    structure: the luminance's power spectrum (Hann window) summed over half-octave bands
    of period, each weighted by frequency squared (so a photo's 1/f^2 falloff reads as
    flat), and the longest period whose band lies within `PERIOD_DB` dB of the strongest
    band. Elements laid out at random (stones, cells) leave the bands flat up to about
    their own size and weaker beyond it; the measure is bounded by 2/3 of the short side."""
    grey = image.detach().double().mean(dim=1)[0].cpu().numpy()
    grey = grey - grey.mean()
    height, width = grey.shape
    window = np.outer(np.hanning(height), np.hanning(width))
    power = np.abs(np.fft.fft2(grey * window)) ** 2
    freq = np.hypot(np.fft.fftfreq(height)[:, None], np.fft.fftfreq(width)[None, :])
    bands = []
    period = 2.0
    while period < min(height, width) / 1.5:
        inside = (freq <= 1 / period) & (freq > 1 / (period * 2**0.5))
        if inside.any():
            bands.append((period, power[inside].mean() / period**2))
        period *= 2**0.5
    if not bands:
        return 2.0
    strongest = max(b for _, b in bands)
    return max(p for p, b in bands if b >= strongest * 10 ** (-PERIOD_DB / 10))


def quilt_scales(
    height: int,
    width: int,
    coarse_side: int,
    layout_side: int | None,
    period: float | None = None,
    element_px: float = 0.0,
    lattice_period: float | None = None,
) -> int | None:
    """Scales of a pyramid for a height x width exemplar whose coarsest scale is a quilt
    (at least 2: a finer scale always remains), or None where that level holds no block.
    With the exemplar's `structure_period`, no coarser than the level where that period
    spans `element_px` pixels. With a lattice (`lattice_period`, its shortest wave's
    period in exemplar pixels), no coarser than the level where that wave spans
    `MIN_WAVE_PERIOD` pixels: every wave then holds the quilt's blocks in place (lego's
    16 px studs are 2 px at 1/8, where blocks fell at any phase of them)."""
    n = max(2, num_scales_for(min(height, width), layout_side or coarse_side))
    if period is not None and element_px > 0:
        n = max(2, min(n, 1 + round(math.log2(max(period / element_px, 1.0)))))
    if lattice_period is not None:
        n = max(2, min(n, 1 + math.floor(math.log2(max(lattice_period / MIN_WAVE_PERIOD, 1.0)))))
    return n if fits(height >> (n - 1), width >> (n - 1)) else None


def quilt_plan(
    height: int,
    width: int,
    coarse_side: int,
    layout_side: int | None,
    period: float | None = None,
    element_px: float = 0.0,
    finer: int = 0,
    cell: int = CELL,
    lattice_period: float | None = None,
    most: int = 0,
) -> tuple[int, int] | None:
    """(scales, cell side) of a pyramid whose coarsest scale is a quilt (`quilt_scales`),
    drawn up to `finer` scales finer than that with cells as many times 2x wider, so that
    a block covers the same part of the exemplar with more of its own pixels (never finer
    than `quilt_scales` allows with a `layout_side` that many times larger: one finer
    scale always remains, and the exemplar's structure may hold it coarser already).
    With `most` > 0, at least as many scales finer as would leave at most `most` finer
    scales above the quilt (within the same bounds: where the exemplar's structure already
    put the level finer than `layout_side` would, fewer or none). None where no level
    holds a block."""
    n = quilt_scales(height, width, coarse_side, layout_side, period, element_px, lattice_period)
    if n is None:
        return None
    if most > 0:
        finer = max(finer, n - 1 - most)
    if finer <= 0:
        return n, cell
    m = quilt_scales(
        height, width, coarse_side, (layout_side or coarse_side) << finer, period, element_px, lattice_period
    )
    if m is None or m >= n:
        return n, cell
    return m, cell << (n - m)


def cubic_weights(fraction: float) -> torch.Tensor:
    """The 4 taps (pixels -1, 0, 1, 2) of Keys' cubic convolution (a = -1/2) that sample a
    row `fraction` of a pixel past pixel 0; exactly (0, 1, 0, 0) at 0."""
    return torch.tensor(cubic_taps(np.array([fraction]))[0].tolist())


def subpixel_levels(level: torch.Tensor, steps: int = SUBPIXEL) -> list[torch.Tensor]:
    """`level` ([1,C,H,W]) resampled at every (fy, fx) in 1/`steps` pixel steps: entry
    fy * steps + fx reads the level at (y + fy / steps, x + fx / steps), by separable
    cubic convolution with the border repeated. Entry 0 is `level` itself."""
    _, channels, height, width = level.shape
    weights = torch.stack([cubic_weights(f / steps) for f in range(steps)])  # [S, 4]
    padded = F.pad(level.float(), (1, 2, 1, 2), mode="replicate")  # [1,C,H+3,W+3]
    rows = padded.reshape(channels, 1, height + 3, width + 3)
    with torch.autocast("cpu", enabled=False):  # a render's bf16 autocast must not round the layout
        along_x = F.conv2d(rows, weights[:, None, None, :])  # [C,S,H+3,W]
        along_y = F.conv2d(along_x.reshape(channels * steps, 1, height + 3, width), weights[:, None, :, None])
    out = along_y.reshape(channels, steps, steps, height, width).permute(2, 1, 0, 3, 4)  # [Sy,Sx,C,H,W]
    levels = [out[fy, fx][None].contiguous() for fy in range(steps) for fx in range(steps)]
    levels[0] = level
    return levels


# a wrapping plane's blocks come from a level stretched to its rounded lattice where,
# unstretched, neighbouring blocks would meet at least this far out of step (level px):
# the stretch resamples the level, softening a 1 px line (honeycomb walls at 1/4, bricks'
# mortar at 1/2) by up to what half a pixel's shift does
STRETCH_MISSTEP = 0.5


def lattice_map(lattice: np.ndarray, plane_lattice: np.ndarray) -> np.ndarray:
    """S ([2,2], x then y): where a plane that holds `plane_lattice` shows the phase of
    every wave of `lattice` ([P,2] waves, cycles per pixel; P of 1 or 2) that position x
    of `lattice`'s image has, S x (least norm for one wave: only along it);
    `lattice` S = `plane_lattice`."""
    k = np.asarray(lattice, dtype=np.float64)
    return np.eye(2) + np.linalg.pinv(k) @ (np.asarray(plane_lattice, dtype=np.float64) - k)


def lattice_strain(lattice: np.ndarray, plane_lattice: np.ndarray) -> float:
    """How far a plane that holds `plane_lattice` stretches `lattice`: the largest
    singular value of S - I (`lattice_map`). A measure of the lattice, whichever pair of
    waves names it. Blocks that hold `lattice` placed in step with the plane a cell apart
    meet this times a cell out of step."""
    return float(np.linalg.norm(lattice_map(lattice, plane_lattice) - np.eye(2), ord=2))


def strained_level(level: torch.Tensor, lattice: np.ndarray, plane_lattice: np.ndarray) -> torch.Tensor:
    """`level` ([1,C,H,W]) stretched so that it holds `plane_lattice` where it held
    `lattice` ([P,2] cycles per pixel): a wrapping plane's lattice is rounded to whole
    cycles of its period (`canvas.quantize_waves`), and a block that holds the exemplar's
    own lattice, placed in step with the plane's at its centre, is out of step with its
    neighbours where they meet by `lattice_strain` times a cell (parquet's 92 px wave in
    a 620 px tile: 11 %, 1.8 px of its 16 px cells at 1/8). A position x of the result
    reads the level at S x (`lattice_map`, about the centres) by bicubic interpolation,
    within the level's range of each channel; the result is as much smaller than the
    level as S needs to stay inside it."""
    _, _, height, width = level.shape
    s = lattice_map(lattice, plane_lattice)
    extent = np.abs(s) @ np.array([width, height], dtype=np.float64)
    shrink = min(1.0, width / extent[0], height / extent[1])
    out_w, out_h = int(width * shrink), int(height * shrink)
    ys, xs = torch.meshgrid(
        torch.arange(out_h, dtype=torch.float64) + 0.5 - out_h / 2,
        torch.arange(out_w, dtype=torch.float64) + 0.5 - out_w / 2,
        indexing="ij",
    )
    matrix = torch.from_numpy(s)
    src_x = matrix[0, 0] * xs + matrix[0, 1] * ys + width / 2
    src_y = matrix[1, 0] * xs + matrix[1, 1] * ys + height / 2
    out = bicubic_at(level, src_x, src_y)
    low = level.amin(dim=(2, 3), keepdim=True)
    high = level.amax(dim=(2, 3), keepdim=True)
    return torch.maximum(torch.minimum(out, high), low).contiguous()


def quilt_options(config: ModelConfig) -> dict:
    """The `Quilt` keyword arguments a model's quilts take from its config (all but the
    level, seed, period and lattice, which depend on where the quilt is drawn)."""
    return {
        "transforms": config.layout_transforms,
        "offset": config.layout_offset,
        "every_wave": config.phased_layout,
        "cell": config.layout_cell,
        "coherent": config.layout_coherent,
        "feather": config.layout_feather,
        "variance_credit": config.layout_variance_credit,
        "edge_seams": config.layout_edge_seams,
        "aligned": config.layout_aligned,
    }


def lattice_phases(seed: int, count: int) -> np.ndarray:
    """The phases (cycles, [count] float64) at which the lattice quilt of `seed` sets its
    `count` waves: the plane's lattice at q is at phase `plane_lattice` q plus these."""
    return np.array([(_mix(seed, PHASE_KEY, m) % 4096) / 4096 for m in range(count)])


ALIGN_SLOPE = 0.03  # a wave within this slope of an axis may lay that axis's cells (`aligned_axes`)
ALIGN_BINS = 32  # phase bins over a cycle where `seam_phase` weighs the level's agreement


def seam_phase(level: torch.Tensor, wave: np.ndarray) -> float:
    """The phase (cycles) of `wave` ([2], cycles per level pixel, x then y) about which the
    level's pixels agree best: its pixels binned by their phase of that wave, each bin's
    colour variance (summed over channels), smoothed over `OVERLAP` pixels either way
    across the wave (the strip a cut runs in), least at the returned bin's centre. A
    course of bricks agrees best at its mortar, lego at its yellow rows."""
    _, channels, height, width = level.shape
    y, x = np.mgrid[0:height, 0:width]
    phase = np.mod(wave[0] * x + wave[1] * y, 1.0)
    bins = np.minimum((phase * ALIGN_BINS).astype(np.int64), ALIGN_BINS - 1).ravel()
    pixels = level.detach().double().cpu().numpy().reshape(channels, -1)
    count = np.bincount(bins, minlength=ALIGN_BINS).astype(np.float64)
    total = np.stack([np.bincount(bins, weights=c, minlength=ALIGN_BINS) for c in pixels])
    squares = np.stack([np.bincount(bins, weights=c * c, minlength=ALIGN_BINS) for c in pixels])
    variance = (squares - total**2 / np.maximum(count, 1)).sum(axis=0)  # [bins], summed squares
    reach = max(1, round(OVERLAP * float(np.hypot(*wave)) * ALIGN_BINS))
    window = np.arange(-reach, reach + 1)
    index = (np.arange(ALIGN_BINS)[:, None] + window[None]) % ALIGN_BINS
    spread = variance[index].sum(axis=1) / np.maximum(count[index].sum(axis=1), 1)
    return (int(spread.argmin()) + 0.5) / ALIGN_BINS


def _lays(along: float, across: float, cell: int, side: int) -> bool:
    """Whether a wave with these components (cycles per level pixel) along an axis and
    across it lays that axis's cells (`aligned_axes`) on a level `side` pixels long
    there: within `ALIGN_SLOPE` of the axis, longer than a block (`cell` and its
    margins) but no longer than two cells, and a block one period long still inside the
    level."""
    if along == 0 or abs(across) > ALIGN_SLOPE * abs(along):
        return False
    step = 1 / abs(along)
    return cell + 2 * OVERLAP <= step <= 2 * cell and math.ceil(step) + 2 * OVERLAP <= side


def lays_cells(waves: np.ndarray, height: int, width: int, cell: int) -> bool:
    """Whether one of `waves` ([P,2], cycles per pixel of a height x width level, x then
    y) lays a quilt's cells along an axis (`aligned_axes`, on an endless plane)."""
    return any(_lays(k[a], k[1 - a], cell, (width, height)[a]) for k in np.asarray(waves) for a in (0, 1))


def aligned_axes(
    level: torch.Tensor,
    lattice: np.ndarray,
    plane_lattice: np.ndarray,
    phase: np.ndarray,
    cell: int,
    period: tuple[int, int] | None,
    straighten: bool = True,
) -> tuple[list[tuple[float, float] | None], np.ndarray]:
    """Per axis (x, y), the (pitch, origin) of a lattice quilt's cells laid along a wave
    (`Axis`), or None; and the plane's lattice as those cells need it. A wave that lays
    cells (`_lays`: within `ALIGN_SLOPE` of an axis, longer than a square block, as lego's
    yellow rows, 24.7 px apart at 1/4) lays that axis's cells one period apart (of
    several such waves, the longest), with their edges where the plane shows
    `seam_phase` of the level: every cut across it then runs where the exemplar's rows
    agree best, and no cut joins the halves of two different bricks. A square block holds
    no whole course of such a wave, so square cells cut every course at a random phase.
    Shorter courses are left to square cells: laid along theirs, bricks (13.4 px) and
    wicker (16 px) scored worse (benchmarks/RESULTS, session 41). On an endless plane the
    wave is set exactly along the axis (`straighten`; a turn under 2 degrees), or a cut
    would drift across its rows; on a wrapping plane it must be already
    (`canvas.quantize_waves` rounds it so) and the period must hold at least two courses
    (an odd number wraps too: `Quilt.white`)."""
    plane = np.array(plane_lattice, dtype=np.float64, copy=True)
    out: list[tuple[float, float] | None] = [None, None]
    size = level.shape[-1], level.shape[-2]
    for a in (0, 1):
        best = None
        for m, (wave, there) in enumerate(zip(lattice, plane)):
            if not (_lays(wave[a], wave[1 - a], cell, size[a]) and _lays(there[a], 0.0, cell, size[a])):
                continue
            if there[1 - a] != 0 and (period is not None or not straighten):
                continue
            if period is not None and round(period[a] * abs(there[a])) < 2:
                continue  # a wrapping plane holds at least two courses a period
            step = 1 / abs(there[a])
            if best is None or step > best[1]:
                best = (m, step)
        if best is None:
            continue
        m, pitch = best
        plane[m, 1 - a] = 0.0
        target = (seam_phase(level, lattice[m]) - phase[m]) / plane[m, a]  # where the plane shows it
        out[a] = (pitch, float(np.mod(target + 1.0, pitch)))
    return out, plane


class Quilt:
    """The quilt of one coarsest level for one seed. level: [1,C,H,W] (`fits(H, W)`).

    `transforms` (names in `symmetry.TRANSFORMS`) are flips and turns the exemplar's
    statistics do not change under: blocks are then also taken from the level so
    transformed, so a distinctive element of a small level comes back in more than one
    guise. Without any, the quilt is what it was before they existed, pixel for pixel.

    `lattice` ([P,2], P of 1 or 2 non-parallel waves in cycles per pixel of this level,
    x then y) makes it a lattice quilt: every block's source is moved (`_snap_many`) to where
    the lattice is at the phase it has at the block's destination, plus this seed's
    phase. On a wrapping plane the lattice the plane holds (`plane_lattice`) must make
    whole cycles over the period (`canvas.quantize_waves`), or it breaks where the plane
    wraps; `lattice` stays the exemplar's own, which the blocks hold. At a plane pixel q
    the quilt then shows the level where its lattice phase is `plane_lattice` q plus
    `lattice_phases(seed)`: what the periodic channels of a `phased_layout` model are
    given (`every_wave`: every wave holds blocks, however short its period here). A block
    that holds the exemplar's lattice is in step with the plane's at its centre only;
    where neighbours would meet `STRETCH_MISSTEP` or more out of step (`lattice_strain`
    times a cell), the blocks come from the level stretched to hold the plane's lattice
    instead (`strained_level`; `stretch`): tileable parquet 1.33 -> 0.96x plain's patch
    SWD, lego 1.04 -> 0.88x (benchmarks/RESULTS, session 44)."""

    def __init__(
        self,
        level: torch.Tensor,
        seed: int,
        period: tuple[int, int] | None = None,
        transforms: tuple[str, ...] = (),
        lattice: torch.Tensor | None = None,
        plane_lattice: torch.Tensor | None = None,
        offset: tuple[float, ...] = (),
        every_wave: bool = False,
        cell: int = CELL,
        coherent: int = 0,
        feather: float = 0.0,
        candidates: int = CANDIDATES,
        variance_credit: float = 0.0,
        edge_seams: bool = False,
        aligned: bool = False,
        stretch: bool = True,
        hints: torch.Tensor | None = None,
    ):
        from .symmetry import _MOMENTS, TRANSFORMS

        self.edge_seams = edge_seams  # cuts weighed by the blocks' own colour steps (`seam_costs`)
        if not 0.0 <= feather <= 1.0:
            raise ValueError(f"feather must be 0-1, got {feather}")
        self.feather = feather  # the share of the block across a cut in the pixel after it

        if not 0 <= coherent <= len(NEIGHBOURS):
            raise ValueError(f"coherent must be 0-{len(NEIGHBOURS)}, got {coherent}")
        self.coherent = coherent  # a white cell's candidates that continue a neighbour's block
        if candidates < 1 or (coherent and candidates <= coherent):
            raise ValueError(f"candidates must be at least 1 and more than coherent ({coherent}), got {candidates}")
        self.candidates = candidates  # the blocks a white cell chooses among
        if not 0.0 <= variance_credit <= 1.0:
            raise ValueError(f"variance_credit must be 0-1, got {variance_credit}")
        # the share of a candidate's own margin variance taken off its cost (`_candidate_costs`)
        self.variance_credit = variance_credit

        level = level.float().cpu()
        self.lattice = self.plane_lattice = self.solve = self.phase = None
        if lattice is not None and len(lattice):
            if transforms:
                raise ValueError("a lattice quilt takes no flipped or turned blocks: they would break its lattice")
            waves = np.asarray(lattice, dtype=np.float64).reshape(-1, 2)
            plane = np.asarray(lattice if plane_lattice is None else plane_lattice, dtype=np.float64)
            # a wave of under `MIN_WAVE_PERIOD` pixels a period at this level is a
            # near-Nyquist checkerboard here (lego's studs, wicker's strands: 2.02 px);
            # without periodic channels its phase is the finer scales' to draw, so it does
            # not hold blocks in place. With them (`every_wave`) every wave does: the
            # channels carry its phase to the scales that can draw it
            resolved = np.hypot(*waves.T) <= 1 / MIN_WAVE_PERIOD
            if every_wave:
                resolved[:] = True
            if resolved.any():
                self.lattice, self.plane_lattice = waves[resolved], plane.reshape(waves.shape)[resolved]
        if self.lattice is not None and stretch:
            if lattice_strain(self.lattice, self.plane_lattice) * cell >= STRETCH_MISSTEP:
                stretched = strained_level(level, self.lattice, self.plane_lattice)
                if min(stretched.shape[-2:]) >= cell + 2 * OVERLAP:  # it still holds a block
                    if hints is not None:
                        hints = strained_level(hints.float().cpu(), self.lattice, self.plane_lattice)
                    level, self.lattice = stretched, self.plane_lattice
        if self.lattice is not None:
            self.solve = np.linalg.pinv(self.lattice)  # phase change -> displacement (least norm)
            grid = np.arange(-SNAP_STEPS, SNAP_STEPS + 1)
            self.steps = np.stack(np.meshgrid(*[grid] * len(self.lattice), indexing="ij"), -1).reshape(
                -1, len(self.lattice)
            )
            self.phase = lattice_phases(seed, len(self.lattice))
            self.variants = subpixel_levels(level)
            self.hint_variants = None if hints is None else subpixel_levels(hints.float().cpu())
        else:
            self.variants = [level] + [TRANSFORMS[name](level).contiguous() for name in transforms]
            self.hint_variants = None
            if hints is not None:  # orientation channels (0, 1) turn with the block
                hints = hints.float().cpu()
                self.hint_variants = [hints]
                for name in transforms:
                    sign = torch.tensor([*_MOMENTS[name], *([1.0] * (hints.shape[1] - 2))]).view(1, -1, 1, 1)
                    self.hint_variants.append((TRANSFORMS[name](hints) * sign).contiguous())
        self.level, self.seed = level, seed
        # added to every pixel (`quilt_offset`); the blocks are chosen and cut as without it
        self.offset = torch.tensor(offset, dtype=torch.float32).view(1, -1, 1, 1) if offset else None
        self.cell = cell  # the model's `layout_cell`
        along: list[tuple[float, float] | None] = [None, None]
        if aligned and self.lattice is not None:
            along, self.plane_lattice = aligned_axes(
                level, self.lattice, self.plane_lattice, self.phase, cell, period, straighten=not every_wave
            )
        self.xs, self.ys = (
            Axis(None if period is None else period[a], cell, *(along[a] or (None, 0.0))) for a in (0, 1)
        )
        # a block is its widest cell and a margin either side. On a wrapping plane cells may
        # be narrower than `cell` (`Axis`), and blocks shrink with them: a 12 px cell in a
        # block sized for 16 never showed the level's last 10 columns (tileable tomatoes'
        # quilt: patch SWD 7.4 against 6.5 with blocks to fit)
        self.block_w, self.block_h = self.xs.widest() + 2 * OVERLAP, self.ys.widest() + 2 * OVERLAP
        self._rows, self._cols = torch.arange(self.block_h), torch.arange(self.block_w)  # from a block's first
        self.chosen: dict[tuple[int, int], tuple[int, int, int]] = {}
        self.seams: dict[tuple[int, int, bool], torch.Tensor] = {}
        self._stack: torch.Tensor | None = None  # the variants in one tensor (`_stacked`)
        self._hint_stack: torch.Tensor | None = None

    def _snap_many(self, cells: np.ndarray, row: np.ndarray, col: np.ndarray) -> np.ndarray:
        """For each (i, j) of `cells` ([N,2]) and its random place (`row`, `col`, [N]):
        the source nearest that place whose lattice phase is the one the cell needs,
        [N,3] int64 (subpixel variant, row, column). The block's centre holds the
        exemplar's lattice (K) at phase K s, where s is the centre in the level; the
        plane wants there the phase Kp q plus the seed's, where q is the centre on the
        plane (Kp = K but on a wrapping plane). Each displacement that makes these agree
        to whole cycles, up to `SNAP_STEPS` cycles either way, is a place the block may
        come from; of those inside the level, those near whole pixels
        (`SNAP_TOLERANCES`), and of those the nearest to (row, col), placed to
        1/`SUBPIXEL` pixel. Where none is inside (a level less than a lattice step
        larger than a block), the one that reaches least far out, moved inside."""
        _, _, height, width = self.level.shape
        half = np.array([self.block_w / 2, self.block_h / 2])  # (x, y)
        start = np.stack([col, row], axis=-1)  # [N, 2] (x, y)
        source = start + half
        place = np.stack(
            [
                self.xs.edges(self.xs.keys(cells[:, 0])) - OVERLAP + half[0],
                self.ys.edges(self.ys.keys(cells[:, 1])) - OVERLAP + half[1],
            ],
            axis=-1,
        )
        # products written out element by element: a matrix product's sums may round
        # differently with the number of rows (BLAS kernels), and a block's place must not
        # depend on which other blocks a window needs
        phi = _times(source, self.lattice) - _times(place, self.plane_lattice) - self.phase  # [N, P]
        delta = _times(np.round(phi)[:, None] + self.steps[None] - phi[:, None], self.solve)  # [N, options, 2]
        if len(self.lattice) == 1:
            delta = delta + self._slide(start[:, None] + delta, width, height)
        exact = start[:, None] + delta
        whole = np.floor(exact)
        sub = np.round((exact - whole) * SUBPIXEL).astype(np.int64)  # to 1/SUBPIXEL px
        whole = whole.astype(np.int64) + sub // SUBPIXEL
        sub %= SUBPIXEL
        inside = (whole[..., 0] >= 0) & (whole[..., 0] <= width - self.block_w)
        inside &= (whole[..., 1] >= 0) & (whole[..., 1] <= height - self.block_h)
        off = np.abs(exact - np.round(exact)).max(axis=-1)  # from whole pixels, the worse axis
        move = np.abs(delta).sum(axis=-1)
        pick = np.full(len(start), -1)
        for tolerance in SNAP_TOLERANCES:
            near_whole = inside & (off <= tolerance)
            here = near_whole.any(axis=1) & (pick < 0)
            pick[here] = np.where(near_whole, move, np.inf).argmin(axis=1)[here]
        rest = (pick < 0) & inside.any(axis=1)
        pick[rest] = np.where(inside, off, np.inf).argmin(axis=1)[rest]
        # none inside (a level under a lattice step larger than a block, in some phases):
        # the place in step that reaches least far out, moved in, so the block is out of
        # step by that much only (a random place, as before, is out by up to half a cycle)
        limit = np.array([width - self.block_w, height - self.block_h])
        reach = np.maximum(-whole, 0) + np.maximum(whole - limit, 0)  # [N, options, 2]
        out_of = pick < 0
        pick[out_of] = reach.sum(axis=-1).argmin(axis=1)[out_of]
        n = np.arange(len(start))
        whole[out_of] = np.clip(whole[out_of], 0, limit)
        out = np.stack([sub[n, pick, 1] * SUBPIXEL + sub[n, pick, 0], whole[n, pick, 1], whole[n, pick, 0]], axis=-1)
        return out

    def _slide(self, places: np.ndarray, width: int, height: int) -> np.ndarray:
        """[..., 2] moves along a one-wave lattice's stripes (which keep its phase) that
        bring `places` ([..., 2], x, y) inside the level, the least for each; 0 where the
        place is inside already or no such move exists. Without them a place near a
        corner may have every place in step outside (moves across a tilted stripe go
        out through one side or the other)."""
        kx, ky = self.lattice[0]
        along = np.array([-ky, kx]) / np.hypot(kx, ky)
        lo, hi = np.full(places.shape[:-1], -np.inf), np.full(places.shape[:-1], np.inf)
        for axis, limit in ((0, width - self.block_w), (1, height - self.block_h)):
            if abs(along[axis]) < 1e-12:
                outside = (places[..., axis] < 0) | (places[..., axis] > limit)
                lo[outside], hi[outside] = np.inf, -np.inf
                continue
            a, b = (0 - places[..., axis]) / along[axis], (limit - places[..., axis]) / along[axis]
            lo, hi = np.maximum(lo, np.minimum(a, b)), np.minimum(hi, np.maximum(a, b))
        t = np.where(lo <= hi, np.clip(0.0, lo, hi), 0.0)
        return t[..., None] * along

    def white(self, i: int, j: int) -> bool:
        """Whether cell (i, j) is white (its block chosen to agree with its four
        neighbours', all black) in the checkerboard of the cells' keys. A wrapping axis
        with an odd number of cells a period (cells laid along a course: `aligned_axes`)
        has its last row or column black throughout, so that no white cell meets another
        across the wrap."""
        ki, kj = self.xs.key(i), self.ys.key(j)
        return (ki + kj) % 2 == 1 and not self.xs.last(ki) and not self.ys.last(kj)

    def source(self, i: int, j: int) -> tuple[int, int, int]:
        """Where cell (i, j)'s block starts: (variant of the level, row, column of its
        margin's first pixel); the cell's own pixel (edge, edge) is `OVERLAP` further on."""
        if (i, j) not in self.chosen:  # remembered: a lattice quilt's snap costs ~40 us a place
            (self._choose if self.white(i, j) else self._place)([(i, j)])
        return self.chosen[(i, j)]

    def _place(self, cells: list[tuple[int, int]]) -> None:
        """Place the black cells among `cells` not yet remembered, all at once (what
        `source` places)."""
        black = [(i, j) for i, j in dict.fromkeys(cells) if not self.white(i, j) and (i, j) not in self.chosen]
        if not black:
            return
        if len(self.chosen) + len(black) > CACHE_CELLS:
            self.chosen.clear()  # bounded memory on an endless canvas; recomputed exactly
        for cell, offset in zip(black, self._candidates(black, first=0, count=1).tolist()):
            self.chosen[cell] = tuple(offset)

    def _choose(self, cells: list[tuple[int, int]]) -> None:
        """Choose the blocks of the white cells among `cells` not yet remembered, all at
        once: what `source` chooses, with every candidate's strips compared in one
        gather and one sum per strip (the same float32 sums, so the same choices)."""
        white = [(i, j) for i, j in dict.fromkeys(cells) if self.white(i, j) and (i, j) not in self.chosen]
        if not white:
            return
        if len(self.chosen) + 5 * len(white) > CACHE_CELLS:
            self.chosen.clear()  # bounded memory on an endless canvas; recomputed exactly
        groups: dict[tuple[int, int], list[tuple[int, int]]] = {}
        for i, j in white:  # cells of one size compare strips of one shape
            size = (self.xs.edge(i + 1) - self.xs.edge(i), self.ys.edge(j + 1) - self.ys.edge(j))
            groups.setdefault(size, []).append((i, j))
        for group in groups.values():
            candidates, costs = self._candidate_costs(group)
            best = costs.argmin(dim=1)
            for index, cell in enumerate(group):
                self.chosen[cell] = tuple(candidates[index * self.candidates + int(best[index])].tolist())

    def _candidate_costs(self, cells: list[tuple[int, int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """For white cells of one size: their candidate blocks ([N * K, 3], `_candidates`,
        the last ones continuations where `coherent`: `_continue`) and each one's squared
        difference to the cell's four neighbours' blocks over the strips `OVERLAP` either
        side of their shared edges ([N, K] float32; a continuation's three other strips,
        times 4/3), less `variance_credit` times the candidate's own variance about its
        mean over those four strips. All blocks in one gather, then one sum a strip, in the
        order and layout the sums always had."""
        i0, j0 = cells[0]
        width, height = self.xs.edge(i0 + 1) - self.xs.edge(i0), self.ys.edge(j0 + 1) - self.ys.edge(j0)
        offsets = self._candidates(cells)
        continued = None
        if self.coherent:
            offsets, continued = self._continue(cells, offsets)
        rows = offsets[:, 1, None] + self._rows  # [N * K, block_h]
        cols = offsets[:, 2, None] + self._cols
        blocks = self._stacked()[offsets[:, 0, None, None], :, rows[:, :, None], cols[:, None, :]]
        blocks = blocks.permute(3, 0, 1, 2)  # [C, N * K, block_h, block_w]
        count, o = len(cells), OVERLAP
        total = torch.zeros(count, self.candidates)
        credit = None  # each candidate's own variance over the four strips (`variance_credit`)
        strips = (  # the neighbour, and the part of a block (margins included) its strip covers
            ((-1, 0), (0, 2 * o, o, height + o)),
            ((1, 0), (width, width + 2 * o, o, height + o)),
            ((0, -1), (o, width + o, 0, 2 * o)),
            ((0, 1), (o, width + o, height, height + 2 * o)),
        )
        top = torch.tensor([self.ys.edge(j) for _, j in cells])[:, None, None] - o
        left = torch.tensor([self.xs.edge(i) for i, _ in cells])[:, None, None] - o
        for (di, dj), (c0, c1, r0, r1) in strips:
            ys, xs = torch.broadcast_tensors(top + torch.arange(r0, r1)[:, None], left + torch.arange(c0, c1))
            theirs = self._gather([(i + di, j + dj) for i, j in cells], ys, xs).transpose(0, 1)  # [C, N, h, w]
            mine = blocks[:, :, r0:r1, c0:c1].contiguous().view(-1, count, self.candidates, r1 - r0, c1 - c0)
            total += (mine - theirs[:, :, None]).pow(2).sum(dim=(0, 3, 4))
            if self.variance_credit:
                spread = (mine - mine.mean(dim=(3, 4), keepdim=True)).pow(2).sum(dim=(0, 3, 4))
                credit = spread if credit is None else credit + spread
        if continued is not None:
            # a continuation's own strip costs nothing: it is judged on the other three
            total = torch.where(continued, total * (len(strips) / (len(strips) - 1)), total)
        if credit is not None:
            total = total - self.variance_credit * credit
        return offsets, total

    def _candidates(self, cells: list[tuple[int, int]], first: int = 1, count: int | None = None) -> torch.Tensor:
        """[N * count, 3]: candidates k = first .. first + count - 1 of each cell, in order
        (k = 0 is a black cell's block): (variant, row, column), a random place keyed to
        (seed, cell, k) for a block of the variant (`noise.mix_array`); a lattice quilt's
        variants are sub-pixel places, which `_snap_many` picks."""
        count = self.candidates if count is None else count
        ki = np.array([self.xs.key(i) for i, _ in cells], dtype=np.int64)[:, None]
        kj = np.array([self.ys.key(j) for _, j in cells], dtype=np.int64)[:, None]
        ks = np.arange(first, first + count, dtype=np.int64)[None]
        kinds = 1 if self.lattice is not None else len(self.variants)
        if kinds == 1:
            variant = np.zeros((len(cells), count), dtype=np.int64)
        else:
            variant = (mix_array(self.seed, LAYOUT_KEY, ki, kj, ks, 1) % np.uint64(kinds)).astype(np.int64)
        heights = np.array([v.shape[-2] for v in self.variants], dtype=np.uint64)[variant]
        widths = np.array([v.shape[-1] for v in self.variants], dtype=np.uint64)[variant]
        h = mix_array(self.seed, LAYOUT_KEY, ki, kj, ks)
        rows, cols = heights - np.uint64(self.block_h - 1), widths - np.uint64(self.block_w - 1)
        row, col = (h % rows).astype(np.int64), ((h // rows) % cols).astype(np.int64)
        if self.lattice is not None:
            where = np.repeat(np.array(cells, dtype=np.int64), count, axis=0)
            return torch.from_numpy(self._snap_many(where, row.reshape(-1), col.reshape(-1)))
        return torch.from_numpy(np.stack([variant, row, col], axis=-1).reshape(-1, 3))

    def _continue(self, cells: list[tuple[int, int]], offsets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """`offsets` ([N * K, 3], `_candidates`) with each white cell's last candidates
        replaced by the continuations of its first `coherent` neighbours' blocks
        (`NEIGHBOURS` order): the place in the same variant that is the neighbour's source
        moved as far as the cell's edge is from the neighbour's, so the two blocks are one
        piece of the level across their shared edge. On a lattice quilt it holds the
        lattice phase the cell needs (its source and its destination move alike). A
        continuation that would leave the level is skipped (that random candidate stays).
        Also [N, K] bool: which candidates are continuations."""
        out = offsets.view(len(cells), self.candidates, 3).clone()
        continued = torch.zeros(len(cells), self.candidates, dtype=torch.bool)
        for n, (i, j) in enumerate(cells):
            k = self.candidates - 1
            for di, dj in NEIGHBOURS[: self.coherent]:
                variant, row, col = self.source(i + di, j + dj)
                row += self.ys.edge(j) - self.ys.edge(j + dj)
                col += self.xs.edge(i) - self.xs.edge(i + di)
                height, width = self.variants[variant].shape[-2:]
                if 0 <= row <= height - self.block_h and 0 <= col <= width - self.block_w:
                    out[n, k] = torch.tensor((variant, row, col))
                    continued[n, k] = True
                    k -= 1
        return out.view(-1, 3), continued

    def _seam(self, i: int, j: int, vertical: bool) -> torch.Tensor:
        """The cut between cell (i, j) and its right (`vertical`) or lower neighbour: per
        row (per column) of the shared edge, the first global column (row) that takes
        the neighbour's block. It runs through the `OVERLAP`-pixel strips either side of
        the edge where the two blocks differ least (a minimum-error path, as Efros and
        Freeman's image quilting cuts), so a joint or an outline that both blocks hold
        is not cut through. It depends on these two blocks only: still positional."""
        self._find_seams([(i, j, vertical)])
        return self.seams[(i, j, vertical)]

    def _find_seams(self, keys: list[tuple[int, int, bool]]) -> None:
        """Work out the seams `keys` ((i, j, vertical), as `_seam`) not yet remembered, all
        at once: the strips of each pair of blocks in one gather, the cuts in one dynamic
        programme per strip length (`min_error_paths`)."""
        keys = list(dict.fromkeys(keys))
        missing = [key for key in keys if key not in self.seams]
        if not missing:
            return
        if len(self.seams) + len(missing) > 2 * CACHE_CELLS:
            self.seams.clear()  # bounded memory on an endless canvas; recomputed exactly
            missing = keys
        groups: dict[int, list[tuple[int, int, bool]]] = {}
        for key in missing:  # strips of one length (cells of one size) go together
            i, j, vertical = key
            axis, k = (self.ys, j) if vertical else (self.xs, i)
            groups.setdefault(axis.edge(k + 1) - axis.edge(k), []).append(key)
        across = torch.arange(-OVERLAP, OVERLAP)[None, None, :]
        for length, group in groups.items():
            along = torch.arange(length)[None, :, None]
            i, j, vertical = (torch.tensor(column) for column in zip(*group))
            vertical = vertical.bool()
            # a vertical seam runs down the rows of cell j, across the columns either side
            # of its edge with cell i + 1; a horizontal one is handled transposed (its
            # columns as rows): along cell i's columns, across the rows about its edge
            ex = torch.from_numpy(self.xs.edges(torch.stack([i, i + 1]).numpy()))
            ey = torch.from_numpy(self.ys.edges(torch.stack([j, j + 1]).numpy()))
            v = vertical[:, None, None]
            y = torch.where(v, ey[0, :, None, None] + along, ey[1, :, None, None] + across)
            x = torch.where(v, ex[1, :, None, None] + across, ex[0, :, None, None] + along)
            pairs = [((a, b), (a + 1, b) if c else (a, b + 1)) for a, b, c in group]
            edges = torch.where(vertical, ex[1], ey[1])
            mine = self._gather([a for a, _ in pairs], y, x)
            theirs = self._gather([b for _, b in pairs], y, x)
            error = seam_costs(mine, theirs, self.edge_seams)  # [S, length, 2 * OVERLAP]
            cuts = edges[:, None] - OVERLAP + min_error_paths(error)
            for key, cut in zip(group, cuts):
                self.seams[key] = cut

    def _gather(self, cells: list[tuple[int, int]], y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """The pixels that each of `cells`' blocks puts at global places (`y`, `x`, [S, ...]
        each, one row per cell): [S, C, ...]."""
        offsets = torch.tensor([self.source(i, j) for i, j in cells])  # [S, 3]: variant, row, column
        where = np.array(cells, dtype=np.int64).reshape(-1, 2)
        ex, ey = torch.from_numpy(self.xs.edges(where[:, 0])), torch.from_numpy(self.ys.edges(where[:, 1]))
        shape = (-1,) + (1,) * (y.dim() - 1)
        sy = offsets[:, 1].view(shape) + OVERLAP + y - ey.view(shape)
        sx = offsets[:, 2].view(shape) + OVERLAP + x - ex.view(shape)
        variant = offsets[:, 0].view(shape).expand_as(sy)
        return self._stacked()[variant, :, sy, sx].movedim(-1, 1)

    def _stacked(self) -> torch.Tensor:
        """The variants as one [V,C,H',W'] tensor (`_padded_stack`), so blocks of any
        variants come in one gather."""
        if self._stack is None:
            self._stack = _padded_stack(self.variants)
        return self._stack

    def __call__(self, rect: tuple[int, int, int, int]) -> torch.Tensor:
        """`rect` (x0, y0, w, h) of the coarsest scale: [1,C,h,w] float32. Each cell shows
        its block, and across each edge the neighbour's block up to their seam (the upper
        and lower seams first, then the side ones, which win at corners). With a
        `feather`, the first pixel past a cut (to the right of a side seam, below an upper
        or lower one) mixes in that share of the block across it, read at the same pixel
        (`_feathered`)."""
        if not self.feather:
            out, _ = self._read(self._origins(rect), rect)
        else:
            out = self._feathered(rect)
        return out if self.offset is None else out + self.offset

    def _feathered(self, rect: tuple[int, int, int, int]) -> torch.Tensor:
        """The quilt on `rect` with its cuts softened. A real level is a box average of the
        exemplar: where an outline crosses a pixel, that pixel holds a mix of both sides.
        A cut between two blocks is a step no real level has (with hard cuts a quilt of
        lego held about 3x its level's power at periods under 8 px); the pixel after the
        cut, mixed with the block before it, is such an edge. Each pixel's neighbours to
        the left and above come from the rect one pixel larger, so any window is exact."""
        x0, y0, w, h = rect
        origins = self._origins((x0 - 1, y0 - 1, w + 1, h + 1))
        here = origins[1:, 1:]
        out, _ = self._read(here, rect)
        total = torch.zeros_like(out)
        count = torch.zeros(h, w)
        for before in (origins[1:, :-1], origins[:-1, 1:]):  # the pixel to the left, above
            crossed = (before != here).any(-1)  # another block, or another place in the level
            if not crossed.any():
                continue
            theirs, inside = self._read(before, rect)
            crossed &= inside
            total += torch.where(crossed, theirs, 0.0)
            count += crossed.float()
        share = self.feather * (count > 0).float()
        return out + share * (total / count.clamp(min=1) - out)

    def guide(self, rect: tuple[int, int, int, int]) -> torch.Tensor:
        """The hint channels (`hints`) on `rect`, read through the same blocks and cuts as
        the quilt's pixels (no feather): [1,K,h,w]."""
        if self._hint_stack is None:
            self._hint_stack = _padded_stack(self.hint_variants)
        out, _ = self._read(self._origins(rect), rect, self._hint_stack)
        return out

    def _read(
        self, origins: torch.Tensor, rect: tuple[int, int, int, int], stack: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The pixels of `rect` each read where `origins` ([h, w, 3], `_origins`) says:
        [1,C,h,w], and [h, w] bool: whether that place lies in the level (places beyond it,
        which only a neighbour's block read past a cut can reach, are read at its border)."""
        x0, y0, w, h = rect
        stack = self._stacked() if stack is None else stack
        sy = origins[..., 1] + torch.arange(y0, y0 + h)[:, None]
        sx = origins[..., 2] + torch.arange(x0, x0 + w)[None, :]
        within = (sy >= 0) & (sy < stack.shape[-2]) & (sx >= 0) & (sx < stack.shape[-1])
        sy, sx = sy.clamp(0, stack.shape[-2] - 1), sx.clamp(0, stack.shape[-1] - 1)
        out = stack[origins[..., 0], :, sy, sx].permute(2, 0, 1)[None].contiguous()
        return out, within

    def _origins(self, rect: tuple[int, int, int, int]) -> torch.Tensor:
        """For each pixel of `rect`, where it reads the level: [h, w, 3] int64 (variant,
        row offset, column offset), pixel (y, x) showing variant's pixel (y + row offset,
        x + column offset). All at once: each pixel's cell, then which block it takes
        across the seams, then that block's offset."""
        x0, y0, w, h = rect
        i0, i1 = self.xs.cell(x0), self.xs.cell(x0 + w - 1)
        j0, j1 = self.ys.cell(y0), self.ys.cell(y0 + h - 1)
        ni, nj = i1 - i0 + 1, j1 - j0 + 1
        # the cells, one ring of neighbours around them (corners unused), and their edges
        ring = [(i, j) for j in range(j0 - 1, j1 + 2) for i in range(i0 - 1, i1 + 2)]
        corners = {(i0 - 1, j0 - 1), (i1 + 1, j0 - 1), (i0 - 1, j1 + 1), (i1 + 1, j1 + 1)}
        ex = torch.tensor([self.xs.edge(i) for i in range(i0 - 1, i1 + 3)])  # [ni + 3]
        ey = torch.tensor([self.ys.edge(j) for j in range(j0 - 1, j1 + 3)])
        vertical = [(i, j, True) for j in range(j0, j1 + 1) for i in range(i0 - 1, i1 + 1)]
        horizontal = [(i, j, False) for j in range(j0 - 1, j1 + 1) for i in range(i0, i1 + 1)]
        # the black cells first (the ring's and its white cells' neighbours), then the white
        self._place([(i, j) for j in range(j0 - 2, j1 + 3) for i in range(i0 - 2, i1 + 3)])
        self._choose([(i, j) for i, j in ring if (i, j) not in corners])
        self._find_seams(vertical + horizontal)
        # per seam line, the cut for every column (row) of the cells: [nj + 1, width of
        # cells i0..i1] for the horizontal ones, [ni + 1, height of cells j0..j1] vertical
        cuts_h = torch.stack(
            [torch.cat([self.seams[(i, j, False)] for i in range(i0, i1 + 1)]) for j in range(j0 - 1, j1 + 1)]
        )
        cuts_v = torch.stack(
            [torch.cat([self.seams[(i, j, True)] for j in range(j0, j1 + 1)]) for i in range(i0 - 1, i1 + 1)]
        )
        xs, ys = torch.arange(x0, x0 + w), torch.arange(y0, y0 + h)
        ci = torch.searchsorted(ex[1 : ni + 1], xs, right=True) - 1  # [w]: cell, 0 = i0
        cj = torch.searchsorted(ey[1 : nj + 1], ys, right=True) - 1  # [h]
        col, row = (xs - ex[1])[None, :], (ys - ey[1])[:, None]
        upper = ys[:, None] < cuts_h[cj[:, None], col]
        lower = ys[:, None] >= cuts_h[cj[:, None] + 1, col]
        west = xs[None, :] < cuts_v[ci[None, :], row]
        east = xs[None, :] >= cuts_v[ci[None, :] + 1, row]
        # which ring cell each pixel takes (ring indices: the cells are 1..ni, 1..nj)
        ri = (ci + 1)[None, :].expand(h, w).clone()
        rj = (cj + 1)[:, None].expand(h, w).clone()
        rj = torch.where(upper, rj - 1, rj)
        rj = torch.where(lower, (cj + 2)[:, None].expand(h, w), rj)
        side = west | east
        rj = torch.where(side, (cj + 1)[:, None].expand(h, w), rj)
        ri = torch.where(west, ri - 1, ri)
        ri = torch.where(east, (ci + 2)[None, :].expand(h, w), ri)
        offsets = torch.tensor([(0, 0, 0) if cell in corners else self.source(*cell) for cell in ring]).view(
            nj + 2, ni + 2, 3
        )
        taken = offsets[rj, ri]  # [h, w, 3]
        sy = taken[..., 1] + OVERLAP + ys[:, None] - ey[rj]
        sx = taken[..., 2] + OVERLAP + xs[None, :] - ex[ri]
        return torch.stack([taken[..., 0], sy - ys[:, None], sx - xs[None, :]], dim=-1)


def _padded_stack(variants: list[torch.Tensor]) -> torch.Tensor:
    """[1,C,H,W] variants as one [V,C,H',W'] tensor, turned ones padded to a common size
    (no block reads the padding)."""
    height = max(v.shape[-2] for v in variants)
    width = max(v.shape[-1] for v in variants)
    return torch.cat([F.pad(v, (0, width - v.shape[-1], 0, height - v.shape[-2])) for v in variants])


OFFSET_KEY = 0x0FF5E7  # seeds the quilt `quilt_offset` and `quilt_contrast` measure
OFFSET_CELLS = 32  # the side of that quilt, in cells
CONTRAST_WINDOW = 5  # the side of the windows `quilt_contrast` measures variance over, in pixels


HINT_CHANNELS = 2  # the orientation channels of `detail_hints`: what a new hinted fit keeps


def detail_hints(exemplar: torch.Tensor, factor: int, channels: int = HINT_CHANNELS) -> torch.Tensor:
    """The finest exemplar's ([1,C,H,W]) local detail, box-averaged over `factor` x
    `factor` pixels (the grid of its level `factor` times coarser): [1,channels,H//f,W//f]
    of the structure tensor's (Jxx - Jyy, 2 Jxy) over its trace (orientation times
    coherence, in [-1, 1]) and, as a third channel, the log trace standardised over the
    level. Fits keep the first two (`HINT_CHANNELS`): the energy channel cost the smooth
    object textures (tomatoes, cobbles) more than it gained (benchmarks/RESULTS, sessions
    55-56); models fitted with three still read all three."""
    from .channels import colour_mean
    from .symmetry import central_gradients

    lum = F.pad(colour_mean(exemplar.float().cpu())[:, None], (1, 1, 1, 1), mode="replicate")
    gx, gy = central_gradients(lum)
    moments = torch.cat([gx.square() - gy.square(), 2 * gx * gy, gx.square() + gy.square()], dim=1)
    moments = F.avg_pool2d(moments, factor) if factor > 1 else moments
    energy = moments[:, 2:3]
    floor = 1e-3 * float(energy.mean()) + 1e-12
    orientation = moments[:, :2] / (energy + floor)
    log_energy = (energy + floor).log()
    log_energy = (log_energy - log_energy.mean()) / log_energy.std().clamp(min=1e-6)
    return torch.cat([orientation, log_energy], dim=1)[:, :channels]


def probe_quilt(level: torch.Tensor, **options) -> torch.Tensor:
    """The quilt `quilt_offset` and `quilt_contrast` measure: `OFFSET_CELLS` x
    `OFFSET_CELLS` cells of `level` at a fixed seed, without an offset. `options`:
    `Quilt`'s keyword arguments."""
    side = OFFSET_CELLS * options.get("cell", CELL)
    return Quilt(level, _mix(OFFSET_KEY), **{**options, "offset": ()})((0, 0, side, side))


def quilt_contrast(level: torch.Tensor, probe: torch.Tensor | None = None, **options) -> float:
    """A quilt's mean variance over `CONTRAST_WINDOW`-pixel windows (summed over channels)
    over its level's: under 1 where the quilt is blander than the level, as a white cell's
    choice by agreement alone makes it (grass 0.88, gravel_gray 0.91, rust 0.83 of their
    levels; daisies 1.01, lego 1.03: benchmarks/RESULTS, session 37). Measured on `probe`,
    or on the `probe_quilt` of these `options`; 1 for a flat level."""
    own = _local_variance(level.float())
    if own <= 0:
        return 1.0
    return _local_variance(probe_quilt(level, **options) if probe is None else probe) / own


def _local_variance(image: torch.Tensor) -> float:
    """The mean over `CONTRAST_WINDOW`-pixel windows of the variance in each, summed over
    channels (float64)."""
    x = image.double()
    mean = F.avg_pool2d(x, CONTRAST_WINDOW, 1)
    return float((F.avg_pool2d(x * x, CONTRAST_WINDOW, 1) - mean * mean).sum(1).mean())


def quilt_offset(level: torch.Tensor, probe: torch.Tensor | None = None, **options) -> tuple[float, ...]:
    """Per channel, the level's mean colour minus a quilt's: what a quilt of `level` adds
    to every pixel so that its expected colour is the exemplar's. Random blocks show the
    middle of a small level more often than its edges (a block of 22 px in a level 48 px
    wide), and a white cell takes the candidate that best fits its neighbours, which is
    more often a bland one; both shift the colour of a quilt, and through the finer
    scales' consistency with it, of the output. Measured on `probe`, or on the
    `probe_quilt` of these `options` (`Quilt`'s keyword arguments): one quilt of
    `OFFSET_CELLS` x `OFFSET_CELLS` cells at a fixed seed, the same for every seed and
    window."""
    if probe is None:
        probe = probe_quilt(level, **options)
    gap = level.float().mean(dim=(0, 2, 3)) - probe.mean(dim=(0, 2, 3))
    return tuple(round(float(v), 6) for v in gap)


BANK_COUNT = 32  # quilts a fit's finer scales train on (`quilt_bank`)
BANK_SIDE = 96  # their side, in coarsest pixels


def quilt_bank(
    level: torch.Tensor, seed: int, count: int = BANK_COUNT, side: int = BANK_SIDE, **options
) -> torch.Tensor:
    """`count` quilts of `level` ([1,C,H,W]), side x side, each with its own seed drawn
    from `seed` (`bank_seeds`) and `options` (`Quilt`'s keyword arguments):
    [count,C,side,side]. The finer scales train on windows of these: one quilt of a whole
    bank costs what a few crop-sized ones do (most of a small quilt's work is the cells
    around it), so fresh quilts every step cost ~30 ms a step."""
    # one quilt alive at a time: a lattice quilt holds its level resampled at 64 sub-pixel
    # places (`subpixel_levels`), ~100 MB for a 256 px level, and 32 of them held at once
    # took a 1024 px lattice photo's fit to 3.5 GB
    return torch.cat([_bank_quilt(level, k, side, options) for k in bank_seeds(seed, count)])


def _bank_quilt(level: torch.Tensor, seed: int, side: int, options: dict) -> torch.Tensor:
    """One quilt of a bank, [1,C(+K),side,side]: its hint channels after its pixels when
    `options` has hints (`Quilt.guide`). The quilt is gone when this returns."""
    quilt = Quilt(level, seed, **options)
    image = quilt((0, 0, side, side))
    if options.get("hints") is not None:
        image = torch.cat([image, quilt.guide((0, 0, side, side))], dim=1)
    return image


def bank_seeds(seed: int, count: int = BANK_COUNT) -> list[int]:
    """The seeds of the quilts of a fit's `quilt_bank` (their `lattice_phases` too)."""
    return [_mix(seed, LAYOUT_KEY, k) for k in range(count)]


def seam_costs(mine: torch.Tensor, theirs: torch.Tensor, edges: bool = False) -> torch.Tensor:
    """The strips of two blocks over the same pixels ([S, C, n, m], m across their shared
    edge) -> [S, n, m]: what a cut costs that hands over to `theirs` at each pixel. Plain:
    the blocks' squared colour difference there. With `edges`, as Kwatra et al.'s graph-cut
    textures weigh a cut: the colour difference at that pixel and at the one before it,
    over both blocks' colour steps between the two (plus `SEAM_EDGE_FLOOR`), so a cut
    follows a step that both blocks show or that one of them has anyway (a joint, an
    outline) rather than crossing a flat place where the blocks disagree. The first column
    has no pixel before it in the strip: it counts as a step of none."""
    if not edges:
        return (mine - theirs).pow(2).sum(1)

    def before(x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x[..., :1], x[..., :-1]], dim=-1)

    differ = (mine - theirs).pow(2).sum(1).sqrt()
    mine_step = (mine - before(mine)).pow(2).sum(1).sqrt()
    their_step = (theirs - before(theirs)).pow(2).sum(1).sqrt()
    return (differ + before(differ)) / (SEAM_EDGE_FLOOR + mine_step + their_step)


def min_error_paths(errors: torch.Tensor) -> torch.Tensor:
    """[S, n, m] errors -> [S, n] long: for each, a column per row, moving at most one
    column from row to row, with the least total error (dynamic programming in float64,
    every error at once; ties go to the lower column)."""
    values = errors.double().numpy()
    count, n, m = values.shape
    cost = values[:, 0].copy()
    moves = np.zeros((count, n, m), dtype=np.int64)
    inf = np.full((count, 1), np.inf)
    for r in range(1, n):
        left = np.concatenate([inf, cost[:, :-1]], axis=1)
        right = np.concatenate([cost[:, 1:], inf], axis=1)
        best, move = left, np.full((count, m), -1)
        better = cost < best
        best, move = np.where(better, cost, best), np.where(better, 0, move)
        better = right < best
        best, move = np.where(better, right, best), np.where(better, 1, move)
        moves[:, r] = move
        cost = values[:, r] + best
    path = np.zeros((count, n), dtype=np.int64)
    path[:, -1] = cost.argmin(axis=1)
    for r in range(n - 1, 0, -1):
        path[:, r - 1] = path[:, r] + moves[np.arange(count), r, path[:, r]]
    return torch.from_numpy(path)
