"""Make a procedural diamond-plate (checker plate) photo stand-in: a 2D lattice of raised
ridges whose direction alternates from cell to cell, lit from the top left, on brushed
steel. The lattice is rotated a few degrees and its pitch drifts slightly across the
image, as in a photo taken not quite square-on: the case issue 14 names for lattices
with more than one orientation.

    python examples/make_diamond_plate.py                  # -> bench-out/diamond_plate.png
    python examples/make_diamond_plate.py --seed 5 -o held_out.png

Nothing here is committed as data: `benchmarks/quality.py --only diamond_plate` draws
its exemplar and held-out half from seeds 3 and 5.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter


def diamond_plate(height: int = 192, width: int = 256, pitch: float = 22.0, seed: int = 3) -> np.ndarray:
    """[height, width, 3] float in [0, 1]."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    angle = np.deg2rad(rng.uniform(-6, 6))
    drift = 1.0 + 0.04 * (xx / width - 0.5)  # the pitch grows 4% from left to right
    u = (np.cos(angle) * xx + np.sin(angle) * yy) / (pitch * drift) + rng.uniform()
    v = (-np.sin(angle) * xx + np.cos(angle) * yy) / (pitch * drift) + rng.uniform()
    cu, cv = np.floor(u), np.floor(v)
    fu, fv = u - cu - 0.5, v - cv - 0.5  # position in the cell, [-0.5, 0.5)
    flip = (cu + cv) % 2 == 0  # checkerboard: the ridge runs along one diagonal or the other
    along = np.where(flip, fu + fv, fu - fv) / np.sqrt(2)
    across = np.where(flip, fu - fv, fu + fv) / np.sqrt(2)
    # a lens-shaped ridge: long along its diagonal, narrow across it, rounded on top
    half_len, half_wid = 0.38, 0.12 * (1 - (along / 0.36) ** 2).clip(0)
    inside = np.clip(1 - (across / np.maximum(half_wid, 1e-3)) ** 2, 0, 1)
    height_map = np.sqrt(inside) * (np.abs(along) < half_len)
    height_map = gaussian_filter(height_map, 0.8)
    gy, gx = np.gradient(height_map * 2.5)
    light = np.clip(0.6 - 0.8 * (0.8 * gy + 0.6 * gx) + 0.15 * height_map, 0, 1)
    brushed = gaussian_filter(rng.normal(0, 1, (height, width)), (0.5, 6.0))
    grime = gaussian_filter(rng.normal(0, 1, (height, width)), 12.0)
    steel = light + 0.05 * brushed + 0.35 * grime
    tint = np.array([0.95, 0.97, 1.0])
    return np.clip(steel[..., None] * tint, 0, 1)


if __name__ == "__main__":
    from drawn import main

    main(diamond_plate, "diamond_plate", __doc__)
