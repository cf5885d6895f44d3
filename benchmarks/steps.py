"""Time of one training step at every scale of a bench exemplar, for several batch sizes.

Builds the default pyramid for the exemplar and times `--steps` steps of each scale's
fit (after 3 warm-up steps) from fresh weights, the coarser scales untrained: the work
per step does not depend on what the weights are. Prints one row per batch size.

    python benchmarks/steps.py wicker bark --batches 8 4
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

import patchtex
from patchtex import train as T
from patchtex.config import TrainConfig
from patchtex.images import load_image
from patchtex.noise import find_waves
from patchtex.runtime import use_bf16

BENCH = Path(__file__).resolve().parents[2] / "shared" / "bench"


def step_times(exemplar: torch.Tensor, train: TrainConfig, steps: int) -> list[tuple[int, float]]:
    """[(crop side, seconds per step)] per scale, coarse to fine."""
    config = T.config_for(exemplar, train.coarse_side, find_waves(exemplar), wave_reach=train.wave_reach)
    pyramid = T.Pyramid(config)
    generator = torch.Generator().manual_seed(0)
    T.init_weights(pyramid, generator)
    levels = T.exemplar_pyramid(exemplar, config.num_scales)
    run = T._Run(None, 1e9, None, lambda: 0.0)
    bf16 = use_bf16(train.precision, torch.device("cpu"))
    out = []
    for scale in range(config.num_scales):
        disc = T.scale_critic(config, train, scale).to(memory_format=torch.channels_last)
        pyramid.generators[scale].requires_grad_(True)
        fit = T._ScaleFit(pyramid, disc, scale, levels, None, train, generator, bf16)
        fit.run(0, 3, run, None)
        start = time.perf_counter()
        fit.run(0, steps, run, None)
        out.append((fit.crop, (time.perf_counter() - start) / steps))
        pyramid.generators[scale].requires_grad_(False)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="+")
    parser.add_argument("--bench", type=Path, default=BENCH)
    parser.add_argument("--batches", type=int, nargs="+", default=[8, 4])
    parser.add_argument("--steps", type=int, default=40)
    args = parser.parse_args()
    torch.set_num_threads(2)
    patchtex.reuse_freed_memory()
    print(f"{'texture':14s} batch  per scale, coarse to fine: crop side, ms per step")
    for name in args.names:
        exemplar = load_image(args.bench / f"{name}.png").pixels
        for batch in args.batches:
            times = step_times(exemplar, TrainConfig(batch_size=batch), args.steps)
            cells = "  ".join(f"{crop:3d} px {1000 * s:5.0f}" for crop, s in times)
            print(f"{name:14s} {batch:5d}  {cells}", flush=True)


if __name__ == "__main__":
    main()
