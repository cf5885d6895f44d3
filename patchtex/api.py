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

from .canvas import Canvas, check_size
from .checkpoint import load_fit, load_model, save_model
from .config import MIN_EXEMPLAR, TrainConfig
from .images import load_image, output_format, save_image
from .model import Pyramid
from .noise import find_waves
from .perspective import find_perspective, rectify
from .refine import read_damage, refine_image
from .runtime import check_precision, use_bf16
from .streaming import STREAMING_FORMATS, write_streaming
from .train import Callback, FitState, fit_pyramid

DEMO_MODEL = "demo.patchtex.safetensors"


class Model:
    """A fitted texture: the generator pyramid plus what is known about its fit.

    precision: how it renders, "auto" (bfloat16 where the device runs it natively),
    "bf16" or "fp32" (the same pixels on every CPU); see `patchtex.runtime`."""

    def __init__(
        self, pyramid: Pyramid, meta: dict[str, Any], device: torch.device | str = "cpu", precision: str = "auto"
    ):
        self.pyramid = pyramid
        self.meta = meta
        self.device = torch.device(device)
        self.precision = precision

    @property
    def precision(self) -> str:
        return self._precision

    @precision.setter
    def precision(self, value: str) -> None:
        self._precision = check_precision(value)

    @property
    def config(self):
        return self.pyramid.config

    def to(self, device: torch.device | str) -> Model:
        self.device = torch.device(device)
        self.pyramid = self.pyramid.to(self.device)
        return self

    def canvas(self, seed: int = 0, *, size: tuple[int, int] | None = None, tileable: bool = False) -> Canvas:
        """The seed's plane as a `Canvas`: `.window(x, y, w, h)`, `.bands(rect)`,
        `.image()`. `size` is the output's (width, height); with `tileable=True` the plane
        repeats with exactly that period."""
        if tileable and size is None:
            raise ValueError("a tileable canvas needs its size (the period it repeats with)")
        bf16 = use_bf16(self.precision, self.device)
        return Canvas(self.pyramid, seed, device=self.device, bf16=bf16, tileable=size if tileable else None, size=size)

    def synth(self, size: tuple[int, int], seed: int = 0, *, tileable: bool = False) -> torch.Tensor:
        """A (width, height) texture: [1,C,height,width] float32 in [-1,1].

        The same seed gives the same pixels on the same device; the output is the window
        (0, 0, width, height) of the seed's endless plane. `tileable=True` makes it wrap
        seamlessly instead."""
        return self.canvas(seed, size=size, tileable=tileable).image()

    def synth_window(self, x: int, y: int, width: int, height: int, seed: int = 0) -> torch.Tensor:
        """Window (x, y, width, height) of the seed's endless plane: [1,C,height,width]."""
        return self.canvas(seed).window(x, y, *check_size((width, height)))

    def streams(self, path: str | os.PathLike, size: tuple[int, int], *, tileable: bool = False) -> bool:
        """Whether `synth_to_file` writes `path` band by band (bounded memory) rather than
        building the image in memory: PNG and TIFF do, except tileable outputs whose size
        the coarse grids do not divide (their coarse image is resampled as a whole)."""
        return output_format(path) in STREAMING_FORMATS and self.canvas(size=size, tileable=tileable).streams

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
            raise ValueError("a tileable output is a whole period, not a window; ask for one or the other")
        canvas = self.canvas(seed, size=(width, height), tileable=tileable)
        rect = (*(window or (0, 0)), width, height)
        if output_format(path) in STREAMING_FORMATS and canvas.streams:
            bands = (band for _, band in canvas.bands(rect))
            return write_streaming(path, width, height, canvas.channels, bands, bits)
        return save_image(canvas.window(*rect), path, bits=bits, quality=quality)

    def refine(
        self,
        image: torch.Tensor,
        mask: torch.Tensor | str | os.PathLike | None = None,
        strength: float = 0.5,
        upscale: int = 1,
        seed: int = 0,
        mask_invert: bool = False,
    ) -> torch.Tensor:
        """Repair or improve `image` ([1,C,H,W] in [-1,1]) with this model.

        mask: where the image is damaged, as `refine.read_damage` takes it: a [1,1,H,W]
        tensor (1 = damaged), a mask image file (white or any clear colour = damaged;
        black with `mask_invert`), "auto", or None (the pixels of an image with alpha that
        are not fully opaque, else no mask). Only damaged pixels change (filled coarse to
        fine; partly transparent ones are blended back by their alpha) and every other
        pixel is returned unchanged; an alpha channel that was the mask is dropped. Without a mask, strength in [0,1]
        says how coarse a scale is regenerated (higher = more change). upscale 2 or 4
        returns a larger image with new fine detail whose downsampled version matches the
        input. Returns [1,C',H*upscale,W*upscale] float32 in [-1,1]."""
        damage = read_damage(image, mask, invert=mask_invert)
        return refine_image(
            self.pyramid,
            damage.pixels,
            damage.mask,
            strength=strength,
            upscale=upscale,
            seed=seed,
            device=self.device,
            bf16=use_bf16(self.precision, self.device),
        )

    def to_dask(
        self,
        width: int,
        height: int,
        seed: int = 0,
        *,
        x: int = 0,
        y: int = 0,
        chunks: int | tuple[int, int] = 512,
        dtype: str = "uint8",
    ):
        """The window (x, y, width, height) of the seed's plane as a lazy `dask.array` of
        shape (C, height, width), uint8 or uint16; each chunk is rendered (on the CPU, at
        this model's precision there) by whichever scheduler computes it, and equals the
        same region of `synth_window` rounded to `dtype`. Needs `patchtex[cluster]`."""
        from .render import canvas_array

        bf16 = use_bf16(self.precision, torch.device("cpu"))
        return canvas_array(self.pyramid, width, height, seed=seed, x=x, y=y, chunks=chunks, dtype=dtype, bf16=bf16)

    def write_zarr(
        self,
        path: str | os.PathLike,
        size: tuple[int, int],
        seed: int = 0,
        *,
        origin: tuple[int, int] = (0, 0),
        chunk: int = 512,
        dtype: str = "uint8",
        client=None,
        scheduler: str = "sync",
        overwrite: bool = False,
        on_chunk=None,
    ):
        """Write the window (origin, size) of the seed's plane to a Zarr v3 store with an
        OME-Zarr pyramid (`render.write_zarr`), on `client` (a `distributed.Client`) or in
        this process with dask's `scheduler` ("sync" or "threads"); resumes a store that
        holds the same render. Returns a `ZarrResult`."""
        from .render import write_zarr

        bf16 = use_bf16(self.precision, torch.device("cpu"))
        width, height = size
        return write_zarr(
            self.pyramid,
            path,
            width,
            height,
            seed=seed,
            origin=origin,
            chunk=chunk,
            dtype=dtype,
            bf16=bf16,
            client=client,
            scheduler=scheduler,
            overwrite=overwrite,
            on_chunk=on_chunk,
        )

    def save(self, path: str | os.PathLike) -> Path:
        """Write the model file (safetensors + JSON metadata), atomically."""
        return save_model(self.pyramid, self.meta, path)


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


