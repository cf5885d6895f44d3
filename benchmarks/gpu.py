"""The GPU path, checked and timed in one short run (for a machine lent for minutes).

    python benchmarks/gpu.py                          # the bundled demo model on cuda
    python benchmarks/gpu.py --model M.safetensors    # a fitted model too
    python benchmarks/gpu.py --device cpu             # the same checks here (no timings worth keeping)

Checks, each printed as a row with the figure it rests on:
- the same seed gives the same pixels twice on the device;
- a window (`synth_window`) equals the same region of a larger render;
- a tileable output wraps: `quality.seam_ratio` of it against a plain output;
- float32 on the device against float32 on the CPU (mean and max absolute difference in
  [0,1] units): the same model and seed draw the same texture, not bit-equal pixels;
- `refine` with a mask on the device: pixels outside the mask are byte-equal to the input.
Timings: `model.synth` at 2048, 4096 and 8192 px (bf16 autocast and float32, best of 3,
synchronised), peak device memory per size.
Fit time on the GPU: `fit_time.py --device cuda` and `quality.py --device cuda --fit-only`.
"""

from __future__ import annotations

import argparse
import copy
import time
from pathlib import Path

import torch

import patchtex
from patchtex import quality


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def best_of(fn, device: torch.device, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return min(times)


def row(label: str, value: str, ok: bool | None = None) -> None:
    verdict = "" if ok is None else ("ok" if ok else "FAILED")
    print(f"{label:<52} {value:<34} {verdict}", flush=True)


def checks(model: patchtex.Model, device: torch.device) -> None:
    a = model.synth((512, 384), seed=3)
    b = model.synth((512, 384), seed=3)
    row("same seed twice: max |difference|", f"{(a - b).abs().max().item():.3g}", torch.equal(a, b))
    whole = model.synth((640, 480), seed=3)
    window = model.synth_window(130, 70, 300, 200, seed=3)
    diff = (window - whole[..., 70:270, 130:430]).abs().max().item()
    row("window (130,70,300,200) vs crop of a 640x480", f"max |difference| {diff:.3g}", diff == 0)
    tiled = quality.seam_ratio(model.synth((384, 384), seed=4, tileable=True))
    plain = quality.seam_ratio(model.synth((384, 384), seed=4))
    row("tileable seam ratio (plain output)", f"{tiled:.2f} ({plain:.2f})", tiled < 1.2)
    precision = model.precision
    model.precision = "fp32"
    here = model.synth((512, 512), seed=5)
    cpu = copy.deepcopy(model).to("cpu")  # its own pyramid, on the CPU
    there = cpu.synth((512, 512), seed=5).to(here.device)
    d = ((here - there).abs() / 2).flatten()
    row("fp32 device vs fp32 CPU, |difference| mean / max", f"{d.mean().item():.2g} / {d.max().item():.2g}")
    model.precision = precision
    image = model.synth((256, 256), seed=6)
    mask = torch.zeros(1, 1, 256, 256)
    mask[..., 96:160, 80:176] = 1
    image = image.cpu()
    fixed = model.refine(image, mask=mask, seed=1).cpu()
    outside = mask[0, 0] == 0
    same = torch.equal(fixed[..., outside], image[..., outside])
    changed = (fixed != image)[..., ~outside].float().mean().item()
    row("refine with a mask: outside unchanged", f"share changed inside {changed:.2f}", same and changed > 0.5)


def timings(model: patchtex.Model, device: torch.device, sizes: list[int]) -> None:
    print(f"\n{'size':>6} {'precision':>9} {'seconds':>8} {'MP/s':>7} {'peak GiB':>8}", flush=True)
    for size in sizes:
        for precision in ("auto", "fp32"):
            model.precision = precision
            model.synth((256, 256), seed=0)
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            seconds = best_of(lambda size=size: model.synth((size, size), seed=1), device)
            peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else float("nan")
            print(f"{size:6d} {precision:>9} {seconds:8.3f} {size * size / 1e6 / seconds:7.1f} {peak:8.2f}", flush=True)
    model.precision = "auto"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--model", type=Path, action="append", default=[], help="a fitted model (repeatable)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[2048, 4096, 8192])
    parser.add_argument("--no-checks", action="store_true")
    args = parser.parse_args()
    device = torch.device(args.device)
    patchtex.reuse_freed_memory()
    line = f"torch {torch.__version__}"
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        line += f", {props.name}, {props.total_memory / 2**30:.0f} GiB, bf16 {torch.cuda.is_bf16_supported()}"
    print(line, flush=True)
    for path in [None, *args.model]:
        model = patchtex.load(path, device=device) if path else patchtex.demo(device=device)
        print(f"\nmodel: {path or 'bundled demo'} ({model.config.num_scales} scales)", flush=True)
        if not args.no_checks:
            checks(model, device)
        timings(model, device, args.sizes)


if __name__ == "__main__":
    main()
