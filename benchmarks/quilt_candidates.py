"""Which quilt candidate count (`Quilt`'s `candidates`, `layout.CANDIDATES` by default)
suits a fitted model? A probe for issue 14's lead (benchmarks/RESULTS, session 36): fewer
candidates help textures of many small oriented elements (grass, gravel) and hurt objects
and cells (cobbles, tomatoes). Session 37 found its picks noisy (other quilt seeds moved
grass's fall from 48 % to 7 %) and credited variance in the candidates' cost instead
(`train.variance_credit`).

For each count, quilts of the model's coarsest level (two seeds) are rendered through its
finer scales and compared with the render of the level itself through the same scales,
by the package's random-CNN structure distances (log sum) and by patch SWD; lower is
closer. Nothing here uses a held-out half, so a fit could run it.

    python benchmarks/quilt_candidates.py bench-out/quality/cobbles.patchtex.safetensors ...
"""

from __future__ import annotations

import argparse
import math
import statistics

import torch

import patchtex
from patchtex import layout, quality

COUNTS = (16, 4, 2, 1)


def render_from(model: patchtex.Model, coarse: torch.Tensor, seed: int) -> torch.Tensor:
    """`coarse` (a coarsest-scale image) through every finer scale of `model`, as refine
    runs them over a finite image (`Canvas.finite_step`): [1,C,H,W] in [-1,1]."""
    canvas = model.canvas(seed=seed)
    image = coarse
    for scale in range(1, model.config.num_scales):
        image = canvas.finite_step(scale, image, (image.shape[-2] * 2, image.shape[-1] * 2))
    return image.clamp(-1, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+")
    args = parser.parse_args()
    print(f"{'model':<24} " + " ".join(f"{c:>16}" for c in COUNTS) + "  picks (structure, SWD)")
    for path in args.models:
        model = patchtex.load(path)
        if not model.config.layout_size:
            print(f"{path}: not quilted")
            continue
        level = model.pyramid.generators[0].level
        real = render_from(model, level, 21)
        height, width = level.shape[-2:]
        scores = {}
        for count in COUNTS:
            rows = []
            for seed in (21, 22):
                options = layout.quilt_options(model.config)
                quilt = layout.Quilt(level, seed, candidates=count, **options)((0, 0, width, height))
                out = render_from(model, quilt, seed)
                rows.append((sum(map(math.log, quality.structure_distances(out, real))), quality.patch_swd(out, real)))
            scores[count] = (statistics.mean(r[0] for r in rows), statistics.mean(r[1] for r in rows))
        cells = " ".join(f"{s:7.2f} / {w:6.3f}" for s, w in scores.values())
        picks = (min(scores, key=lambda c: scores[c][0]), min(scores, key=lambda c: scores[c][1]))
        print(f"{path.split('/')[-1].split('.')[0]:<24} {cells}  {picks[0]}, {picks[1]}", flush=True)


if __name__ == "__main__":
    main()
