"""How much of a quilted model's miss is its quilt's: the finer scales fed the exemplar's
own coarsest level (what a perfect quilt would hand them) against the quilt they are fed.

For each model (fitted by `quality.py`), renders the exemplar's extent at full size twice
with each seed's noise: once from the quilt, once with the real coarsest level injected
in its place (reflected past its border), and prints the patch SWD ratio of each against
the held-out half (floor: the exemplar against the held-out half, as `quality.py`).

    python benchmarks/quilt_oracle.py bench-out/quality/bricks.patchtex.safetensors [...]
        [--bench ../shared/bench] [--seeds 1 2]

Session 27, bricks (seed-0 model): 1.12 / 1.13 from its real level, 1.61 / 2.02 from
its quilt (seeds 1 / 2). Session 28 found most of that gap is where the quilt puts the
lattice in the frame, not how it draws it: the real level holds the exemplar's own phase,
and the same model's quilt at that phase scores 1.11 (RESULTS, session 28;
`calibrate.py --offsets`: the exemplar itself half a course lower scores 1.82).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
import torch.nn.functional as F

import patchtex
from patchtex.canvas import KeyedSource
from patchtex.images import load_image
from patchtex.quality import patch_swd

ROOT = Path(__file__).resolve().parent.parent


def reflected(level: torch.Tensor, margin: int):
    """rect -> the level's pixels there, reflected past its border by up to `margin`."""
    padded = F.pad(level, (margin,) * 4, mode="reflect")

    def crop(rect: tuple[int, int, int, int]) -> torch.Tensor:
        x0, y0, w, h = rect
        return padded[..., y0 + margin : y0 + margin + h, x0 + margin : x0 + margin + w]

    return crop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("--bench", type=Path, default=ROOT.parent / "shared" / "bench")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    torch.set_num_threads(2)
    print(f"{'model':<16} {'seed':>4} {'from real level':>15} {'from quilt':>10}")
    for path in args.models:
        model = patchtex.load(path)
        pyramid = model.pyramid
        if not pyramid.config.layout_size:
            print(f"{path.name}: not a quilted model")
            continue
        name = path.name.split(".")[0]
        exemplar = load_image(args.bench / f"{name}.png").pixels
        held_out = load_image(args.bench / f"{name}.ref.png").pixels
        floor = patch_swd(exemplar, held_out)
        level = pyramid.generators[0].level.float()
        factor = pyramid.config.factor(0)
        rect = (0, 0, exemplar.shape[-1], exemplar.shape[-2])
        top = pyramid.config.num_scales - 1
        real = reflected(level, min(level.shape[-2:]) - 1)
        for seed in args.seeds:
            source = KeyedSource(pyramid, seed, torch.device("cpu"))
            with torch.no_grad():
                ours = pyramid.render(top, rect, source).clamp(-1, 1)
                oracle = pyramid.render(top, rect, source, inject=(0, real)).clamp(-1, 1)
            print(
                f"{name:<16} {seed:>4} {patch_swd(oracle, held_out) / floor:>15.2f} "
                f"{patch_swd(ours, held_out) / floor:>10.2f}   (quilted at 1/{factor})"
            )


if __name__ == "__main__":
    main()
