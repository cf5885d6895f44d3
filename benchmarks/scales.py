"""Per-scale sheet: where does a fit lose structure?

For a model and its exemplar, one row per scale (coarsest first): the exemplar's own
level at that scale (2x2 box averages, what the scale was trained to match) beside three
samples of the model rendered at that scale, all magnified to the finest pixels (nearest
neighbour). A honeycomb whose coarsest row has no cells cannot get them from finer scales.
With `--real`, each finer row ends with one more panel: that scale rendered from the
exemplar's own coarser level instead of a sample (its super-resolution of real input). When
that panel is right and the samples are not, the fault lies in a coarser scale (lego's
scales 1-3 draw sharp bricks from its real levels; its coarsest scale draws none).
Also prints each scale's generator and critic receptive fields, in that scale's pixels
and in finest pixels, beside the exemplar's size at that scale.

    python benchmarks/scales.py MODEL EXEMPLAR [-o sheet.png] [--size 256] [--real]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
import torch.nn.functional as F

import patchtex
from patchtex.canvas import _assemble
from patchtex.config import TrainConfig
from patchtex.images import load_image, save_image
from patchtex.model import halvings
from patchtex.train import scale_critic


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path)
    parser.add_argument("exemplar", type=Path)
    parser.add_argument("-o", "--out", type=Path, default=Path("bench-out/scales.png"))
    parser.add_argument("--size", type=int, default=256, help="side of each panel in finest pixels")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--real", action="store_true", help="add each finer scale rendered from the real coarser level")
    args = parser.parse_args()
    torch.set_num_threads(2)
    model = patchtex.load(args.model)
    config = model.config
    exemplar = load_image(args.exemplar).pixels
    levels = halvings(exemplar, config.num_scales - 1)
    train = TrainConfig()
    print(f"{'scale':>5} {'exemplar':>10} {'gen RF':>7} {'critic RF':>9} {'gen RF (finest px)':>18}")
    rows = []
    side = args.size
    for scale in range(config.num_scales):
        factor = config.factor(scale)
        n = max(8, side // factor)
        panels = [_panel(levels[scale], n, factor)]
        for seed in range(1, args.seeds + 1):
            canvas = model.canvas(seed=seed)
            bands = canvas._plane_bands((0, 0, n, n), scale=scale)
            image = _assemble(bands, config.image_channels, n, n).clamp(-1, 1)
            panels.append(F.interpolate(image, scale_factor=factor, mode="nearest"))
        if args.real:
            blank = torch.ones_like(panels[0])
            panels.append(blank if scale == 0 else _from_real(model, levels[scale - 1], scale, n, factor))
        rows.append(torch.cat(panels, dim=3))
        field = 2 * config.layers[scale] + 1  # `layers` valid 3x3 convs
        h, w = levels[scale].shape[-2:]
        if scale == 0 and config.layout_size:  # a quilt of this level: no generator, no critic
            print(f"{scale:5d} {w:4d}x{h:<5d} {'quilt':>7} {'-':>9} {'-':>18}")
            continue
        critic_field = scale_critic(config, train, scale).min_side  # the critic a default fit gives this scale
        print(f"{scale:5d} {w:4d}x{h:<5d} {field:7d} {critic_field:9d} {field * factor:18d}")
    save_image(torch.cat(rows, dim=2), args.out)
    print(f"sheet in {args.out}")


def _from_real(model, coarser: torch.Tensor, scale: int, n: int, factor: int) -> torch.Tensor:
    """Scale `scale` rendered on (0, 0, n, n) from `coarser`, the exemplar's level one scale
    down (its edge pixels repeated beyond it for the halos), magnified to the finest pixels."""
    pad = model.config.layers[scale] + 2
    padded = F.pad(coarser, (pad, pad + n, pad, pad + n), mode="replicate")

    def real(rect):
        x0, y0, w, h = rect
        return padded[..., y0 + pad : y0 + pad + h, x0 + pad : x0 + pad + w]

    canvas = model.canvas(seed=1)
    with torch.no_grad():
        image = model.pyramid.render(scale, (0, 0, n, n), canvas.source, inject=(scale - 1, real)).clamp(-1, 1)
    return F.interpolate(image, scale_factor=factor, mode="nearest")


def _panel(level: torch.Tensor, n: int, factor: int) -> torch.Tensor:
    crop = level[..., :n, :n]
    if crop.shape[-1] < n or crop.shape[-2] < n:
        crop = F.pad(crop, (0, n - crop.shape[-1], 0, n - crop.shape[-2]), value=1.0)
    return F.interpolate(crop, scale_factor=factor, mode="nearest")


if __name__ == "__main__":
    main()
