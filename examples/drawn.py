"""What the procedural exemplar scripts share (`make_diamond_plate.py`, `make_honeycomb.py`,
`make_caustics.py`): each draws an RGB image of floats in [0, 1] from a seed, saved as an
8-bit PNG. Imported from beside them (a script run from anywhere has its own folder on
`sys.path`)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image


def to_image(image: np.ndarray) -> Image.Image:
    """[H, W, 3] floats in [0, 1] -> an 8-bit RGB image (rounded)."""
    return Image.fromarray((image * 255 + 0.5).astype(np.uint8))


def main(draw: Callable[..., np.ndarray], name: str, doc: str | None) -> None:
    """The scripts' command line: `--seed` (3, the bench's exemplar seed) and `-o` (default
    bench-out/NAME.png)."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("-o", "--out", type=Path, default=Path("bench-out") / f"{name}.png")
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    to_image(draw(seed=args.seed)).save(args.out)
