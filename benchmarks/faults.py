"""Fault benchmark: kill `patchtex fit` with SIGINT and SIGKILL at several points, resume
it, and compare the resumed model with an uninterrupted fit.

    python benchmarks/faults.py                 # bench texture 'rust' (about 12 minutes)
    python benchmarks/faults.py --name bricks --kills 40 100

For every kill time: the signal, whether a resumable checkpoint was found, the work lost
(fit seconds done before the kill minus fit seconds recorded in the checkpoint; bar <= 30),
the resumed fit's total seconds, and its quality ratio SWD(sample, held-out) /
SWD(exemplar, held-out) next to the uninterrupted fit's (bar: within noise).
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

import patchtex
from patchtex import quality
from patchtex.checkpoint import read_header

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT.parent / "shared" / "bench"


def ratio(model: patchtex.Model, name: str) -> float:
    ex = patchtex.load_image(BENCH / f"{name}.png").pixels
    ref = patchtex.load_image(BENCH / f"{name}.ref.png").pixels
    height, width = ref.shape[-2:]
    floor = quality.patch_swd(ex, ref)
    return sum(quality.patch_swd(model.synth((width, height), seed=s), ref) for s in (1, 2, 3)) / 3 / floor


def fit_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "patchtex.cli", "fit", "-q", "--device", "cpu", *args]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--name", default="rust")
    parser.add_argument("--kills", type=float, nargs="*", default=[20.0, 75.0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench-out" / "faults")
    args = parser.parse_args()
    torch.set_num_threads(2)
    patchtex.reuse_freed_memory()  # as the CLI does
    args.out.mkdir(parents=True, exist_ok=True)
    exemplar = BENCH / f"{args.name}.png"
    base = args.out / "uninterrupted.safetensors"
    start = time.perf_counter()
    subprocess.run(fit_cmd(str(exemplar), "-o", str(base)), check=True)
    print(
        f"uninterrupted fit: {time.perf_counter() - start:.0f} s, quality ratio {ratio(patchtex.load(base), args.name):.2f}"
    )
    print(
        f"\n{'signal':<8} {'kill at s':>9} {'checkpoint':>10} {'lost s':>6} {'exit':>5} {'resumed total s':>15} {'ratio':>6}"
    )
    for sig in (signal.SIGINT, signal.SIGKILL):
        for kill_at in args.kills:
            path = args.out / f"{sig.name}-{kill_at:.0f}.safetensors"
            path.unlink(missing_ok=True)
            proc = subprocess.Popen(fit_cmd(str(exemplar), "-o", str(path)), stderr=subprocess.PIPE, text=True)
            t0 = time.perf_counter()
            time.sleep(kill_at)
            proc.send_signal(sig)
            _, err = proc.communicate()
            worked = time.perf_counter() - t0
            found, lost = path.exists(), float("nan")
            if found:
                meta = json.loads(read_header(path)["meta"])
                lost = max(0.0, worked - meta["fit_seconds"] - 2.0)  # ~2 s of start-up is not fit work
            subprocess.run(fit_cmd("--resume", str(path)), check=True)
            resumed = patchtex.load(path)
            print(
                f"{sig.name:<8} {kill_at:9.0f} {'yes' if found else 'NO':>10} {lost:6.1f} {proc.returncode:5d}"
                f" {resumed.meta['fit_seconds']:15.0f} {ratio(resumed, args.name):6.2f}",
                flush=True,
            )
            if sig == signal.SIGINT:
                print(f"         message: {err.strip().splitlines()[-1]}")


if __name__ == "__main__":
    main()
