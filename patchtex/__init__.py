"""patchtex: learn a texture from one photo with a multi-scale patch GAN, then make as
much of it as you want."""

__version__ = "0.1.0"

from .api import Model, demo, fit, load, resume  # noqa: E402
from .config import ModelConfig, TrainConfig  # noqa: E402
from .images import load_image, save_image  # noqa: E402
from .runtime import reuse_freed_memory  # noqa: E402
from .train import FitInterrupted  # noqa: E402

__all__ = [
    "FitInterrupted",
    "Model",
    "ModelConfig",
    "TrainConfig",
    "__version__",
    "demo",
    "fit",
    "load",
    "load_image",
    "resume",
    "reuse_freed_memory",
    "save_image",
]
