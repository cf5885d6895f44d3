"""Shared fixtures: a 48 px procedural texture and a tiny model fitted in a few steps."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from patchtex.api import Model
from patchtex.config import ModelConfig, TrainConfig
from patchtex.model import MultiCritic, Pyramid
from patchtex.train import _ScaleFit, exemplar_pyramid, fit_pyramid


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist (`-n auto` in pyproject's addopts: one worker process a core) each
    worker computes on one thread, and so do the processes its tests start: two cores run
    two workers without oversubscribing them (the default run took 254 s on 2 cores on one
    process, 155 s on two)."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        os.environ["OMP_NUM_THREADS"] = "1"
        torch.set_num_threads(1)


TINY = ModelConfig(
    image_channels=3,
    num_scales=2,
    channels=(8, 8),
    layers=(3, 3),
    noise_channels=2,
    waves=((0.0, 0.125),),
    wave_scales=((0, 1),),  # the wave feeds both scales, so tileable tests cover its wrap at each
)
TINY_TRAIN = TrainConfig(steps=(3, 3), batch_size=2, crop_size=16, seed=0)


def scale_fits(train: TrainConfig) -> list[_ScaleFit]:
    """The fit of each scale of a fresh `TINY` pyramid on stripes(64, seed=2) under `train`,
    coarse to fine, each with a small critic of its own (for per-scale settings)."""
    pyramid = Pyramid(TINY)
    levels = exemplar_pyramid(stripes(64, seed=2), TINY.num_scales)
    return [
        _ScaleFit(pyramid, MultiCritic(3, 8, 3), scale, levels, None, train, torch.Generator().manual_seed(0), False)
        for scale in range(TINY.num_scales)
    ]


def stripes(size: int = 48, channels: int = 3, seed: int = 0, noise: float = 0.25) -> torch.Tensor:
    """Horizontal stripes (period 8) with coloured noise: [1,C,size,size] in [-1,1]."""
    rng = np.random.default_rng(seed)
    y = np.arange(size)[:, None, None]
    base = 0.6 * np.sin(2 * np.pi * y / 8) * np.ones((size, size, channels))
    grain = rng.normal(0, noise, (size, size, channels))
    img = np.clip(base + grain, -1, 1).astype(np.float32)
    return torch.from_numpy(img).permute(2, 0, 1)[None]


def honeycomb(seed: int, pitch: float = 18.0) -> torch.Tensor:
    """`examples/make_honeycomb.py`'s comb of `pitch` px cells: [1,3,192,256] in [-1,1]."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
    from make_honeycomb import honeycomb as draw

    return torch.from_numpy(draw(pitch=pitch, seed=seed)).permute(2, 0, 1)[None].float() * 2 - 1


@pytest.fixture(scope="session")
def exemplar() -> torch.Tensor:
    return stripes()


@pytest.fixture(scope="session")
def tiny_model(exemplar) -> Model:
    torch.manual_seed(0)  # nothing should depend on it; fits use their own generator
    result = fit_pyramid(exemplar, TINY_TRAIN, device=torch.device("cpu"), model_config=TINY)
    return Model(result.pyramid, {"seed": 0, "fit_seconds": result.seconds}, "cpu")


@pytest.fixture(scope="session")
def model_file(tiny_model, tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "tiny.patchtex.safetensors"
    tiny_model.save(path)
    return path
