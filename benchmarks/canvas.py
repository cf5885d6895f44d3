"""Endless-canvas benchmark: exact stitching, tileable seams, memory and speed at size.

    python benchmarks/canvas.py --model M.safetensors       # default: the bundled demo model
    python benchmarks/canvas.py --sizes 4096 8192 16384     # the default sizes
    python benchmarks/canvas.py --sizes --seams             # only the tileable outputs of bench models
    python benchmarks/canvas.py --sizes --seams --models bench-out/edge_s0   # another models folder
    python benchmarks/canvas.py --sizes --seams --tile-sizes 1   # one tile size a model (sessions <= 42)

Prints: max |difference| between a 2048x2048 whole render and the same area stitched
from 7 odd-sized windows (must be 0 in uint8); for each size, seconds, MP/s and peak RSS
of `patchtex synth --size NxN -o out.png` in a fresh process (streamed PNG); seam ratio of
tileable outputs of bench models (`--models`, default bench-out/quality, with --seams).
Bars (issue 3): stitch difference 0; peak RSS <= 1.5 GB at 16384^2; 16384^2 time <= 12x the
4096^2 time; seam ratio <= 1.10.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

import patchtex
from patchtex import quality
from patchtex.images import to_uint8

ROOT = Path(__file__).resolve().parent.parent


def stitch_difference(model: patchtex.Model, size: int = 2048) -> tuple[int, float]:
    whole = model.synth((size, size), seed=7)
    # 7 odd-sized windows covering the image, rendered out of order
    stitched = torch.full_like(whole, float("nan"))
    windows = [(0, 0, 333, 999), (333, 0, 668, 999), (1001, 0, size - 1001, 999)]
    windows += [(0, 999, 1111, size - 999), (1111, 999, 406, 777), (1517, 999, size - 1517, 777)]
    windows += [(1111, 1776, size - 1111, size - 1776)]
    for x, y, w, h in reversed(windows):
        stitched[..., y : y + h, x : x + w] = model.synth_window(x, y, w, h, seed=7)
    assert not torch.isnan(stitched).any(), "windows do not cover the image"
    diff_u8 = int(np.abs(to_uint8(stitched).astype(int) - to_uint8(whole).astype(int)).max())
    return diff_u8, float((stitched - whole).abs().max())


def timed_cli(model: Path | None, size: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [
            "/usr/bin/time",
            "-v",
            sys.executable,
            "-m",
            "patchtex.cli",
            "synth",
            "--size",
            f"{size}x{size}",
            "-o",
            f"{tmp}/o.png",
        ]
        if model:
            cmd.insert(6, str(model))
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr).group(1))
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", done.stderr).group(1)
    parts = [float(p) for p in wall.split(":")]
    seconds = parts[-1] + 60 * parts[-2] + (3600 * parts[-3] if len(parts) > 2 else 0)
    return seconds, rss_kb / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path)
    parser.add_argument("--sizes", type=int, nargs="*", default=[4096, 8192, 16384])
    parser.add_argument(
        "--seams", action="store_true", help="seam ratios and quality of tileable outputs of bench models"
    )
    parser.add_argument("--models", type=Path, default=ROOT / "bench-out" / "quality", help="folder of bench models")
    parser.add_argument(
        "--tile-sizes", type=int, default=4, help="tileable sizes per model (the seeds take turns; 1 until session 43)"
    )
    args = parser.parse_args()
    torch.set_num_threads(2)
    patchtex.reuse_freed_memory()  # as the CLI does
    model = patchtex.load(args.model) if args.model else patchtex.demo()
    diff_u8, diff_f = stitch_difference(model)
    print(f"stitched 7 windows vs whole 2048x2048: max |diff| uint8 {diff_u8}, float {diff_f:.2e}")
    if args.sizes:
        print(f"\n{'size':>7} {'seconds':>8} {'MP/s':>6} {'peak RSS MB':>11}")
    times = {}
    for size in args.sizes:
        seconds, rss = timed_cli(args.model, size)
        times[size] = seconds
        print(f"{size:>7} {seconds:8.1f} {size * size / 1e6 / seconds:6.2f} {rss:11.0f}", flush=True)
    if 4096 in times and 16384 in times:
        print(f"16384^2 / 4096^2 time: {times[16384] / times[4096]:.1f}x (bar <= 12x)")
    models = sorted(args.models.glob("*.patchtex.safetensors")) if args.seams else []
    if models:
        print(
            f"\n{'model':<14} {'seam tileable':>13} {'seam plain':>10}"
            f" {'SWD tileable/plain':>18} {'+-':>5} {'as framed':>9} {'SWD tile':>8} {'plain':>8}   (means of 8 seeds)"
        )
    for path in models:
        print(seam_row(path, sizes=args.tile_sizes), flush=True)


def tile_sizes(width: int, height: int, count: int) -> list[tuple[int, int]]:
    """`count` tileable sizes for an exemplar of `width` x `height`: about twice its size
    and a size the coarse grids do not divide, then 13 %, 26 %, ... larger. A lattice is
    rounded to whole cycles a period, and at one size that rounding moved a lattice's
    ratio by up to 0.3 (lego's 533 px rows hold 5 courses of one lattice and 6 of another:
    benchmarks/RESULTS, session 42)."""
    base = (2 * width + 37, 2 * height + 21)
    return [(round(base[0] * (1 + 0.13 * j)), round(base[1] * (1 + 0.13 * j))) for j in range(count)]


def seam_row(path: Path, seeds: int = 8, views: int = 2, sizes: int = 4) -> str:
    """Seams and quality of tileable outputs of one bench model, at about twice the
    exemplar's size (patch SWD of single exemplar-sized outputs varies by +-10% from seed
    to seed) and a size the coarse grids do not divide (so their resampling is exercised);
    seed s at the ((s - 1) mod `sizes`)-th of `tile_sizes` (until session 43 one size:
    `--tile-sizes 1`).

    seam tileable: the output as written (its edges are placed on its calmest column and
    row, so this is below 1; that the plane wraps exactly is tested in tests/).
    SWD tileable/plain: patch SWD to the exemplar of `views` random cyclic shifts of the
    tileable output over that of plain windows of the plane at the same offsets. Framing
    matters to patch SWD at this size: on bricks, windows that start mid-course score up
    to 30% worse whether tileable or not, and the calm edges start there. Every cyclic
    shift of a periodic output is the same tiling, so the shifts measure the texture and
    not the framing. +-: that ratio's standard error over the seeds (a texture of few large
    elements, such as knots, varies by 2x from window to window; 4 seeds of 4 views moved
    lego's ratio by 0.2 between two runs of the same models). as framed: the output as
    written over the plain window at (0, 0). SWD tile, plain: the mean patch SWD of the
    shifted tileable outputs and of the plain windows, which the ratio divides."""
    name = path.name.split(".")[0]
    m = patchtex.load(path)
    w, h = m.meta["exemplar"]["fitted_width"], m.meta["exemplar"]["fitted_height"]
    shapes = tile_sizes(w, h, sizes)
    from quality import bench_files  # benchmarks/quality.py (not patchtex.quality)

    # a bench exemplar, or a procedural stand-in's, which quality.py writes beside its models
    files = bench_files(name, folders=(path.parent,))
    if files is None:
        return f"{name:<14} (no exemplar: in the bench or {path.parent / (name + '-bench')})"
    ex = patchtex.load_image(files[0]).pixels
    rng = np.random.default_rng(0)
    seams, plains, framed, tiled_swd, plain_swd = [], [], [], [], []
    for seed in range(1, seeds + 1):
        size = shapes[(seed - 1) % len(shapes)]
        tile = m.synth(size, seed=seed, tileable=True)
        plain = m.synth(size, seed=seed)
        seams.append(quality.seam_ratio(tile))
        plains.append(quality.seam_ratio(plain))
        framed.append(quality.patch_swd(tile, ex) / quality.patch_swd(plain, ex))
        swd_t, swd_p = [], []
        for _ in range(views):
            dx, dy = int(rng.integers(size[0])), int(rng.integers(size[1]))
            view = tile.roll((-dy, -dx), dims=(2, 3))
            swd_t.append(quality.patch_swd(view, ex))
            swd_p.append(quality.patch_swd(m.synth_window(dx, dy, *size, seed=seed), ex))
        tiled_swd.append(np.mean(swd_t))
        plain_swd.append(np.mean(swd_p))
    ratios = np.array(tiled_swd) / np.array(plain_swd)  # per seed
    error = np.std(ratios) / np.sqrt(len(ratios))
    row = f"{name:<14} {np.mean(seams):13.2f} {np.mean(plains):10.2f} {np.mean(ratios):18.2f} {error:5.2f}"
    return f"{row} {np.mean(framed):9.2f} {np.mean(tiled_swd):8.2f} {np.mean(plain_swd):8.2f}"


if __name__ == "__main__":
    main()
