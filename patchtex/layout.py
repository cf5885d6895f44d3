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
neighbours' blocks. Every choice depends on the seed and on cells at most one apart, so
the quilt is a fixed function of position like the noise: any window is exact, and with
a period the cells wrap (tileable outputs).
"""

from __future__ import annotations

import torch

from .noise import _mix

CELL = 16  # coarse pixels a cell spans (its width on a wrapping plane: `cell_edges`)
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
        self.count = None if period is None else max(2, -(-period // CELL) + (-(-period // CELL)) % 2)

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
    """The quilt of one coarsest level for one seed. level: [1,C,H,W] (`fits(H, W)`)."""

    def __init__(self, level: torch.Tensor, seed: int, period: tuple[int, int] | None = None):
        self.level, self.seed = level.float().cpu(), seed
        self.size = CELL + 2 * OVERLAP
        self.xs = Axis(None if period is None else period[0])
        self.ys = Axis(None if period is None else period[1])
        self.chosen: dict[tuple[int, int], tuple[int, int]] = {}

    def _random(self, i: int, j: int, k: int) -> tuple[int, int]:
        _, _, height, width = self.level.shape
        return _offset(self.seed, self.xs.key(i), self.ys.key(j), k, height, width, self.size)

    def source(self, i: int, j: int) -> tuple[int, int]:
        """Where cell (i, j)'s block starts in the level: (row, column) of its margin's
        first pixel; the cell's own pixel (edge, edge) is `OVERLAP` further on."""
        if (i + j) % 2 == 0:
            return self._random(i, j, 0)
        if (i, j) not in self.chosen:
            candidates = [self._random(i, j, k) for k in range(1, CANDIDATES + 1)]
            self.chosen[(i, j)] = candidates[int(self._costs(i, j, candidates).argmin())]
        return self.chosen[(i, j)]

    def _block(self, i: int, j: int, offset: tuple[int, int], x0: int, x1: int, y0: int, y1: int) -> torch.Tensor:
        """Cell (i, j)'s block with `offset` over global [x0, x1) x [y0, y1) (within its margins)."""
        sy = offset[0] + OVERLAP + y0 - self.ys.edge(j)
        sx = offset[1] + OVERLAP + x0 - self.xs.edge(i)
        return self.level[0, :, sy : sy + y1 - y0, sx : sx + x1 - x0]

    def _costs(self, i: int, j: int, candidates: list[tuple[int, int]]) -> torch.Tensor:
        """[K]: for each candidate block of white cell (i, j), the squared difference to
        its four neighbours' blocks over the strips `OVERLAP` either side of their shared
        edges (all candidates at once: one gather a strip)."""
        xa, xb, ya, yb = self.xs.edge(i), self.xs.edge(i + 1), self.ys.edge(j), self.ys.edge(j + 1)
        strips = (
            (i - 1, j, xa - OVERLAP, xa + OVERLAP, ya, yb),
            (i + 1, j, xb - OVERLAP, xb + OVERLAP, ya, yb),
            (i, j - 1, xa, xb, ya - OVERLAP, ya + OVERLAP),
            (i, j + 1, xa, xb, yb - OVERLAP, yb + OVERLAP),
        )
        starts = torch.tensor(candidates)  # [K, 2]
        total = torch.zeros(len(candidates))
        for ni, nj, x0, x1, y0, y1 in strips:
            theirs = self._block(ni, nj, self.source(ni, nj), x0, x1, y0, y1)  # [C, h, w]
            rows = starts[:, 0, None] + OVERLAP + y0 - ya + torch.arange(y1 - y0)  # [K, h]
            cols = starts[:, 1, None] + OVERLAP + x0 - xa + torch.arange(x1 - x0)  # [K, w]
            mine = self.level[0][:, rows[:, :, None], cols[:, None, :]]  # [C, K, h, w]
            total += (mine - theirs[:, None]).pow(2).sum(dim=(0, 2, 3))
        return total

    def __call__(self, rect: tuple[int, int, int, int]) -> torch.Tensor:
        """`rect` (x0, y0, w, h) of the coarsest scale: [1,C,h,w] float32."""
        x0, y0, w, h = rect
        out = torch.empty(1, self.level.shape[1], h, w)
        for j in range(self.ys.cell(y0), self.ys.cell(y0 + h - 1) + 1):
            top, bottom = max(y0, self.ys.edge(j)), min(y0 + h, self.ys.edge(j + 1))
            for i in range(self.xs.cell(x0), self.xs.cell(x0 + w - 1) + 1):
                left, right = max(x0, self.xs.edge(i)), min(x0 + w, self.xs.edge(i + 1))
                block = self._block(i, j, self.source(i, j), left, right, top, bottom)
                out[0, :, top - y0 : bottom - y0, left - x0 : right - x0] = block
        return out
