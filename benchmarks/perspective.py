"""Perspective benchmark: which exemplars a fit sees at an angle, and what taking it out does.

    python benchmarks/perspective.py                         # every bench exemplar at 1x, 2x, 3x
    python benchmarks/perspective.py --models bench-out/p44_0 bench-out/f43_0   # + square-on scores

Prints, per exemplar and scale (bicubic upscaling, then downscaled to `--max-side` as `fit`
does): each wave's spread of its window readings before and after the best homography
(`perspective.wave_spread`), whether a fit rectifies it, the vanishing parameters c, the
period range read, and the seconds the read took (waves included). Procedural stand-ins
are read from `DIR/NAME-bench/` of the `--models` folders (as quality.py writes them).

With `--models`, the brick_gray rows of patch SWD and spectral ratio of seed 1-3 draws from
each folder's model against the held-out half as photographed (as quality.py scores) and
against the held-out half seen square on (its own perspective taken out), beside the
exemplar seen square on itself: the held-out half is in perspective, so a square-on
output is measured against another geometry there.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))

from quality import DEFAULT_BENCH, bench_files, draw_ratios, floors  # noqa: E402

import patchtex  # noqa: E402
from patchtex.api import prepare_exemplar, rectify_exemplar  # noqa: E402
from patchtex.noise import find_waves  # noqa: E402
from patchtex.perspective import RESIDUAL, SPREAD_MIN, pick_perspective, wave_fits  # noqa: E402

LATTICES = ("brick_gray", "bricks", "lego", "parquet", "wicker", "knots", "bark", "diamond_plate", "honeycomb")


def read_row(name: str, image: torch.Tensor, scale: float) -> str:
    if scale != 1:
        image = F.interpolate(image, scale_factor=scale, mode="bicubic", antialias=True, align_corners=False)
    image, _ = prepare_exemplar(image.clamp(-1, 1), 1024)
    start = time.perf_counter()
    waves = find_waves(image)
    fits = wave_fits(image, waves) if waves else []
    found = pick_perspective(fits, (image.shape[-1], image.shape[-2]))  # as find_perspective decides
    seconds = time.perf_counter() - start
    cells = [f"{fit.spread:.4f}->{fit.residual:.4f}" for fit in fits]
    spreads = "  ".join(cells) if cells else "no lattice"
    if found is None:
        verdict = "-"
    else:
        verdict = f"yes c=({found.c[0]:+.6f},{found.c[1]:+.6f}) {found.periods[0]:.0f}-{found.periods[1]:.0f} px"
    size = f"{image.shape[-1]}x{image.shape[-2]}"
    return f"{name:<14} {scale:>4.1f}x {size:>10} {seconds:5.1f} s  {spreads:<34} {verdict}"


def square_on_rows(bench: Path, folders: list[Path]) -> None:
    files = bench_files("brick_gray", bench)
    if files is None:
        print(f"(no brick_gray in {bench})")
        return
    ex, ref = (patchtex.load_image(f).pixels for f in files)
    ex_square, _ = rectify_exemplar(ex)
    ref_square, _ = rectify_exemplar(ref)
    photo, square = floors(ex, ref), floors(ex_square, ref_square)
    print("\nbrick_gray, seeds 1-3 (median): vs held-out as photographed | vs held-out seen square on")
    truth = draw_ratios(ex_square, ref, photo)
    print(f"{'exemplar square on':<28} SWD {truth['swd']:.2f} spectral {truth['spectral']:.2f} |")
    for folder in (f for f in folders if (f / "brick_gray.patchtex.safetensors").exists()):
        model = patchtex.load(folder / "brick_gray.patchtex.safetensors")
        as_photo, as_square = [], []
        for seed in (1, 2, 3):
            as_photo.append(draw_ratios(model.synth((ref.shape[-1], ref.shape[-2]), seed=seed), ref, photo))
            size = (ref_square.shape[-1], ref_square.shape[-2])
            as_square.append(draw_ratios(model.synth(size, seed=seed), ref_square, square))
        med = lambda rows, key: float(np.median([r[key] for r in rows]))  # noqa: E731
        print(
            f"{str(folder):<28} SWD {med(as_photo, 'swd'):.2f} spectral {med(as_photo, 'spectral'):.2f} | "
            f"SWD {med(as_square, 'swd'):.2f} spectral {med(as_square, 'spectral'):.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bench", type=Path, default=DEFAULT_BENCH)
    parser.add_argument("--models", type=Path, nargs="*", default=[], help="folders with brick_gray models to score")
    parser.add_argument("--scales", type=float, nargs="*", default=[1.0, 2.0, 3.0])
    args = parser.parse_args()
    torch.set_num_threads(2)
    print(f"rectified where a wave's spread >= {SPREAD_MIN} and the best homography leaves <= {RESIDUAL} of it")
    print(
        f"{'exemplar':<14} {'scale':>5} {'fitted':>10} {'read':>7}  {'spread per wave, flat -> best G':<34} rectified"
    )
    for name in LATTICES:
        files = bench_files(name, args.bench, tuple(args.models))
        if files is None:
            print(f"{name:<14} (no exemplar; the procedural ones are in a quality.py --out folder's NAME-bench/)")
            continue
        image = patchtex.load_image(files[0]).pixels
        for scale in args.scales:
            print(read_row(name, image, scale), flush=True)
    if args.models:
        square_on_rows(args.bench, args.models)


if __name__ == "__main__":
    main()
