"""Fit time against exemplar size, scale by scale (issue 14: real users bring 1-4 megapixel
photos, not 256 px crops).

    python benchmarks/fit_time.py                        # cobbles at 256, 512, 1024 px
    python benchmarks/fit_time.py --sides 256 --image ../shared/bench/lego.png
    python benchmarks/fit_time.py --set fine_steps=300   # an experiment
    python benchmarks/fit_time.py --sides 1024 --aspect 1  # a square photo

The exemplar is `examples/make_cobbles.py` drawn at each short side, `--aspect` times as
wide (the same cell size in pixels, so a larger exemplar holds more cells, as a larger
photo does), or `--image` resized so its short side is each size. It is then prepared as
`patchtex fit` prepares a photo (`api.prepare_exemplar`: downscaled so its long side is at
most `max_side`, 1024 px), so the row is the fit a user gets; the size column is what was
fitted. Until session 18 this script skipped that step and timed a 6-scale fit of
1365x1024 px (215 s) that `patchtex fit` never runs: it fits such a photo at 1024x768, with
5 scales. Each fit runs with default settings in its own process, alone; the row gives
the seconds each scale took (coarse to fine) and the total.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "examples"))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def exemplar(side: int, image: Path | None, aspect: float = 4 / 3):
    """[1,3,side,side*aspect] (cobbles) or the image with its short side resized to `side`."""
    import numpy as np
    import torch
    import torch.nn.functional as F
    from PIL import Image

    if image is None:
        from make_cobbles import cobbles

        width = round(side * aspect)
        pixels = cobbles(size=width, cells=round(40 * (width / 192) ** 2), seed=3)[:side]
        return torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1)[None].float() / 127.5 - 1
    array = np.asarray(Image.open(image).convert("RGB"), dtype=np.float32) / 127.5 - 1
    tensor = torch.from_numpy(array).permute(2, 0, 1)[None]
    h, w = tensor.shape[-2:]
    scale = side / min(h, w)
    size = (round(h * scale), round(w * scale))
    return F.interpolate(tensor, size=size, mode="bilinear", antialias=True, align_corners=False).clamp(-1, 1)


def run_one(side: int, image: Path | None, overrides: list[str], aspect: float, device: str = "cpu") -> dict:
    import torch
    from quality import train_config

    from patchtex.api import prepare_exemplar
    from patchtex.train import fit_pyramid

    torch.set_num_threads(2)
    train = train_config(overrides)
    pixels, _ = prepare_exemplar(exemplar(side, image, aspect), train.max_side)
    marks: dict[int, float] = {}
    start = time.perf_counter()

    def callback(scale: int, step: int, steps: int, losses: dict) -> None:
        marks[scale] = time.perf_counter() - start

    result = fit_pyramid(pixels, train, device=torch.device(device), callback=callback)
    ends = [marks[s] for s in sorted(marks)]
    per_scale = [b - a for a, b in zip([0.0] + ends[:-1], ends)]
    return {
        "side": side,
        "size": list(pixels.shape[-2:]),
        "scales": result.pyramid.config.num_scales,
        "per_scale": per_scale,
        "total": result.seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sides", type=int, nargs="+", default=[256, 512, 1024])
    parser.add_argument("--image", type=Path)
    parser.add_argument("--aspect", type=float, default=4 / 3, help="width / height of the drawn cobbles")
    parser.add_argument("--set", nargs="+", action="extend", default=[], metavar="KEY=VALUE")
    parser.add_argument("--device", default="cpu", help="where the fits run (cpu, cuda)")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.aspect < 1:  # cobbles are drawn as a square `side * aspect` wide and cut to `side` rows
        parser.error("--aspect must be at least 1 (width / height; for a tall photo use --image)")
    if args.one:
        print(json.dumps(run_one(args.one, args.image, args.set, args.aspect, args.device)))
        return
    print(f"{'short side':>10} {'fitted':>10} {'scales':>6} {'seconds per scale (coarse -> fine)':<40} {'total s':>7}")
    for side in args.sides:
        cmd = [sys.executable, __file__, "--one", str(side), "--device", args.device]
        cmd += ["--image", str(args.image)] if args.image else ["--aspect", str(args.aspect)]
        cmd += ["--set", *args.set] if args.set else []
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:  # show why (the child's traceback), not only that it failed
            raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-4000:]}")
        row = json.loads(done.stdout.strip().splitlines()[-1])
        per = " ".join(f"{s:.0f}" for s in row["per_scale"])
        size = "x".join(str(n) for n in reversed(row["size"]))
        print(f"{side:>10} {size:>10} {row['scales']:>6} {per:<40} {row['total']:7.0f}", flush=True)


if __name__ == "__main__":
    main()
