"""Make a procedural honeycomb photo stand-in: a hexagonal lattice of wax cells (three
wall orientations, not two), some capped, some holding honey, some empty, lit from the top
left. The comb is rotated a few degrees, its cells are a little irregular and its pitch
drifts across the image, as in a photo of a real frame: the honeycomb issue 14 names
among the textures a user brings (a lattice beyond one wave, and closed cells).

    python examples/make_honeycomb.py                  # -> bench-out/honeycomb.png
    python examples/make_honeycomb.py --seed 5 -o held_out.png

Nothing here is committed as data: `benchmarks/quality.py --only honeycomb` draws its
exemplar and held-out half from seeds 3 and 5.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter
from scipy.spatial import cKDTree

WAX = np.array([0.93, 0.78, 0.36])  # cell walls and caps
HONEY = np.array([0.80, 0.45, 0.08])
EMPTY = np.array([0.30, 0.18, 0.07])


def honeycomb(height: int = 192, width: int = 256, pitch: float = 18.0, seed: int = 3) -> np.ndarray:
    """[height, width, 3] float in [0, 1]."""
    rng = np.random.default_rng(seed)
    angle = np.deg2rad(rng.uniform(-8, 8))
    # cell centres on a hexagonal lattice, jittered, over a margin past the frame
    reach = int(max(height, width) / pitch) + 4
    i, j = np.mgrid[-reach : reach + 1, -reach : reach + 1].reshape(2, -1).astype(np.float64)
    u = pitch * (i + 0.5 * j) + rng.uniform(0, pitch)
    v = pitch * (np.sqrt(3) / 2) * j + rng.uniform(0, pitch)
    cx = np.cos(angle) * u - np.sin(angle) * v + width / 2
    cy = np.sin(angle) * u + np.cos(angle) * v + height / 2
    cx = cx * (1.0 + 0.05 * (cx / width - 0.5))  # the pitch grows ~5% from left to right
    cx, cy = cx + rng.normal(0, 0.05 * pitch, cx.shape), cy + rng.normal(0, 0.05 * pitch, cy.shape)
    centres = np.stack([cx, cy], 1)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    points = np.stack([xx.ravel(), yy.ravel()], 1)
    dist, idx = cKDTree(centres).query(points, k=2)
    c1, c2 = centres[idx[:, 0]], centres[idx[:, 1]]
    # distance to the wall between the two nearest cells (their bisector)
    to_wall = (dist[:, 1] ** 2 - dist[:, 0] ** 2) / (2 * np.linalg.norm(c2 - c1, axis=1))
    to_wall = to_wall.reshape(height, width)
    r = (dist[:, 0] / (pitch / 2)).reshape(height, width)  # 0 at a centre, ~1 at the walls
    kind = rng.choice(3, size=len(centres), p=[0.45, 0.35, 0.2])[idx[:, 0]].reshape(height, width)
    shade = rng.uniform(0.85, 1.1, len(centres))[idx[:, 0]].reshape(height, width)
    wall = np.clip(1.6 - to_wall, 0, 1)  # walls ~3 px thick
    # height: walls high; a cap a low dome; honey a flat pool; an empty cell a deep pit
    depth = np.select([kind == 0, kind == 1], [0.75 - 0.25 * r**2, 0.35], -0.2 + 0.5 * r**2)
    height_map = gaussian_filter(np.maximum(wall, depth), 0.7)
    gy, gx = np.gradient(height_map * 3.0)
    light = np.clip(0.75 - 0.9 * (0.8 * gy + 0.6 * gx) + 0.25 * height_map, 0, 1.3)
    base = np.stack([WAX, HONEY, EMPTY])[kind]  # [H, W, 3]: each cell its kind's colour
    base = np.where(wall[..., None] > 0.5, WAX * 1.05, base * shade[..., None])
    # honey holds a highlight up and to the left of its cell's centre
    off = ((points - c1) / (pitch / 2)).reshape(height, width, 2)
    spot = np.exp(-((off[..., 0] + 0.3) ** 2 + (off[..., 1] + 0.3) ** 2) * 12) * (kind == 1) * (wall < 0.5)
    grain = gaussian_filter(rng.normal(0, 1, (height, width)), 0.8)
    image = base * light[..., None] + 0.25 * spot[..., None] + 0.02 * grain[..., None]
    return np.clip(image, 0, 1)


if __name__ == "__main__":
    from drawn import main

    main(honeycomb, "honeycomb", __doc__)
