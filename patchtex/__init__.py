"""patchtex: learn a texture from one photo with a multi-scale patch GAN, then make as
much of it as you want."""

__version__ = "0.1.0"

from .api import Model, demo, fit, load
from .config import ModelConfig, TrainConfig
from .images import load_image, save_image

__all__ = ["Model", "ModelConfig", "TrainConfig", "__version__", "demo", "fit", "load", "load_image", "save_image"]
