"""Calibration of the quality measures: what the truth scores, and what a known fault does.

A measure is trusted only after it ranks known cases right. For every texture in
`../shared/bench` this prints, per measure, what the held-out half (the truth: ~0 or the
floor) and a deliberately broken copy of it score against the exemplar.

false colour (`quality.false_colour_share`): the held-out half, and the held-out half with
its colour channels rotated (R,G,B -> G,B,R: the same structure in colours the photo never
has; grey textures invert their grey instead, which can stay inside the exemplar's range).

    python benchmarks/calibrate.py [--bench DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from patchtex import quality
from patchtex.images import load_image

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bench", type=Path, default=ROOT.parent / "shared" / "bench")
    args = parser.parse_args()
    print(f"{'texture':<14} {'false colour: held-out':>22} {'rotated':>8}")
    worst = 0.0
    for path in sorted(args.bench.glob("*.ref.png")):
        name = path.name[: -len(".ref.png")]
        exemplar = load_image(args.bench / f"{name}.png").pixels
        held = load_image(path).pixels
        rotated = held[:, [1, 2, 0]] if held.shape[1] >= 3 else -held
        truth = quality.false_colour_share(held, exemplar)
        worst = max(worst, truth)
        print(f"{name:<14} {truth:22.5f} {quality.false_colour_share(rotated, exemplar):8.3f}")
    print(f"\nworst held-out share {worst:.5f} (the issue's bar for outputs: <= 0.0005)")


if __name__ == "__main__":
    main()
