"""The coarsest scale drawn by example: a quilt of the exemplar's own coarsest level.

A GAN at the coarsest scale has a few dozen pixels of exemplar to learn from, and its
critics win early: tomatoes, leaves and cobbles came out as merged blobs there, and no
finer scale can put back a whole object that the layout lacks. The finer scales, fed a
real coarse layout, draw whole objects (benchmarks/README, sessions 17 and 19). So for
textures without a lattice, the coarsest image can be a quilt instead: the plane is cut
into square cells of `CELL` coarse pixels, and each cell shows a block of the exemplar's
coarsest level. The cells form a checkerboard: a "black" cell takes a block at a random
place; a "white" cell, whose four neighbours are all black, takes the best of
`CANDIDATES` random blocks, the one whose `OVERLAP`-pixel margins best agree with its
neighbours' blocks. Neighbouring blocks meet along a minimum-error cut through their
overlap. Every choice depends on the seed and on cells at most one apart, so
the quilt is a fixed function of position like the noise: any window is exact, and with
a period the cells wrap (tileable outputs).
"""

from __future__ import annotations

import numpy as np
import torch

from .noise import _mix

CELL = 16  # coarse pixels a cell spans (its width on a wrapping plane: `Axis`)
OVERLAP = 3  # pixels beyond a cell's edge compared with its neighbours' blocks
CANDIDATES = 16  # random blocks a white cell chooses among
LAYOUT_KEY = 0x0B10C  # quilt choices are keyed apart from the noise


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


class Quilt:
    """The quilt of one coarsest level for one seed. level: [1,C,H,W] (`fits(H, W)`).

    `transforms` (names in `symmetry.TRANSFORMS`) are flips and turns the exemplar's
    statistics do not change under: blocks are then also taken from the level so
    transformed, so a distinctive element of a small level comes back in more than one
    guise. Without any, the quilt is what it was before they existed, pixel for pixel."""

    def __init__(
        self,
        level: torch.Tensor,
        seed: int,
        period: tuple[int, int] | None = None,
        transforms: tuple[str, ...] = (),
    ):
        from .symmetry import TRANSFORMS

        level = level.float().cpu()
        self.variants = [level] + [TRANSFORMS[name](level).contiguous() for name in transforms]
        self.level, self.seed = level, seed
        self.size = CELL + 2 * OVERLAP
        self.xs = Axis(None if period is None else period[0])
        self.ys = Axis(None if period is None else period[1])
        self.chosen: dict[tuple[int, int], tuple[int, int, int]] = {}
        self.seams: dict[tuple[int, int, bool], torch.Tensor] = {}

    def _random(self, i: int, j: int, k: int) -> tuple[int, int, int]:
        """Candidate k of cell (i, j): (variant, row, column)."""
        count = len(self.variants)
        variant = 0 if count == 1 else _mix(self.seed, LAYOUT_KEY, self.xs.key(i), self.ys.key(j), k, 1) % count
        _, _, height, width = self.variants[variant].shape
        return (variant, *_offset(self.seed, self.xs.key(i), self.ys.key(j), k, height, width, self.size))

    def source(self, i: int, j: int) -> tuple[int, int, int]:
        """Where cell (i, j)'s block starts: (variant of the level, row, column of its
        margin's first pixel); the cell's own pixel (edge, edge) is `OVERLAP` further on."""
        if (i + j) % 2 == 0:
            return self._random(i, j, 0)
        if (i, j) not in self.chosen:
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
        edges (the candidates from one variant at once: one gather a strip)."""
        xa, xb, ya, yb = self.xs.edge(i), self.xs.edge(i + 1), self.ys.edge(j), self.ys.edge(j + 1)
        strips = (
            (i - 1, j, xa - OVERLAP, xa + OVERLAP, ya, yb),
            (i + 1, j, xb - OVERLAP, xb + OVERLAP, ya, yb),
            (i, j - 1, xa, xb, ya - OVERLAP, ya + OVERLAP),
            (i, j + 1, xa, xb, yb - OVERLAP, yb + OVERLAP),
        )
        everything = torch.tensor(candidates)  # [K, 3]
        total = torch.zeros(len(candidates))
        for ni, nj, x0, x1, y0, y1 in strips:
            theirs = self._block(ni, nj, self.source(ni, nj), x0, x1, y0, y1)  # [C, h, w]
            for variant, level in enumerate(self.variants):
                pick = (everything[:, 0] == variant).nonzero()[:, 0]
                if not len(pick):
                    continue
                starts = everything[pick, 1:]
                rows = starts[:, 0, None] + OVERLAP + y0 - ya + torch.arange(y1 - y0)  # [k, h]
                cols = starts[:, 1, None] + OVERLAP + x0 - xa + torch.arange(x1 - x0)  # [k, w]
                mine = level[0][:, rows[:, :, None], cols[:, None, :]]  # [C, k, h, w]
                total[pick] += (mine - theirs[:, None]).pow(2).sum(dim=(0, 2, 3))
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
) -> torch.Tensor:
    """`count` quilts of `level` ([1,C,H,W]), side x side, each with its own seed drawn
    from `seed`: [count,C,side,side]. The finer scales train on windows of these: one
    quilt of a whole bank costs what a few crop-sized ones do (most of a small quilt's
    work is the cells around it), so fresh quilts every step cost ~30 ms a step."""
    quilts = [Quilt(level, _mix(seed, LAYOUT_KEY, k), transforms=transforms) for k in range(count)]
    return torch.cat([quilt((0, 0, side, side)) for quilt in quilts])


def min_error_path(error: torch.Tensor) -> torch.Tensor:
    """[n, m] errors -> [n] long: a column per row, moving at most one column from row to
    row, with the least total error (dynamic programming; ties go to the lower column)."""
    values = error.double().numpy()
    n, m = values.shape
    cost = values[0].copy()
    steps = np.empty((n, m), dtype=np.int64)
    padded = np.full(m + 2, np.inf)
    for row in range(1, n):
        padded[1:-1] = cost
        options = np.stack([padded[:-2], padded[1:-1], padded[2:]])
        steps[row] = options.argmin(axis=0) - 1
        cost = values[row] + options.min(axis=0)
    path = np.empty(n, dtype=np.int64)
    path[-1] = int(cost.argmin())
    for row in range(n - 1, 0, -1):
        path[row - 1] = path[row] + steps[row, path[row]]
    return torch.from_numpy(path)
