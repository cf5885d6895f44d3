"""Many draws of one texture from fitted models: means, standard errors, paired differences.

`quality.py` scores three draws (seeds 1-3) of each fit, and those three share their quilt
across fit seeds (the quilt is the exemplar's own level; the fit seed only changes the
finer scales), so three fits are three looks at the same three quilts. On lego one draw's
spectral ratio runs 1.56-2.13 and its VGG ratio 1.07-1.65: a change to the quilt moves the
three-draw figures by more than it moves the means (benchmarks/RESULTS, session 42). This
draws seeds 1..N from each models folder and prints, per folder, the mean and standard
error of the spectral, VGG (when its weights are installed) and patch SWD ratios, and for
every folder after the first its paired difference from the first (same draw seeds).

    python benchmarks/draws.py lego bench-out/s41_0 bench-out/f42_0 [--draws 24] [--bench DIR]

A procedural stand-in's exemplar is read from `DIR/NAME-bench/` (as `quality.py` writes it).
About 2.5 s a draw of lego (511 x 256) with the VGG measure on two cores.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

MEASURES = ("spectral", "vgg", "swd")


def score_draws(name: str, folder: Path, draws: int, exemplar: torch.Tensor, held_out: torch.Tensor) -> dict:
    """{measure: [ratio per draw seed 1..draws]} of one folder's model of `name`."""
    from quality import _has_deep, draw_ratios, floors

    import patchtex

    deep = _has_deep()
    if deep:
        from deep_structure import deep_ratio
    floor = floors(exemplar, held_out)
    model = patchtex.load(folder / f"{name}.patchtex.safetensors")
    height, width = held_out.shape[-2:]
    out: dict[str, list[float]] = {m: [] for m in MEASURES}
    for seed in range(1, draws + 1):
        sample = model.synth((width, height), seed=seed)
        ratios = draw_ratios(sample, held_out, floor)
        out["spectral"].append(ratios["spectral"])
        out["vgg"].append(deep_ratio(sample, held_out, exemplar) if deep else float("nan"))
        out["swd"].append(ratios["swd"])
    return out


def mean_se(values: list[float]) -> str:
    if len(values) < 2:
        return f"{values[0]:.3f}" if values else "-"
    return f"{statistics.mean(values):.3f} +- {statistics.stdev(values) / len(values) ** 0.5:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", help="bench texture, e.g. lego")
    parser.add_argument(
        "folders", nargs="+", type=Path, help="models folders (quality.py --out), the first the baseline"
    )
    parser.add_argument("--draws", type=int, default=24)
    parser.add_argument("--bench", type=Path, default=ROOT.parent / "shared" / "bench")
    args = parser.parse_args()
    if args.draws < 2:
        parser.error("--draws must be at least 2 (a standard error needs two)")
    torch.set_num_threads(2)
    from quality import bench_files

    from patchtex.images import load_image

    files = bench_files(args.name, args.bench, tuple(args.folders))
    if files is None:
        parser.error(f"no exemplar {args.name}.png in {args.bench} or a folder's {args.name}-bench/")
    exemplar, held_out = (load_image(f).pixels for f in files)
    scores = [score_draws(args.name, f, args.draws, exemplar, held_out) for f in args.folders]
    print(f"{args.name}, draw seeds 1-{args.draws}: mean +- standard error (paired difference from the first folder)")
    for folder, got in zip(args.folders, scores):
        cells = []
        for m in MEASURES:
            cell = f"{m} {mean_se(got[m])}"
            if folder != args.folders[0]:
                diff = [b - a for a, b in zip(scores[0][m], got[m])]
                cell += f" ({statistics.mean(diff):+.3f} +- {statistics.stdev(diff) / len(diff) ** 0.5:.3f})"
            cells.append(cell)
        print(f"{str(folder):<28} " + "   ".join(cells) + f"   max spectral {max(got['spectral']):.2f}")


if __name__ == "__main__":
    main()
