"""Canvas renders to Zarr in one process, on threads, and on a local cluster.

    python benchmarks/cluster.py                       # 16384^2: single, threads, --workers 2
    python benchmarks/cluster.py --size 65536 --modes workers   # 4.3 gigapixels, 2 workers

Each mode runs in a fresh process (the demo model, `auto` precision, chunk 512) and
writes a Zarr store with its pyramid under --out. Prints seconds, megapixels per second
(level 0), the peak RSS of the process that renders (each worker's for a cluster; the
client's beside it), the store's size on disk, and a SHA-256 of level 0's pixels (read
back chunk row by chunk row): identical across modes when every chunk is the same bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_mode(mode: str, size: int, out: Path, chunk: int) -> dict:
    import torch

    import patchtex
    from patchtex.render.cluster import client_for

    patchtex.reuse_freed_memory()
    torch.set_num_threads(2 if mode == "single" else 1)
    model = patchtex.demo()
    path = out / f"{mode}-{size}.zarr"
    shutil.rmtree(path, ignore_errors=True)
    workers = 2 if mode == "workers" else None
    start = time.perf_counter()
    with client_for(workers=workers) as client:
        if client is not None:
            client.run(patchtex.reuse_freed_memory)
        if mode == "threads":
            from patchtex.api import use_bf16
            from patchtex.render import write_zarr

            result = write_zarr(
                model.pyramid,
                path,
                size,
                size,
                chunk=chunk,
                bf16=use_bf16("auto", torch.device("cpu")),
                scheduler="threads",
            )
        else:
            result = model.write_zarr(path, (size, size), chunk=chunk, client=client)
        seconds = time.perf_counter() - start
        worker_rss = list(client.run(_rss_mb).values()) if client is not None else []
    return {
        "mode": mode,
        "seconds": seconds,
        "chunks": result.total,
        "levels": result.levels,
        "rss_mb": _rss_mb(),
        "worker_rss_mb": worker_rss,
        "path": str(path),
    }


def level0_sha(path: str) -> tuple[str, int]:
    import zarr

    array = zarr.open_group(path, mode="r")["0"]
    digest = hashlib.sha256()
    rows = array.chunks[1]
    for y in range(0, array.shape[1], rows):
        digest.update(array[:, y : y + rows, :].tobytes())
    size = sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())
    return digest.hexdigest()[:16], size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=16384)
    parser.add_argument("--chunk", type=int, default=512)
    parser.add_argument("--modes", nargs="*", default=["single", "threads", "workers"])
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "cluster")
    parser.add_argument("--keep", action="store_true", help="keep the stores")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_mode(args.child, args.size, args.out, args.chunk)))
        return
    args.out.mkdir(parents=True, exist_ok=True)
    print(
        f"{'mode':<8}{'size':>7}{'seconds':>9}{'MP/s':>7}{'chunks':>7}{'RSS MB':>8}"
        f"{'worker RSS MB':>16}{'store MB':>9}  level-0 sha256",
        flush=True,
    )
    for mode in args.modes:
        command = [sys.executable, __file__, "--child", mode, "--size", str(args.size), "--chunk", str(args.chunk)]
        command += ["--out", str(args.out)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(f"{mode}: failed\n{done.stderr[-2000:]}", flush=True)
            continue
        row = json.loads(done.stdout.strip().splitlines()[-1])
        sha, size = level0_sha(row["path"])
        workers = ", ".join(f"{r:.0f}" for r in row["worker_rss_mb"]) or "-"
        mp = args.size * args.size / 1e6 / row["seconds"]
        print(
            f"{mode:<8}{args.size:>7}{row['seconds']:9.1f}{mp:7.2f}{row['chunks']:7d}{row['rss_mb']:8.0f}"
            f"{workers:>16}{size / 1e6:9.0f}  {sha}",
            flush=True,
        )
        if not args.keep:
            shutil.rmtree(row["path"], ignore_errors=True)


if __name__ == "__main__":
    main()
