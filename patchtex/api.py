"""The Python API: `fit`, `load`, `demo` and the `Model` they return.

>>> import patchtex
>>> model = patchtex.fit("brick.jpg")                 # minutes on a laptop CPU
>>> image = model.synth((2048, 1024), seed=7)          # [1,C,H,W] float32 in [-1,1]
>>> patchtex.save_image(image, "wall.png")
>>> model.save("brick.patchtex.safetensors")
>>> model = patchtex.load("brick.patchtex.safetensors")
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from .checkpoint import load_fit, load_model, save_model
from .config import TrainConfig
from .images import load_image, output_format, save_image
from .model import Pyramid
from .refine import refine_image
from .sample import (
    KeyedSource,
    calm_offsets,
    exact_scale,
    iter_rolled,
    iter_window,
    synth_tileable,
    synth_window,
    tileable_periods,
)
from .streaming import STREAMING_FORMATS, write_streaming
from .train import Callback, FitState, fit_pyramid, use_bf16

MIN_EXEMPLAR = 32  # shortest side a fit accepts, in pixels
DEMO_MODEL = "demo.patchtex.safetensors"


class Model:
    """A fitted texture: the generator pyramid plus what is known about its fit."""

    def __init__(self, pyramid: Pyramid, meta: dict[str, Any], device: torch.device | str = "cpu"):
        self.pyramid = pyramid
        self.meta = meta
        self.device = torch.device(device)
        self.precision = "auto"

    @property
    def config(self):
        return self.pyramid.config

    def to(self, device: torch.device | str) -> Model:
        self.device = torch.device(device)
        self.pyramid = self.pyramid.to(self.device)
        return self

    def _bf16(self) -> bool:
        return use_bf16(self.precision, self.device)

    def synth(self, size: tuple[int, int], seed: int = 0, *, tileable: bool = False) -> torch.Tensor:
        """A (width, height) texture: [1,C,height,width] float32 in [-1,1].

        The same seed gives the same pixels on the same device; the output is the window
        (0, 0, width, height) of the seed's endless plane. `tileable=True` makes it wrap
        seamlessly instead."""
        width, height = check_size(size)
        if tileable:
            return synth_tileable(self.pyramid, (width, height), seed, device=self.device, bf16=self._bf16())
        return self.synth_window(0, 0, width, height, seed=seed)

    def synth_window(self, x: int, y: int, width: int, height: int, seed: int = 0) -> torch.Tensor:
        """Window (x, y, width, height) of the seed's endless plane: [1,C,height,width]."""
        width, height = check_size((width, height))
        return synth_window(self.pyramid, (x, y, width, height), seed, device=self.device, bf16=self._bf16())

    def streams(self, path: str | os.PathLike, size: tuple[int, int], *, tileable: bool = False) -> bool:
        """Whether `synth_to_file` writes `path` band by band (bounded memory) rather than
        building the image in memory: PNG and TIFF do, except tileable outputs whose size
        the coarse grids do not divide (their coarse image is resampled as a whole)."""
        width, height = size
        return output_format(path) in STREAMING_FORMATS and (
            not tileable or exact_scale(self.pyramid, width, height) == 0
        )

    def synth_to_file(
        self,
        path: str | os.PathLike,
        size: tuple[int, int],
        seed: int = 0,
        *,
        window: tuple[int, int] | None = None,
        tileable: bool = False,
        bits: int = 8,
        quality: int = 95,
    ) -> Path:
        """Render straight to an image file. PNG and TIFF outputs are encoded band by band
        as they are rendered (bounded memory at any size); other formats are built in
        memory. `window=(x, y)` renders the window at (x, y) of that size."""
        width, height = check_size(size)
        if window is not None and tileable:
            raise ValueError("a tileable output is a whole period, not a window; drop one of them")
        x, y = window or (0, 0)
        if self.streams(path, (width, height), tileable=tileable):
            periods = tileable_periods(self.pyramid, width, height) if tileable else None
            source = KeyedSource(self.pyramid, seed, self.device, periods=periods)
            bands = (
                band.clamp_(-1, 1) for _, band in iter_window(self.pyramid, (x, y, width, height), source, self._bf16())
            )
            if tileable:  # one pass to place the wrap edges (as `synth` does), one to write
                offsets = calm_offsets(bands)
                bands = iter_rolled(self.pyramid, (width, height), offsets, source, self._bf16())
            return write_streaming(path, width, height, self.config.image_channels, bands, bits)
        if tileable:
            image = self.synth((width, height), seed, tileable=True)
        else:
            image = self.synth_window(x, y, width, height, seed)
        return save_image(image, path, bits=bits, quality=quality)

    def refine(
        self,
        image: torch.Tensor,
        mask: torch.Tensor | None = None,
        strength: float = 0.5,
        upscale: int = 1,
        seed: int = 0,
    ) -> torch.Tensor:
        """Repair or improve `image` ([1,C,H,W] in [-1,1]) with this model.

        mask: [1,1,H,W], 1 = damaged; only those pixels change (filled coarse to fine) and
        every other pixel is returned unchanged. Without a mask, strength in [0,1] says
        how coarse a scale is regenerated (higher = more change). upscale 2 or 4 returns a
        larger image with new fine detail whose downsampled version matches the input.
        Returns [1,C,H*upscale,W*upscale] float32 in [-1,1]."""
        if mask is not None:
            if mask.shape[-2:] != image.shape[-2:]:
                raise ValueError(
                    f"mask is {mask.shape[-1]}x{mask.shape[-2]} but the image is {image.shape[-1]}x{image.shape[-2]}"
                )
            mask = (mask[:, :1] > 0.5).float()
            if upscale != 1:
                raise ValueError("--mask and --upscale cannot be combined; repair first, then upscale")
        return refine_image(
            self.pyramid,
            image,
            mask,
            strength=strength,
            upscale=upscale,
            seed=seed,
            device=self.device,
            bf16=self._bf16(),
        )

    def save(self, path: str | os.PathLike) -> Path:
        """Write the model file (safetensors + JSON metadata), atomically."""
        return save_model(self.pyramid, self.meta, path)


