"""Calibration of the quality measures: what the truth scores, and what a known fault does.

A measure is trusted only after it ranks known cases right. For every texture in
`../shared/bench` this prints, per measure, what the held-out half (the truth: ~0 or the
floor) and a deliberately broken copy of it score against the exemplar.

false colour (`quality.false_colour_share`): the held-out half, and the held-out half with
its colour channels rotated (R,G,B -> G,B,R: the same structure in colours the photo never
has; grey textures invert their grey instead, which can stay inside the exemplar's range).

structure (`quality.structure_ratio`, and with --deep `deep_structure.deep_ratio`; issue
14): the exemplar scores 1.0 against its held-out half by construction; a 16 px block
shuffle of the exemplar (objects cut up, the pixels' statistics kept) and a Gaussian blur
(sigma 2 px) must score above it, the blur above the shuffle. Both faults are scored
against the held-out half like any output.

patch SWD (`--offsets`): the exemplar itself cropped at every offset of 0-28 px (by 2, in
y, then in x; the crop 28 px smaller) against the held-out half. A real crop of the photo
is the best any output can be, so the worst of these is a floor the SWD bar cannot ask to
beat. On a near-periodic photo the exemplar and its held-out half hold the lattice at the
same place in their frames, and the SWD floor is tiny: moving the lattice in the frame by
half a period costs what a fault does (bricks: 1.82 at a 14 px offset, session 28).

    python benchmarks/calibrate.py [--bench DIR] [--no-structure] [--deep] [--offsets]
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Iterator
from pathlib import Path

import torch
import torch.nn.functional as F

from patchtex import quality
from patchtex.images import load_image

ROOT = Path(__file__).resolve().parents[1]


def bench_pairs(bench: Path) -> Iterator[tuple[str, torch.Tensor, torch.Tensor]]:
    """(name, exemplar, held-out half) of every texture in `bench`, by name."""
    for path in sorted(bench.glob("*.ref.png")):
        name = path.name[: -len(".ref.png")]
        yield name, load_image(bench / f"{name}.png").pixels, load_image(path).pixels


def block_shuffle(image: torch.Tensor, block: int = 16, seed: int = 0) -> torch.Tensor:
    """[1,C,H,W] cut into block x block squares (the ragged edge dropped), in random order."""
    _, c, h, w = image.shape
    rows, cols = h // block, w // block
    tiles = image[..., : rows * block, : cols * block].unfold(2, block, block).unfold(3, block, block)
    tiles = tiles.reshape(1, c, rows * cols, block, block)
    order = torch.randperm(rows * cols, generator=torch.Generator().manual_seed(seed))
    tiles = tiles[:, :, order].reshape(1, c, rows, cols, block, block)
    return tiles.permute(0, 1, 2, 4, 3, 5).reshape(1, c, rows * block, cols * block)


def gaussian_blur(image: torch.Tensor, sigma: float = 2.0) -> torch.Tensor:
    """Separable Gaussian blur with reflected borders: [1,C,H,W] -> same shape."""
    radius = math.ceil(3 * sigma)
    k = torch.exp(-(torch.arange(-radius, radius + 1, dtype=image.dtype) ** 2) / (2 * sigma * sigma))
    k = k / k.sum()
    c = image.shape[1]
    x = F.pad(image, (radius,) * 4, mode="reflect")
    x = F.conv2d(x, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(x, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def structure_table(bench: Path, ratio=quality.structure_ratio, label: str = "structure") -> None:
    print(f"\n{'texture':<14} {label + ': shuffle':>18} {'blur':>6}  exemplar < shuffle < blur")
    ranked = count = 0
    for name, exemplar, held in bench_pairs(bench):
        count += 1
        shuffled = ratio(block_shuffle(exemplar), held, exemplar)
        blurred = ratio(gaussian_blur(exemplar), held, exemplar)
        ok = 1.0 < shuffled < blurred
        ranked += ok
        print(f"{name:<14} {shuffled:18.2f} {blurred:6.2f}  {'yes' if ok else 'NO'}", flush=True)
    print(f"ranked right on {ranked} of {count}")


def offset_table(bench: Path, span: int = 28, step: int = 2) -> None:
    """The patch SWD ratio of the exemplar cropped at each offset (see the docstring)."""
    print(f"\n{'texture':<14} {'SWD: offset 0':>14} {'worst y':>8} {'at':>4} {'worst x':>8} {'at':>4}")
    for name, exemplar, held in bench_pairs(bench):
        floor = quality.patch_swd(exemplar, held)
        h, w = exemplar.shape[-2:]
        along_y = [quality.patch_swd(exemplar[..., d : h - span + d, :], held) / floor for d in range(0, span, step)]
        along_x = [quality.patch_swd(exemplar[..., d : w - span + d], held) / floor for d in range(0, span, step)]
        iy = max(range(len(along_y)), key=along_y.__getitem__)
        ix = max(range(len(along_x)), key=along_x.__getitem__)
        print(
            f"{name:<14} {along_y[0]:14.2f} {along_y[iy]:8.2f} {iy * step:4} {along_x[ix]:8.2f} {ix * step:4}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bench", type=Path, default=ROOT.parent / "shared" / "bench")
    parser.add_argument("--no-structure", action="store_true", help="only the false-colour table")
    parser.add_argument("--deep", action="store_true", help="the VGG-16 measure too (deep_structure.py)")
    parser.add_argument("--offsets", action="store_true", help="only the SWD of the exemplar at offsets in its frame")
    args = parser.parse_args()
    if args.offsets:
        offset_table(args.bench)
        return
    print(f"{'texture':<14} {'false colour: held-out':>22} {'rotated':>8}")
    worst = 0.0
    for name, exemplar, held in bench_pairs(args.bench):
        rotated = held[:, [1, 2, 0]] if held.shape[1] >= 3 else -held
        truth = quality.false_colour_share(held, exemplar)
        worst = max(worst, truth)
        print(f"{name:<14} {truth:22.5f} {quality.false_colour_share(rotated, exemplar):8.3f}")
    print(f"\nworst held-out share {worst:.5f} (the issue's bar for outputs: <= 0.0005)")
    if not args.no_structure:
        structure_table(args.bench)
    if args.deep:
        from deep_structure import deep_ratio

        structure_table(args.bench, deep_ratio, "deep (VGG)")


if __name__ == "__main__":
    main()
