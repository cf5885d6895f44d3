"""Time one training step, per scale, for batch sizes and precisions (the GPU's question:
what does a step cost, and does a larger batch cost more?).

    python benchmarks/step_time.py                                  # CPU, bark
    python benchmarks/step_time.py --device cuda --batch 4 8 16 --precision auto fp32
    python benchmarks/step_time.py --image examples/cobbles.png --steps 200

Each row is one short fit (`--steps` a trained scale) after a warm-up fit; a step's time is
the median interval between the fit's progress callbacks (each callback reads the step's
losses, which waits for the device), so set-up (pyramid, quilt bank, critics) is left out.
`samples/s` is batch x steps a second: on a device bound by kernel launches it grows with
the batch at almost the same step time.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

import patchtex
from patchtex.config import TrainConfig

ROOT = Path(__file__).resolve().parents[1]


def step_times(image: Path, config: TrainConfig, device: str) -> dict[int, float]:
    """Median seconds a step, per trained scale."""
    stamps: dict[int, list[float]] = {}

    def callback(scale: int, step: int, steps: int, losses: dict[str, float]) -> None:
        stamps.setdefault(scale, []).append(time.perf_counter())

    patchtex.fit(image, config, device=device, callback=callback)
    return {
        scale: statistics.median(b - a for a, b in zip(times, times[1:]))
        for scale, times in stamps.items()
        if len(times) > 2
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image", type=Path, default=ROOT.parent / "shared" / "bench" / "bark.png")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, nargs="+", default=[4, 16])
    parser.add_argument("--precision", nargs="+", default=["auto"], choices=["auto", "bf16", "fp32"])
    parser.add_argument("--steps", type=int, default=60, help="steps a trained scale")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warm = TrainConfig(coarse_steps=5, fine_steps=5, fine_budget_scales=1)
    patchtex.fit(args.image, warm, device=args.device)
    print(f"{args.image.name} on {args.device} (torch {torch.__version__})")
    print(f"{'batch':>5} {'precision':>9} {'scale':>5} {'ms/step':>8} {'samples/s':>9}", flush=True)
    for precision in args.precision:
        for batch in args.batch:
            config = TrainConfig(
                coarse_steps=args.steps,
                fine_steps=args.steps,
                fine_budget_scales=1,
                batch_size=batch,
                precision=precision,
            )
            for scale, seconds in step_times(args.image, config, args.device).items():
                print(f"{batch:5d} {precision:>9} {scale:5d} {1000 * seconds:8.1f} {batch / seconds:9.0f}", flush=True)


if __name__ == "__main__":
    main()
