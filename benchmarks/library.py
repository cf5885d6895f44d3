"""A texture library fit: one by one against a local cluster, from ../shared/bench.

    python benchmarks/library.py                          # all 14 exemplars, --steps 50
    python benchmarks/library.py --steps 0 --only bark rust   # default steps (~3 min a fit)

Runs `patchtex fit EXEMPLAR... --out-dir DIR` twice in fresh processes: one fit after
another in one process (2 torch threads), then `--workers 2` (two worker processes, one
torch thread each). Prints wall seconds for each, the per-fit seconds the summary table
reports, their sum, and the overhead (wall minus the longest chain of fits a worker ran).
Only the exemplars (NAME.png) are read; held-out halves are not touched.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT.parent / "shared" / "bench"


def run(exemplars: list[Path], out: Path, steps: int, workers: int | None) -> tuple[float, dict[str, float]]:
    shutil.rmtree(out, ignore_errors=True)
    command = [sys.executable, "-m", "patchtex.cli", "fit", *map(str, exemplars), "--out-dir", str(out)]
    if steps:
        command += ["--steps", str(steps)]
    if workers:
        command += ["--workers", str(workers)]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"fit failed:\n{done.stderr[-3000:]}")
    seconds = {}
    for line in done.stdout.splitlines():
        match = re.match(r"(\S+)\s+(\d+)\s+(fitted|resumed|kept)", line)
        if match:
            seconds[match.group(1)] = float(match.group(2))
    return wall, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bench", type=Path, default=BENCH)
    parser.add_argument("--only", nargs="*")
    parser.add_argument("--steps", type=int, default=50, help="steps per scale (0 = the defaults)")
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "library")
    parser.add_argument("--modes", nargs="*", default=["one", "workers"], help="one (one by one), workers")
    args = parser.parse_args()
    names = args.only or sorted(p.stem for p in args.bench.glob("*.png") if not p.name.endswith(".ref.png"))
    exemplars = [args.bench / f"{n}.png" for n in names]
    print(f"{len(exemplars)} exemplars, steps {args.steps or 'default'}", flush=True)
    print(f"{'mode':<12}{'wall s':>8}{'sum of fits s':>15}{'median fit s':>14}{'overhead s':>12}", flush=True)
    for label, workers in (("one by one", None), ("--workers 2", 2)):
        if ("workers" if workers else "one") not in args.modes:
            continue
        wall, seconds = run(exemplars, args.out / label.replace(" ", "-"), args.steps, workers)
        total = sum(seconds.values())
        # the longest a worker was busy, packing fits greedily in the given order
        lanes = [0.0] * (workers or 1)
        for name in names:
            lanes[lanes.index(min(lanes))] += seconds.get(f"{name}.png", 0.0)
        overhead = wall - max(lanes)
        print(
            f"{label:<12}{wall:8.1f}{total:15.1f}{statistics.median(seconds.values()):14.1f}{overhead:12.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
