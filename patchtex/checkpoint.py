"""One model file: safetensors weights plus JSON metadata. No pickle anywhere.

Loading reads and checks the header by hand first (size, JSON, format name, version), so
a foreign, truncated, altered or newer file fails with one sentence before any tensor is
read; the weights then load with `load_state_dict(strict=True)`.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load, load_file, save, save_file

from .config import ModelConfig
from .images import atomic_path
from .model import LayoutScale, Pyramid
from .train import FitState

FORMAT = "patchtex-model"
FORMAT_VERSION = 1
MAX_HEADER = 16 * 1024 * 1024


class ModelFileError(ValueError):
    """A model file that cannot be used, stated in one sentence."""


def save_model(
    pyramid: Pyramid,
    meta: dict[str, Any],
    path: str | os.PathLike,
    fit_state: FitState | None = None,
    exemplar: torch.Tensor | None = None,
) -> Path:
    """Write weights and metadata to `path` atomically.

    meta: JSON-serialisable facts about the fit (exemplar, seed, timings, losses, ...).
    fit_state, exemplar: for an unfinished fit, everything `patchtex fit --resume` needs
    (critic and optimiser states, the random generator's state, the exemplar pixels).
    """
    from . import __version__

    tensors = {k: v.detach().cpu().contiguous() for k, v in pyramid.state_dict().items()}
    metadata = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "patchtex_version": __version__,
        "model_config": pyramid.config.to_json(),
        "meta": json.dumps(meta, sort_keys=True),
    }
    if fit_state is not None:
        if exemplar is None:
            raise ValueError("an unfinished fit needs its exemplar to be resumable")
        tensors["fit.exemplar"] = exemplar.detach().cpu().float().contiguous()
        tensors["fit.generator"] = fit_state.generator.clone()
        tensors.update({f"fit.disc.{k}": v.detach().cpu().contiguous() for k, v in fit_state.disc.items()})
        if fit_state.ema is not None:
            tensors.update({f"fit.ema.{k}": v.detach().cpu().contiguous() for k, v in fit_state.ema.items()})
        groups = {}
        for name, opt in (("opt_g", fit_state.opt_g), ("opt_d", fit_state.opt_d)):
            if opt is None:
                continue
            groups[name] = opt["param_groups"]
            for pid, entries in opt["state"].items():
                for key, value in entries.items():
                    tensors[f"fit.{name}.{pid}.{key}"] = torch.as_tensor(value).detach().cpu().contiguous()
        metadata["fit_state"] = json.dumps(
            {
                "scale": fit_state.scale,
                "step": fit_state.step,
                "seconds": fit_state.seconds,
                "losses": fit_state.losses,
                "grad_norm": fit_state.grad_norm,
                "param_groups": groups,
            }
        )
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)
    return Path(path)


def pyramid_bytes(pyramid: Pyramid) -> bytes:
    """The pyramid's weights and configuration as safetensors bytes (no pickle): how a
    model travels to other processes (`pyramid_from_bytes`)."""
    tensors = {k: v.detach().cpu().contiguous() for k, v in pyramid.state_dict().items()}
    return save(tensors, metadata={"format": FORMAT, "model_config": pyramid.config.to_json()})


def pyramid_from_bytes(data: bytes, device: torch.device | str = "cpu") -> Pyramid:
    """Rebuild a pyramid from `pyramid_bytes` (in eval mode, on `device`)."""
    header_len = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + header_len])
    config = ModelConfig.from_json(header["__metadata__"]["model_config"])
    pyramid = Pyramid(config)
    pyramid.load_state_dict(load(data), strict=True)
    pyramid = pyramid.to(device).to(memory_format=torch.channels_last).eval()
    pyramid.requires_grad_(False)
    return pyramid


def read_header(path: str | os.PathLike) -> dict[str, str]:
    """The safetensors `__metadata__` of a patchtex model file, checked.

    Raises ModelFileError for a missing, foreign, truncated or newer-version file.
    """
    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"{path}: no such model file; check the path")
    if path.is_dir():
        raise ModelFileError(f"{path} is a directory, not a model file")
    size = path.stat().st_size
    not_ours = f"{path} is not a patchtex model file (expected a .safetensors written by 'patchtex fit')"
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise ModelFileError(not_ours)
        (length,) = struct.unpack("<Q", head)
        if length == 0 or length > MAX_HEADER:
            raise ModelFileError(not_ours)
        if 8 + length > size:
            raise ModelFileError(f"{path} is truncated ({size} bytes, header says more); refit or copy it again")
        raw = f.read(length)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ModelFileError(not_ours) from None
    if not isinstance(header, dict):
        raise ModelFileError(not_ours)
    metadata = header.get("__metadata__")
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise ModelFileError(not_ours)
    end = max((t.get("data_offsets", [0, 0])[1] for k, t in header.items() if k != "__metadata__"), default=0)
    if 8 + length + end > size:
        raise ModelFileError(f"{path} is truncated ({size} bytes of {8 + length + end}); refit or copy it again")
    try:
        version = int(metadata.get("format_version", ""))
    except ValueError:
        raise ModelFileError(f"{path} has an unreadable format version; it was altered") from None
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path} uses model format {version}, newer than this patchtex reads ({FORMAT_VERSION}); upgrade patchtex"
        )
    return metadata


def load_model(path: str | os.PathLike, device: torch.device | str = "cpu") -> tuple[Pyramid, dict[str, Any]]:
    """Rebuild the pyramid stored at `path`; returns (pyramid in eval mode, meta).

    An unfinished fit is refused with the command that finishes it."""
    metadata = read_header(path)
    if "fit_state" in metadata:
        raise ModelFileError(f"{path} is an unfinished fit; finish it with: patchtex fit --resume {path}")
    return _load(path, metadata, device)[:2]


def load_fit(path: str | os.PathLike, device: torch.device | str = "cpu"):
    """An unfinished fit: (pyramid, meta, FitState, exemplar [1,C,H,W])."""
    metadata = read_header(path)
    if "fit_state" not in metadata:
        raise ModelFileError(f"{path} is a finished model; there is nothing to resume")
    pyramid, meta, tensors = _load(path, metadata, device)
    try:
        info = json.loads(metadata["fit_state"])
        opts: dict[str, dict | None] = {"opt_g": None, "opt_d": None}
        for name, groups in info["param_groups"].items():
            state: dict[int, dict] = {}
            for key, value in tensors.items():
                if key.startswith(f"fit.{name}."):
                    pid, entry = key[len(name) + 5 :].split(".", 1)
                    state.setdefault(int(pid), {})[entry] = value
            opts[name] = {"state": state, "param_groups": groups}
        disc = {k[len("fit.disc.") :]: v for k, v in tensors.items() if k.startswith("fit.disc.")}
        ema = {k[len("fit.ema.") :]: v for k, v in tensors.items() if k.startswith("fit.ema.")}
        fit_state = FitState(
            int(info["scale"]),
            int(info["step"]),
            float(info["seconds"]),
            tensors["fit.generator"],
            disc,
            opts["opt_g"],
            opts["opt_d"],
            dict(info["losses"]),
            ema or None,
            None if info.get("grad_norm") is None else float(info["grad_norm"]),
        )
        exemplar = tensors["fit.exemplar"]
    except (KeyError, ValueError, TypeError) as exc:
        raise ModelFileError(f"{path} has an incomplete fit state ({exc}); start the fit again") from None
    return pyramid, meta, fit_state, exemplar


def _load(path, metadata: dict[str, str], device):
    try:
        config = ModelConfig.from_json(metadata["model_config"])
        meta = json.loads(metadata.get("meta", "{}"))
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{path} has altered or incomplete metadata ({exc}); refit the model") from None
    try:
        tensors = load_file(str(path))
    except Exception as exc:  # safetensors raises its own error types
        raise ModelFileError(f"{path} is damaged ({exc}); refit or copy it again") from None
    pyramid = Pyramid(config)
    weights = {k: v for k, v in tensors.items() if not k.startswith("fit.")}
    try:
        pyramid.load_state_dict(weights, strict=True)
    except RuntimeError:
        raise ModelFileError(f"{path}: weights do not match its configuration; the file was altered") from None
    pyramid = pyramid.to(device).to(memory_format=torch.channels_last).eval()
    pyramid.requires_grad_(False)
    return pyramid, meta, tensors


def describe(path: str | os.PathLike) -> dict[str, Any]:
    """What a model file holds, as JSON-ready facts, without loading its weights.

    Exemplar (name, sizes, hash), per scale (the exemplar's size there, hidden width, conv
    layers, parameters, and how far one scale's own convolutions see, in that scale's
    pixels and in the exemplar's), the periodic waves found (period in px, angle in
    degrees), fit time, final losses, seed, training settings, format and versions; for
    an unfinished fit, where it stopped."""
    import math

    from .model import halvings

    path = Path(path)
    metadata = read_header(path)
    try:
        config = ModelConfig.from_json(metadata["model_config"])
        meta = json.loads(metadata.get("meta", "{}"))
        train = json.loads(meta["train_config"]) if "train_config" in meta else None
        progress = json.loads(metadata["fit_state"]) if "fit_state" in metadata else None
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{path} has altered or incomplete metadata ({exc}); refit the model") from None
    pyramid = Pyramid(config)
    exemplar = dict(meta.get("exemplar", {}))
    width, height = exemplar.get("fitted_width"), exemplar.get("fitted_height")
    sizes: list[tuple[int, int] | None] = [None] * config.num_scales
    if width and height:
        sizes = [(w.shape[-1], w.shape[-2]) for w in halvings(torch.empty(1, 1, height, width), config.num_scales - 1)]
    scales = []
    for s, gen in enumerate(pyramid.generators):
        factor = config.factor(s)
        quilt = isinstance(gen, LayoutScale)
        field = config.layout_cell if quilt else 2 * gen.halo + 1  # a quilt's unit of layout is its cell
        scales.append(
            {
                "scale": s + 1,
                "kind": "quilt" if quilt else "generator",
                "exemplar_size": None if sizes[s] is None else f"{sizes[s][0]}x{sizes[s][1]}",
                "px_per_exemplar_px": 1 / factor,
                "channels": config.channels[s],
                "layers": config.layers[s],
                "parameters": sum(p.numel() for p in gen.parameters()),
                "sees_px": field,
                "sees_exemplar_px": field * factor,
            }
        )
    quilted = bool(config.layout_size)
    waves = [
        {
            "period_px": round(1 / math.hypot(kx, ky), 2),
            "angle_deg": round(math.degrees(math.atan2(ky, kx)), 1),
            # the scales fed its periodic channels; a quilted coarsest scale keeps it instead
            "scales": [s for s in range(config.num_scales) if i in config.waves_at(s) and not (s == 0 and quilted)],
            "quilt_lattice": quilted,
        }
        for i, (kx, ky) in enumerate(config.waves)
    ]
    info: dict[str, Any] = {
        "file": str(path),
        "file_bytes": path.stat().st_size,
        "status": "finished" if progress is None else "unfinished",
        "exemplar": exemplar,
        "image_channels": config.image_channels,
        "num_scales": config.num_scales,
        "scales": scales,
        "parameters": sum(p.numel() for p in pyramid.parameters()),
        "noise_channels": config.noise_channels,
        "fine_noise": config.fine_noise,  # the finer scales' noise spread (the coarsest's is 1)
        "draw_noise": config.draw_noise,  # that spread's multiple where the model draws
        "hint_channels": config.hint_channels,  # detail hints the quilt feeds the finer scales
        "layout_coherent": config.layout_coherent,  # quilt candidates continuing a neighbour's block
        "layout_feather": config.layout_feather,  # the share mixed across a quilt cut
        "layout_variance_credit": config.layout_variance_credit,  # quilt candidates' own variance credited
        "layout_edge_seams": config.layout_edge_seams,  # quilt cuts follow the blocks' own steps
        "residual_in_gamut": config.residual_in_gamut,  # finer residuals scaled to stay in [-1, 1]
        "colour_range": [list(pair) for pair in config.colour_range],  # finer outputs held within it
        "waves": waves,
        "fit_seconds": meta.get("fit_seconds"),
        "losses": meta.get("losses"),
        "seed": meta.get("seed"),
        "fitted_on": meta.get("device"),
        "train_config": train,
        "notes": meta.get("notes", []),
        "format": metadata.get("format"),
        "format_version": int(metadata.get("format_version", 0)),
        "patchtex_version": metadata.get("patchtex_version"),
    }
    if progress is not None:
        info["stopped_at"] = {"scale": int(progress["scale"]) + 1, "step": int(progress["step"])}
    return info
