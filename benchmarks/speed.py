"""Synthesis speed: seconds and MP/s for a 2048x2048 output, achieved conv GFLOP/s next to
the measured peak of a plain 3x3 convolution on this machine.

    python benchmarks/speed.py                     # the bundled demo model
    python benchmarks/speed.py --model M.safetensors --size 4096

Rows: library call `model.synth` (bf16 autocast where supported, and float32; with
`patchtex.reuse_freed_memory()`, as the CLI sets it), and the
whole CLI command `patchtex synth --size 2048x2048` (start-up, PNG encoding included).
Bar (issue 2): `synth --size 2048x2048` <= 4 s on CPU.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

import patchtex


def conv_flops(model: patchtex.Model, size: int) -> float:
    """FLOPs of every convolution in one synth of size x size (counted with hooks)."""
    total = 0.0

    def hook(module, inputs, output):
        nonlocal total
        kh, kw = module.kernel_size
        total += (
            2.0
            * module.in_channels
            * module.out_channels
            * kh
            * kw
            * output.shape[-2]
            * output.shape[-1]
            * output.shape[0]
        )

    handles = [m.register_forward_hook(hook) for m in model.pyramid.modules() if isinstance(m, torch.nn.Conv2d)]
    model.synth((size, size), seed=0)
    for h in handles:
        h.remove()
    return total


def conv_peak(bf16: bool) -> float:
    conv = torch.nn.Conv2d(32, 32, 3).to(memory_format=torch.channels_last)
    x = torch.randn(1, 32, 512, 512).to(memory_format=torch.channels_last)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        for _ in range(2):
            conv(x)
        start = time.perf_counter()
        for _ in range(5):
            conv(x)
        seconds = (time.perf_counter() - start) / 5
    return 2 * 9 * 32 * 32 * 510 * 510 / seconds / 1e9


def best_of(fn, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path)
    parser.add_argument("--size", type=int, default=2048)
    args = parser.parse_args()
    torch.set_num_threads(2)
    patchtex.reuse_freed_memory()  # as the CLI does
    model = patchtex.load(args.model) if args.model else patchtex.demo()
    size = args.size
    flops = conv_flops(model, size)
    mp = size * size / 1e6
    print(
        f"model: {args.model or 'bundled demo'} ({model.config.num_scales} scales), output {size}x{size}, "
        f"{flops / 1e9:.0f} GFLOP of convolutions"
    )
    print(f"{'path':<34} {'seconds':>8} {'MP/s':>7} {'GFLOP/s':>8}")
    for label, precision in (("model.synth, bf16 autocast", "auto"), ("model.synth, float32", "fp32")):
        model.precision = precision
        model.synth((256, 256), seed=0)
        seconds = best_of(lambda: model.synth((size, size), seed=1))
        print(f"{label:<34} {seconds:8.2f} {mp / seconds:7.2f} {flops / seconds / 1e9:8.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "patchtex.cli", "synth", "--size", f"{size}x{size}", "-o", f"{tmp}/o.png"]
        if args.model:
            cmd.insert(4, str(args.model))
        seconds = best_of(lambda: subprocess.run(cmd, check=True, capture_output=True))
    print(f"{'CLI patchtex synth (end to end)':<34} {seconds:8.2f} {mp / seconds:7.2f} {'':>8}")
    print(f"{'peak: plain 3x3 conv 32->32, bf16':<34} {'':>8} {'':>7} {conv_peak(True):8.1f}")
    print(f"{'peak: plain 3x3 conv 32->32, fp32':<34} {'':>8} {'':>7} {conv_peak(False):8.1f}")


if __name__ == "__main__":
    main()
