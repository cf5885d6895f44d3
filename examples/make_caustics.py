"""Make a procedural water-caustics photo stand-in: sunlight refracted by a rippled water
surface and gathered on a pool floor, a connected net of bright curved lines and cusps
over blue-green tiles of light. Rays are traced from a fine grid through a smooth random
surface and counted where they land, so the lines are real focal lines, not drawn: the
caustics issue 14 names among the textures a user brings (long connected lines of light).

    python examples/make_caustics.py                  # -> bench-out/caustics.png
    python examples/make_caustics.py --seed 5 -o held_out.png

Nothing here is committed as data: `benchmarks/quality.py --only caustics` draws its
exemplar and held-out half from seeds 3 and 5.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

WATER = np.array([0.05, 0.36, 0.48])
LIGHT = np.array([0.75, 0.97, 1.0])


def caustics(height: int = 192, width: int = 256, ripple: float = 9.0, seed: int = 3) -> np.ndarray:
    """[height, width, 3] float in [0, 1]; `ripple` is the surface's smoothing in pixels
    (the net's cells come out ~3x as wide)."""
    rng = np.random.default_rng(seed)
    over, margin = 4, 24  # rays a pixel a side; rays start this far past the frame
    h, w = (height + 2 * margin) * over, (width + 2 * margin) * over
    surface = gaussian_filter(rng.normal(0, 1, (h, w)), ripple * over)
    surface /= surface.std()
    gy, gx = np.gradient(surface)
    # the surface's slope bends each ray; at this depth the ray map folds over (1 + depth x
    # curvature < 0) where the surface curves most, so light lands in thin lines and cusps
    bend = 0.6 / np.gradient(gx, axis=1).std()
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    ly = (yy + bend * gy) / over - margin
    lx = (xx + bend * gx) / over - margin
    keep = (ly >= 0) & (ly < height) & (lx >= 0) & (lx < width)
    counts = np.zeros((height, width))
    np.add.at(counts, (ly[keep].astype(int), lx[keep].astype(int)), 1.0)
    counts = gaussian_filter(counts / over**2, 0.6)
    glow = np.clip((counts - 0.6) / 2.5, 0, 1) ** 0.8
    floor = 1.0 + 0.08 * gaussian_filter(rng.normal(0, 1, (height, width)), 20.0) * 3
    image = WATER * floor[..., None] + glow[..., None] * (LIGHT - WATER)
    return np.clip(image, 0, 1)


if __name__ == "__main__":
    from drawn import main

    main(caustics, "caustics", __doc__)
