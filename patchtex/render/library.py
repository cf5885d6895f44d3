"""Fit a library of exemplars: one fit per task, on a Dask cluster or one by one.

Each task fits one exemplar into OUT_DIR/STEM.patchtex.safetensors, checkpointing into
that same file (atomically, as `patchtex fit` does). A task that is run again (a retry
after its worker was lost, or the same library fitted again) finds the file: a finished
model is kept as it is, an unfinished fit is resumed from its checkpoint. A bad image
fails its own task with its one-line error; the other fits go on.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..config import TrainConfig


@dataclass(frozen=True)
class FitRow:
    """One exemplar's outcome: name, seconds, result ("fitted", "resumed", "kept" or
    "failed"), the model path, and the one-line error when it failed."""

    name: str
    seconds: float
    result: str
    model: str
    error: str = ""


def model_path_for(exemplar: str | os.PathLike, out_dir: str | os.PathLike) -> Path:
    return Path(out_dir) / f"{Path(exemplar).stem}.patchtex.safetensors"


def fit_one(exemplar: str, out_dir: str, config_json: str) -> FitRow:
    """Task: fit `exemplar` into `out_dir` (resuming a checkpoint found there)."""
    import torch

    from ..api import fit, resume
    from ..checkpoint import ModelFileError, read_header
    from ..images import ImageError

    start = time.perf_counter()
    path = model_path_for(exemplar, out_dir)
    name = Path(exemplar).name
    try:
        result = "fitted"
        if path.exists():
            if "fit_state" not in read_header(path):
                return FitRow(name, 0.0, "kept", str(path))
            model = resume(path, device=torch.device("cpu"))
            result = "resumed"
        else:
            config = TrainConfig.from_json(config_json)
            model = fit(exemplar, config, device=torch.device("cpu"), checkpoint_path=path)
        model.save(path)
        return FitRow(name, time.perf_counter() - start, result, str(path))
    except (ImageError, ModelFileError, ValueError, OSError) as exc:
        return FitRow(name, time.perf_counter() - start, "failed", str(path), str(exc).splitlines()[0])


def fit_many(
    exemplars: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    config: TrainConfig | None = None,
    *,
    client=None,
    retries: int = 2,
    on_done: Callable[[FitRow], None] | None = None,
) -> list[FitRow]:
    """Fit every exemplar into `out_dir`, as tasks on `client` (a `distributed.Client`)
    or one by one in this process. Returns one row per exemplar, in the given order.
    A task whose worker dies is run again (up to `retries` times) and resumes from its
    checkpoint."""
    config = config or TrainConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stems = [Path(e).stem for e in exemplars]
    clash = sorted({s for s in stems if stems.count(s) > 1})
    if clash:
        raise ValueError(f"several exemplars would write the same model ({', '.join(clash)}); rename them")
    text = config.to_json()
    rows: dict[str, FitRow] = {}
    if client is None:
        for exemplar in exemplars:
            row = fit_one(str(exemplar), str(out), text)
            rows[str(exemplar)] = row
            if on_done is not None:
                on_done(row)
    else:
        from distributed import as_completed

        futures = {
            client.submit(fit_one, str(e), str(out), text, pure=False, retries=retries): str(e) for e in exemplars
        }
        for future in as_completed(futures):
            row = future.result()
            rows[futures[future]] = row
            if on_done is not None:
                on_done(row)
    return [rows[str(e)] for e in exemplars]
