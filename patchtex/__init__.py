"""patchtex: learn a texture from one photo with a multi-scale patch GAN, then make as
much of it as you want.

The names below are loaded on first use (PEP 562), so that `import patchtex.cli` and
`patchtex --help` do not pay for importing torch."""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_WHERE = {
    "FitInterrupted": "train",
    "Model": "api",
    "ModelConfig": "config",
    "TrainConfig": "config",
    "demo": "api",
    "describe": "checkpoint",
    "fit": "api",
    "fit_many": "render.library",
    "load": "api",
    "load_image": "images",
    "resume": "api",
    "reuse_freed_memory": "runtime",
    "save_image": "images",
}

__all__ = [
    "FitInterrupted",
    "Model",
    "ModelConfig",
    "TrainConfig",
    "__version__",
    "demo",
    "describe",
    "fit",
    "fit_many",
    "load",
    "load_image",
    "resume",
    "reuse_freed_memory",
    "save_image",
]

if TYPE_CHECKING:
    from .api import Model, demo, fit, load, resume
    from .checkpoint import describe
    from .config import ModelConfig, TrainConfig
    from .images import load_image, save_image
    from .render.library import fit_many
    from .runtime import reuse_freed_memory
    from .train import FitInterrupted


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
        globals()[name] = value
        return value
    if not name.startswith("_") and importlib.util.find_spec(f"{__name__}.{name}") is not None:
        return importlib.import_module(f".{name}", __name__)  # a submodule, as `patchtex.api`
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])
