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
neighbours' blocks. Neighbouring blocks meet along a minimum-error cut through their
overlap. Every choice depends on the seed and on cells at most one apart, so
the quilt is a fixed function of position like the noise: any window is exact, and with
a period the cells wrap (tileable outputs).

Lattices (bricks, tiles, weaves) are quilted too, with each block's source moved to the
nearest place a whole number of lattice steps (the exemplar's waves) from where it
goes, shifted by a phase of the seed's own: blocks then continue each other's courses,
rows and weave across every seam, and seeds differ in where the lattice sits. A lattice
step is rarely a whole number of pixels, so blocks are taken at sub-pixel offsets too,
from copies of the level resampled at `SUBPIXEL` steps a pixel.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from .config import MIN_WAVE_PERIOD, ModelConfig, num_scales_for
from .noise import _mix

CELL = 16  # coarse pixels a cell spans (its width on a wrapping plane: `Axis`)
OVERLAP = 3  # pixels beyond a cell's edge compared with its neighbours' blocks
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
# cells whose block a quilt remembers (and twice as many seams) before it forgets them
# all: a canvas keeps one quilt for its whole render, and a 16384 px output of a model
# quilted at 1/2 has 262144 cells (about 150 MB of remembered seams)
CACHE_CELLS = 32768


def fits(height: int, width: int) -> bool:
    """Whether a coarsest level of this size holds a block (`CELL` plus its margins)."""
    return min(height, width) >= CELL + 2 * OVERLAP


class Axis:
    """The cells along one axis: cell i spans [edge(i), edge(i + 1)). On an endless plane
    every cell is `CELL` wide; with a period P the plane holds ceil(P / CELL) cells a
    period (rounded up to an even count, so that the checkerboard wraps too), as even as
    whole pixels allow, and cell indices wrap."""

    def __init__(self, period: int | None):
        self.period = period
        self.count = None
        if period is not None:
            cells = -(-period // CELL)
            self.count = max(2, cells + cells % 2)

    def edge(self, i: int) -> int:
        if self.period is None:
            return i * CELL
        turns, k = divmod(i, self.count)
        return turns * self.period + (k * self.period) // self.count

    def cell(self, x: int) -> int:
        """The cell holding coordinate x."""
        i = x // CELL if self.period is None else (x * self.count) // self.period
        while self.edge(i + 1) <= x:
            i += 1
        while self.edge(i) > x:
            i -= 1
        return i

    def key(self, i: int) -> int:
        """The index a cell's random choices are keyed by (wrapped on a periodic plane)."""
        return i if self.count is None else i % self.count


def _offset(seed: int, i: int, j: int, k: int, height: int, width: int, size: int) -> tuple[int, int]:
    """Where candidate k of cell (i, j) takes its block: (row, column), uniform over the
    places a `size` block fits in a height x width level."""
    h = _mix(seed, LAYOUT_KEY, i, j, k)
    rows, cols = height - size + 1, width - size + 1
    return (h % rows, (h // rows) % cols)


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
) -> int | None:
    """Scales of a pyramid for a height x width exemplar whose coarsest scale is a quilt
    (at least 2: a finer scale always remains), or None where that level holds no block.
    With the exemplar's `structure_period`, no coarser than the level where that period
    spans `element_px` pixels."""
    n = max(2, num_scales_for(min(height, width), layout_side or coarse_side))
    if period is not None and element_px > 0:
        n = max(2, min(n, 1 + round(math.log2(max(period / element_px, 1.0)))))
    return n if fits(height >> (n - 1), width >> (n - 1)) else None


def cubic_weights(fraction: float) -> torch.Tensor:
    """The 4 taps (pixels -1, 0, 1, 2) of Keys' cubic convolution (a = -1/2) that sample a
    row `fraction` of a pixel past pixel 0; exactly (0, 1, 0, 0) at 0."""
    out = []
    for tap in (-1, 0, 1, 2):
        t = abs(tap - fraction)
        w = 1.5 * t**3 - 2.5 * t**2 + 1 if t <= 1 else -0.5 * t**3 + 2.5 * t**2 - 4 * t + 2 if t < 2 else 0.0
        out.append(w)
    return torch.tensor(out)


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


class Quilt:
    """The quilt of one coarsest level for one seed. level: [1,C,H,W] (`fits(H, W)`).

    `transforms` (names in `symmetry.TRANSFORMS`) are flips and turns the exemplar's
    statistics do not change under: blocks are then also taken from the level so
    transformed, so a distinctive element of a small level comes back in more than one
    guise. Without any, the quilt is what it was before they existed, pixel for pixel.

    `lattice` ([P,2], P of 1 or 2 non-parallel waves in cycles per pixel of this level,
    x then y) makes it a lattice quilt: every block's source is moved (`_snap`) to where
    the lattice is at the phase it has at the block's destination, plus this seed's
    phase. On a wrapping plane the lattice the plane holds (`plane_lattice`) must make
    whole cycles over the period (`canvas.quantize_waves`), or it breaks where the plane
    wraps; `lattice` stays the exemplar's own, which the blocks hold."""

    def __init__(
        self,
        level: torch.Tensor,
        seed: int,
        period: tuple[int, int] | None = None,
        transforms: tuple[str, ...] = (),
        lattice: torch.Tensor | None = None,
        plane_lattice: torch.Tensor | None = None,
    ):
        from .symmetry import TRANSFORMS

        level = level.float().cpu()
        self.lattice = self.plane_lattice = self.solve = self.phase = None
        if lattice is not None and len(lattice):
            if transforms:
                raise ValueError("a lattice quilt takes no flipped or turned blocks: they would break its lattice")
            waves = np.asarray(lattice, dtype=np.float64).reshape(-1, 2)
            plane = np.asarray(lattice if plane_lattice is None else plane_lattice, dtype=np.float64)
            # a wave of under `MIN_WAVE_PERIOD` pixels a period at this level is a
            # near-Nyquist checkerboard here (lego's studs, wicker's strands: 2.02 px);
            # its phase is the finer scales' to draw, so it does not hold blocks in place
            resolved = np.hypot(*waves.T) <= 1 / MIN_WAVE_PERIOD
            if resolved.any():
                self.lattice, self.plane_lattice = waves[resolved], plane.reshape(waves.shape)[resolved]
        if self.lattice is not None:
            self.solve = np.linalg.pinv(self.lattice)  # phase change -> displacement (least norm)
            grid = np.arange(-SNAP_STEPS, SNAP_STEPS + 1)
            self.steps = np.stack(np.meshgrid(*[grid] * len(self.lattice), indexing="ij"), -1).reshape(
                -1, len(self.lattice)
            )
            self.phase = np.array([(_mix(seed, PHASE_KEY, m) % 4096) / 4096 for m in range(len(self.lattice))])
            self.variants = subpixel_levels(level)
        else:
            self.variants = [level] + [TRANSFORMS[name](level).contiguous() for name in transforms]
        self.level, self.seed = level, seed
        self.size = CELL + 2 * OVERLAP
        self._span = torch.arange(self.size)  # a block's rows (columns) from its first
        self.xs = Axis(None if period is None else period[0])
        self.ys = Axis(None if period is None else period[1])
        self.chosen: dict[tuple[int, int], tuple[int, int, int]] = {}
        self.seams: dict[tuple[int, int, bool], torch.Tensor] = {}

    def _random(self, i: int, j: int, k: int) -> tuple[int, int, int]:
        """Candidate k of cell (i, j): (variant, row, column). A lattice quilt's variants
        are sub-pixel places, which `_snap` picks."""
        count = 1 if self.lattice is not None else len(self.variants)
        variant = 0 if count == 1 else _mix(self.seed, LAYOUT_KEY, self.xs.key(i), self.ys.key(j), k, 1) % count
        _, _, height, width = self.variants[variant].shape
        row, col = _offset(self.seed, self.xs.key(i), self.ys.key(j), k, height, width, self.size)
        if self.lattice is not None:
            return self._snap(i, j, row, col)
        return (variant, row, col)

    def _snap(self, i: int, j: int, row: int, col: int) -> tuple[int, int, int]:
        """The source nearest (row, col) whose lattice phase is the one cell (i, j) needs:
        (subpixel variant, row, column). The block's centre holds the exemplar's lattice
        (K) at phase K s, where s is the centre in the level; the plane wants there the
        phase Kp q plus the seed's, where q is the centre on the plane (Kp = K but on a
        wrapping plane). Each displacement that makes these agree to whole cycles, up to
        `SNAP_STEPS` cycles either way, is a place the block may come from; of those
        inside the level, those near whole pixels (`SNAP_TOLERANCES`), and of those the
        nearest to (row, col), placed to 1/`SUBPIXEL` pixel. (row, col)
        unchanged when none fits (a level less than a lattice step larger than a
        block)."""
        _, _, height, width = self.level.shape
        half = self.size / 2
        source = np.array([col + half, row + half])
        place = np.array([self.xs.edge(self.xs.key(i)) - OVERLAP + half, self.ys.edge(self.ys.key(j)) - OVERLAP + half])
        phi = self.lattice @ source - self.plane_lattice @ place - self.phase
        delta = (np.round(phi) + self.steps - phi) @ self.solve.T  # [options, 2]: (x, y) moves
        if len(self.lattice) == 1:
            delta = delta + self._slide(np.array([col, row]) + delta, width, height)
        exact = np.array([col, row]) + delta
        whole = np.floor(exact)
        sub = np.round((exact - whole) * SUBPIXEL).astype(np.int64)  # to 1/SUBPIXEL px
        whole = whole.astype(np.int64) + sub // SUBPIXEL
        sub %= SUBPIXEL
        inside = (whole[:, 0] >= 0) & (whole[:, 0] <= width - self.size)
        inside &= (whole[:, 1] >= 0) & (whole[:, 1] <= height - self.size)
        if not inside.any():
            return (0, row, col)
        off = np.abs(exact - np.round(exact)).max(axis=1)  # from whole pixels, the worse axis
        move = np.abs(delta).sum(axis=1)
        for tolerance in SNAP_TOLERANCES:
            near_whole = inside & (off <= tolerance)
            if near_whole.any():
                k = int(np.where(near_whole, move, np.inf).argmin())
                break
        else:
            k = int(np.where(inside, off, np.inf).argmin())
        return (int(sub[k, 1]) * SUBPIXEL + int(sub[k, 0]), int(whole[k, 1]), int(whole[k, 0]))

    def _slide(self, places: np.ndarray, width: int, height: int) -> np.ndarray:
        """[options, 2] moves along a one-wave lattice's stripes (which keep its phase)
        that bring `places` (x, y) inside the level, the least for each; 0 where the
        place is inside already or no such move exists. Without them a place near a
        corner may have every place in step outside (moves across a tilted stripe go
        out through one side or the other)."""
        kx, ky = self.lattice[0]
        along = np.array([-ky, kx]) / np.hypot(kx, ky)
        lo, hi = np.full(len(places), -np.inf), np.full(len(places), np.inf)
        for axis, limit in ((0, width - self.size), (1, height - self.size)):
            if abs(along[axis]) < 1e-12:
                outside = (places[:, axis] < 0) | (places[:, axis] > limit)
                lo[outside], hi[outside] = np.inf, -np.inf
                continue
            a, b = (0 - places[:, axis]) / along[axis], (limit - places[:, axis]) / along[axis]
            lo, hi = np.maximum(lo, np.minimum(a, b)), np.minimum(hi, np.maximum(a, b))
        t = np.where(lo <= hi, np.clip(0.0, lo, hi), 0.0)
        return t[:, None] * along[None]

    def source(self, i: int, j: int) -> tuple[int, int, int]:
        """Where cell (i, j)'s block starts: (variant of the level, row, column of its
        margin's first pixel); the cell's own pixel (edge, edge) is `OVERLAP` further on."""
        if (i, j) not in self.chosen:  # remembered: a lattice quilt's snap costs ~40 us a place
            if len(self.chosen) >= CACHE_CELLS:
                self.chosen.clear()  # bounded memory on an endless canvas; recomputed exactly
            if (i + j) % 2 == 0:
                self.chosen[(i, j)] = self._random(i, j, 0)
            else:
                candidates = [self._random(i, j, k) for k in range(1, CANDIDATES + 1)]
                self.chosen[(i, j)] = candidates[int(self._costs(i, j, candidates).argmin())]
        return self.chosen[(i, j)]

    def _block(self, i: int, j: int, offset: tuple[int, int, int], x0: int, x1: int, y0: int, y1: int) -> torch.Tensor:
        """Cell (i, j)'s block from `offset` over global [x0, x1) x [y0, y1) (within its margins)."""
        variant, row, col = offset
        sy = row + OVERLAP + y0 - self.ys.edge(j)
        sx = col + OVERLAP + x0 - self.xs.edge(i)
        return self.variants[variant][0, :, sy : sy + y1 - y0, sx : sx + x1 - x0]

    def _costs(self, i: int, j: int, candidates: list[tuple[int, int, int]]) -> torch.Tensor:
        """[K]: for each candidate block of white cell (i, j), the squared difference to
        its four neighbours' blocks over the strips `OVERLAP` either side of their shared
        edges (the candidates from one variant at once: one gather of their whole blocks,
        each strip a contiguous copy of its part, so every sum runs as it did strip by
        strip)."""
        xa, xb, ya, yb = self.xs.edge(i), self.xs.edge(i + 1), self.ys.edge(j), self.ys.edge(j + 1)
        strips = (
            (i - 1, j, xa - OVERLAP, xa + OVERLAP, ya, yb),
            (i + 1, j, xb - OVERLAP, xb + OVERLAP, ya, yb),
            (i, j - 1, xa, xb, ya - OVERLAP, ya + OVERLAP),
            (i, j + 1, xa, xb, yb - OVERLAP, yb + OVERLAP),
        )
        theirs = [self._block(ni, nj, self.source(ni, nj), x0, x1, y0, y1) for ni, nj, x0, x1, y0, y1 in strips]
        # the part of a block (margins included) that each strip covers
        parts = [
            (y0 - ya + OVERLAP, y1 - ya + OVERLAP, x0 - xa + OVERLAP, x1 - xa + OVERLAP)
            for *_, x0, x1, y0, y1 in strips
        ]
        total = torch.zeros(len(candidates))
        by_variant: dict[int, list[int]] = {}
        for k, (variant, _, _) in enumerate(candidates):
            by_variant.setdefault(variant, []).append(k)
        for variant in sorted(by_variant):
            pick = by_variant[variant]
            starts = torch.tensor([candidates[k][1:] for k in pick])  # [k, 2]: row, column
            span = self._span
            rows = starts[:, 0, None] + span  # [k, size]
            cols = starts[:, 1, None] + span
            blocks = self.variants[variant][0][:, rows[:, :, None], cols[:, None, :]]  # [C, k, size, size]
            index = torch.tensor(pick)
            for (r0, r1, c0, c1), their in zip(parts, theirs):
                mine = blocks[:, :, r0:r1, c0:c1].contiguous()  # [C, k, h, w]
                total[index] += (mine - their[:, None]).pow(2).sum(dim=(0, 2, 3))
        return total

    def _seam(self, i: int, j: int, vertical: bool) -> torch.Tensor:
        """The cut between cell (i, j) and its right (`vertical`) or lower neighbour: per
        row (per column) of the shared edge, the first global column (row) that takes
        the neighbour's block. It runs through the `OVERLAP`-pixel strips either side of
        the edge where the two blocks differ least (a minimum-error path, as Efros and
        Freeman's image quilting cuts), so a joint or an outline that both blocks hold
        is not cut through. It depends on these two blocks only: still positional."""
        key = (i, j, vertical)
        if key not in self.seams:
            if len(self.seams) >= 2 * CACHE_CELLS:
                self.seams.clear()
            if vertical:
                ni, nj, edge = i + 1, j, self.xs.edge(i + 1)
                box = (edge - OVERLAP, edge + OVERLAP, self.ys.edge(j), self.ys.edge(j + 1))
            else:
                ni, nj, edge = i, j + 1, self.ys.edge(j + 1)
                box = (self.xs.edge(i), self.xs.edge(i + 1), edge - OVERLAP, edge + OVERLAP)
            mine = self._block(i, j, self.source(i, j), *box)
            theirs = self._block(ni, nj, self.source(ni, nj), *box)
            error = (mine - theirs).pow(2).sum(0)  # [rows, columns] of the strip
            self.seams[key] = edge - OVERLAP + min_error_path(error if vertical else error.T)
        return self.seams[key]

    def __call__(self, rect: tuple[int, int, int, int]) -> torch.Tensor:
        """`rect` (x0, y0, w, h) of the coarsest scale: [1,C,h,w] float32. Each cell shows
        its block, and across each edge the neighbour's block up to their seam."""
        x0, y0, w, h = rect
        out = torch.empty(1, self.level.shape[1], h, w)
        for j in range(self.ys.cell(y0), self.ys.cell(y0 + h - 1) + 1):
            ya, yb = self.ys.edge(j), self.ys.edge(j + 1)
            top, bottom = max(y0, ya), min(y0 + h, yb)
            for i in range(self.xs.cell(x0), self.xs.cell(x0 + w - 1) + 1):
                xa, xb = self.xs.edge(i), self.xs.edge(i + 1)
                left, right = max(x0, xa), min(x0 + w, xb)
                cell = self._block(i, j, self.source(i, j), left, right, top, bottom).clone()
                rows = torch.arange(top, bottom)[:, None]
                cols = torch.arange(left, right)[None, :]
                # the upper and lower seams first, then the side ones (they win at corners)
                upper = rows < self._seam(i, j - 1, False)[cols - xa]
                lower = rows >= self._seam(i, j, False)[cols - xa]
                west = cols < self._seam(i - 1, j, True)[rows - ya]
                east = cols >= self._seam(i, j, True)[rows - ya]
                sides = (
                    (upper, i, j - 1, (left, right, top, min(bottom, ya + OVERLAP))),
                    (lower, i, j + 1, (left, right, max(top, yb - OVERLAP), bottom)),
                    (west, i - 1, j, (left, min(right, xa + OVERLAP), top, bottom)),
                    (east, i + 1, j, (max(left, xb - OVERLAP), right, top, bottom)),
                )
                for taken, ni, nj, box in sides:
                    self._take(cell, taken, ni, nj, box, (left, top))
                out[0, :, top - y0 : bottom - y0, left - x0 : right - x0] = cell
        return out

    def _take(self, cell: torch.Tensor, taken: torch.Tensor, i: int, j: int, box, origin) -> None:
        """Where `taken` ([h,w] over `cell`, whose first pixel is global `origin`), within
        `box` (x0, x1, y0, y1, the part of the cell inside neighbour (i, j)'s margin),
        put that neighbour's block."""
        x0, x1, y0, y1 = box
        if x1 <= x0 or y1 <= y0:
            return
        ox, oy = origin
        part = taken[y0 - oy : y1 - oy, x0 - ox : x1 - ox]
        if bool(part.any()):
            region = cell[:, y0 - oy : y1 - oy, x0 - ox : x1 - ox]
            theirs = self._block(i, j, self.source(i, j), x0, x1, y0, y1)
            region[:, part] = theirs[:, part]


BANK_COUNT = 32  # quilts a fit's finer scales train on (`quilt_bank`)
BANK_SIDE = 96  # their side, in coarsest pixels


def quilt_bank(
    level: torch.Tensor,
    seed: int,
    count: int = BANK_COUNT,
    side: int = BANK_SIDE,
    transforms: tuple[str, ...] = (),
    lattice: torch.Tensor | None = None,
) -> torch.Tensor:
    """`count` quilts of `level` ([1,C,H,W]), side x side, each with its own seed drawn
    from `seed`: [count,C,side,side]. The finer scales train on windows of these: one
    quilt of a whole bank costs what a few crop-sized ones do (most of a small quilt's
    work is the cells around it), so fresh quilts every step cost ~30 ms a step."""
    quilts = [Quilt(level, _mix(seed, LAYOUT_KEY, k), transforms=transforms, lattice=lattice) for k in range(count)]
    return torch.cat([quilt((0, 0, side, side)) for quilt in quilts])


def min_error_path(error: torch.Tensor) -> torch.Tensor:
    """[n, m] errors -> [n] long: a column per row, moving at most one column from row to
    row, with the least total error (dynamic programming; ties go to the lower column).
    Plain Python on lists: a seam is 16 x 6 values, where numpy's per-call overhead cost
    four times as much (the same float64 sums, so the same paths)."""
    values = error.double().tolist()
    n, m = len(values), len(values[0])
    cost = values[0]
    steps = [[0] * m]
    inf = float("inf")
    for row in range(1, n):
        here, moves, costs = values[row], [0] * m, [0.0] * m
        for c in range(m):
            best, move = cost[c - 1] if c > 0 else inf, -1
            if cost[c] < best:
                best, move = cost[c], 0
            if c + 1 < m and cost[c + 1] < best:
                best, move = cost[c + 1], 1
            moves[c], costs[c] = move, here[c] + best
        steps.append(moves)
        cost = costs
    path = [0] * n
    path[-1] = min(range(m), key=cost.__getitem__)
    for row in range(n - 1, 0, -1):
        path[row - 1] = path[row] + steps[row][path[row]]
    return torch.tensor(path, dtype=torch.int64)