def check_size(size: tuple[int, int]) -> tuple[int, int]:
    width, height = (int(v) for v in size)
    if width < 1 or height < 1:
        raise ValueError(f"size must be positive, got {width}x{height}")
    return width, height


def prepare_exemplar(pixels: torch.Tensor, max_side: int) -> tuple[torch.Tensor, list[str]]:
    """Check the exemplar's size and downscale it to `max_side` if larger."""
    notes = []
    height, width = pixels.shape[-2:]
    if min(height, width) < MIN_EXEMPLAR:
        raise ValueError(f"exemplar is {width}x{height}; patchtex needs at least {MIN_EXEMPLAR} px on each side")
    if max(height, width) > max_side:
        scale = max_side / max(height, width)
        new = (max(MIN_EXEMPLAR, round(height * scale)), max(MIN_EXEMPLAR, round(width * scale)))
        pixels = F.interpolate(pixels, size=new, mode="bicubic", antialias=True, align_corners=False).clamp(-1, 1)
        notes.append(f"exemplar downscaled from {width}x{height} to {new[1]}x{new[0]} (limit {max_side} px)")
    return pixels, notes


def fit(
    exemplar: str | os.PathLike | torch.Tensor,
    config: TrainConfig | None = None,
    *,
    seed: int | None = None,
    device: torch.device | str = "cpu",
    callback: Callback | None = None,
    valid: torch.Tensor | None = None,
    checkpoint_path: str | os.PathLike | None = None,
    stop: Callable[[], bool] | None = None,
    name: str | None = None,
) -> Model:
    """Fit a model to one exemplar (a path, or a [1,C,H,W] tensor in [-1,1]; `name`
    records where a tensor came from).

    valid: optional [1,1,H,W] mask of undamaged pixels (1) to take real crops from.
    checkpoint_path: write the unfinished fit there every 30 s of work and at every scale
    (resume it with `patchtex.resume`). stop: polled between steps; returning True
    checkpoints and raises `FitInterrupted`."""
    config = config or TrainConfig()
    if seed is not None:
        config = replace(config, seed=seed)
    notes: list[str] = []
    if isinstance(exemplar, torch.Tensor):
        pixels, name = exemplar.float(), name or "<tensor>"
    else:
        loaded = load_image(exemplar)
        pixels, notes, name = loaded.pixels, loaded.notes, Path(exemplar).name
    original = tuple(pixels.shape[-2:])
    pixels, more = prepare_exemplar(pixels, config.max_side)
    notes += more
    if valid is not None and tuple(pixels.shape[-2:]) != original:
        valid = (F.interpolate(valid.float(), size=pixels.shape[-2:], mode="bilinear") > 0.999).float()
    meta = _fit_meta(name, original, pixels, config, device, notes)
    result = fit_pyramid(
        pixels,
        config,
        device=torch.device(device),
        callback=callback,
        valid=valid,
        checkpoint=_checkpointer(checkpoint_path, meta, pixels),
        stop=stop,
    )
    return _finished(result, meta, device)


def resume(
    path: str | os.PathLike,
    *,
    device: torch.device | str = "cpu",
    callback: Callback | None = None,
    stop: Callable[[], bool] | None = None,
) -> Model:
    """Continue an unfinished fit saved at `path` (checkpointing to the same file)."""
    pyramid, meta, state, pixels = load_fit(path, "cpu")
    config = TrainConfig.from_json(meta["train_config"])
    result = fit_pyramid(
        pixels,
        config,
        device=torch.device(device),
        callback=callback,
        checkpoint=_checkpointer(path, meta, pixels),
        stop=stop,
        resume=(pyramid, state),
    )
    return _finished(result, meta, device)


def _checkpointer(path, meta: dict[str, Any], pixels: torch.Tensor):
    if path is None:
        return None

    def checkpoint(pyramid: Pyramid, state: FitState) -> None:
        save_model(pyramid, {**meta, "fit_seconds": round(state.seconds, 2)}, path, state, pixels)

    return checkpoint


def _finished(result, meta: dict[str, Any], device) -> Model:
    meta = {**meta, "fit_seconds": round(result.seconds, 2), "losses": result.losses}
    return Model(result.pyramid, meta, device)


def _fit_meta(name, original, pixels, config: TrainConfig, device, notes) -> dict[str, Any]:
    return {
        "exemplar": {
            "name": name,
            "width": int(original[1]),
            "height": int(original[0]),
            "fitted_width": int(pixels.shape[-1]),
            "fitted_height": int(pixels.shape[-2]),
            "channels": int(pixels.shape[1]),
            "sha256": hashlib.sha256(pixels.numpy().tobytes()).hexdigest(),
        },
        "seed": config.seed,
        "device": str(device),
        "train_config": config.to_json(),
        "notes": notes,
    }


def load(path: str | os.PathLike, device: torch.device | str = "cpu") -> Model:
    """Load a model file written by `Model.save` / `patchtex fit`."""
    pyramid, meta = load_model(path, device)
    return Model(pyramid, meta, device)


def demo_model_path() -> Path:
    return Path(str(resources.files("patchtex") / "data" / DEMO_MODEL))


def demo(device: torch.device | str = "cpu") -> Model:
    """The bundled demo model (fitted on examples/cobbles.png by `patchtex fit`)."""
    return load(demo_model_path(), device)
