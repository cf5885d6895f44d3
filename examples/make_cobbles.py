"""Make examples/cobbles.png: a procedural colour cobblestone texture (no licence strings
attached), the exemplar of the bundled demo model.

    python examples/make_cobbles.py
"""

from pathlib import Path

import numpy as np
from PIL import Image
from scipy.ndimage import gaussian_filter


def cobbles(size: int = 192, cells: int = 40, seed: int = 3, scale: float = 1.0) -> np.ndarray:
    """`scale` widens the joints and the stones' rounded shading (a closer photo)."""
    rng = np.random.default_rng(seed)
    # jittered points on a periodic domain, so the exemplar itself has no edge effects
    points = rng.uniform(0, size, (cells, 2))
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    d = np.full((2, size, size), np.inf)
    owner = np.zeros((size, size), dtype=int)
    for i, (py, px) in enumerate(points):
        dy = np.abs(yy - py)
        dx = np.abs(xx - px)
        dist = np.hypot(np.minimum(dy, size - dy), np.minimum(dx, size - dx))
        closer = dist < d[0]
        d[1] = np.where(closer, d[0], np.minimum(d[1], dist))
        owner = np.where(closer, i, owner)
        d[0] = np.where(closer, dist, d[0])
    edge = d[1] - d[0]  # distance to the nearest cell border (times 2)
    base = rng.uniform(0.0, 1.0, (cells, 3))
    palette = np.array([[0.55, 0.47, 0.40], [0.42, 0.40, 0.38], [0.62, 0.55, 0.45]])
    colour = (base @ palette) / base.sum(1, keepdims=True)
    stone = colour[owner]
    shade = np.clip(edge / (6.0 * scale), 0, 1) ** 0.6  # rounded stones: darker towards the joints
    grain = gaussian_filter(rng.normal(0, 1, (size, size)), 1.0, mode="wrap")
    img = stone * (0.55 + 0.45 * shade)[..., None] + 0.035 * grain[..., None]
    mortar = (
        np.array([0.30, 0.27, 0.24])
        + 0.03 * gaussian_filter(rng.normal(0, 1, (size, size)), 0.7, mode="wrap")[..., None]
    )
    joint = np.clip((2.2 * scale - edge) / (1.5 * scale), 0, 1)[..., None]
    img = img * (1 - joint) + mortar * joint
    return (np.clip(img, 0, 1) * 255).round().astype(np.uint8)


if __name__ == "__main__":
    out = Path(__file__).with_name("cobbles.png")
    Image.fromarray(cobbles()).save(out)
    print(f"wrote {out}")