def rectify_exemplar(pixels: torch.Tensor) -> tuple[torch.Tensor, list[str]]:
    """`pixels` seen square on where its lattice was photographed at an angle
    (`perspective.find_perspective`), with a note; else as it is."""
    height, width = pixels.shape[-2:]
    found = find_perspective(pixels, find_waves(pixels))
    if found is None:
        return pixels, []
    out = rectify(pixels, found)
    if min(out.shape[-2:]) < MIN_EXEMPLAR:
        return pixels, []
    low, high = found.periods
    note = (
        f"exemplar seen at an angle (its lattice {low:.0f}-{high:.0f} px apart across it): fitted square on, "
        f"{width}x{height} -> {out.shape[-1]}x{out.shape[-2]}; fit --no-rectify keeps it as photographed"
    )
    return out, [note]


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
        # hashed and analysed on the CPU; fit_pyramid moves it to `device`
        pixels, name = exemplar.detach().float().cpu(), name or "<tensor>"
    else:
        loaded = load_image(exemplar)
        pixels, notes, name = loaded.pixels, loaded.notes, Path(exemplar).name
    original = tuple(pixels.shape[-2:])
    pixels, more = prepare_exemplar(pixels, config.max_side)
    notes += more
    if config.rectify and valid is None:
        pixels, more = rectify_exemplar(pixels)
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
    return _finished(result, meta, device, config.precision)


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
    return _finished(result, meta, device, config.precision)


def _checkpointer(path, meta: dict[str, Any], pixels: torch.Tensor):
    if path is None:
        return None

    def checkpoint(pyramid: Pyramid, state: FitState) -> None:
        save_model(pyramid, {**meta, "fit_seconds": round(state.seconds, 2)}, path, state, pixels)

    return checkpoint


def _finished(result, meta: dict[str, Any], device, precision: str) -> Model:
    meta = {**meta, "fit_seconds": round(result.seconds, 2), "losses": result.losses}
    return Model(result.pyramid, meta, device, precision)


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


def load(path: str | os.PathLike, device: torch.device | str = "cpu", precision: str = "auto") -> Model:
    """Load a model file written by `Model.save` / `patchtex fit`, to render at `precision`."""
    pyramid, meta = load_model(path, device)
    return Model(pyramid, meta, device, precision)


def demo_model_path() -> Path:
    return Path(str(resources.files("patchtex") / "data" / DEMO_MODEL))


def demo(device: torch.device | str = "cpu", precision: str = "auto") -> Model:
    """The bundled demo model (fitted on examples/cobbles.png by `patchtex fit`)."""
    return load(demo_model_path(), device, precision)
