"""Image files in and out: every common pixel format in, one tensor convention out.

Tensors are [1, C, H, W] float32 in [-1, 1] with C = 1 (L), 2 (LA), 3 (RGB) or 4 (RGBA).
Writes are atomic: a temporary file in the target directory, renamed when complete.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_PIXELS = 64_000_000  # larger inputs are refused: Pillow's decompression-bomb guard
OUTPUT_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF", ".webp": "WEBP"}


class ImageError(ValueError):
    """An input or output image problem, stated in one sentence."""


@dataclass
class LoadedImage:
    pixels: torch.Tensor  # [1, C, H, W] float32 in [-1, 1]
    notes: list[str] = field(default_factory=list)  # things worth telling the user

    @property
    def size(self) -> tuple[int, int]:
        return self.pixels.shape[-1], self.pixels.shape[-2]


def _check_path(path: Path) -> None:
    if not path.exists():
        raise ImageError(f"{path}: no such file; check the path")
    if path.is_dir():
        raise ImageError(f"{path} is a directory; give an image file")
    if path.stat().st_size == 0:
        raise ImageError(f"{path} is empty (0 bytes); give a PNG, JPEG, TIFF or WebP image")


def load_image(path: str | os.PathLike) -> LoadedImage:
    """Read an image file of any common mode into [1,C,H,W] float32 in [-1,1].

    EXIF orientation is applied; palettes become RGB(A); CMYK becomes RGB; 16-bit and
    float images keep their precision; an alpha channel that is fully opaque is dropped;
    animated images give their first frame.
    """
    path = Path(path)
    _check_path(path)
    notes: list[str] = []
    previous = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                if getattr(img, "n_frames", 1) > 1:
                    notes.append(f"{path.name} has {img.n_frames} frames; using the first")
                img.seek(0)
                img.load()
                img = ImageOps.exif_transpose(img)
                array = _to_array(img)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(
            f"{path} is too large to decode safely (over {MAX_PIXELS // 1_000_000} megapixels); downscale it first"
        ) from None
    except UnidentifiedImageError:
        raise ImageError(f"{path} is not an image Pillow can read; give a PNG, JPEG, TIFF or WebP file") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{path} could not be decoded ({exc}); the file may be truncated or corrupt") from None
    finally:
        Image.MAX_IMAGE_PIXELS = previous
    if array.shape[-1] in (2, 4) and np.all(array[..., -1] >= 1.0):
        array = array[..., :-1]
    pixels = torch.from_numpy(np.ascontiguousarray(array)).permute(2, 0, 1)[None] * 2 - 1
    return LoadedImage(pixels.float(), notes)


def _to_array(img: Image.Image) -> np.ndarray:
    """PIL image -> [H, W, C] float32 in [0, 1]."""
    mode = img.mode
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    elif mode == "PA":
        img = img.convert("RGBA")
    elif mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        img = img.convert("RGB")
    elif mode == "1":
        img = img.convert("L")
    elif mode == "RGBX":
        img = img.convert("RGB")
    elif mode == "La":
        img = img.convert("LA")
    elif mode == "RGBa":
        img = img.convert("RGBA")
    mode = img.mode
    if mode.startswith("I;16") or mode == "I":
        array = np.asarray(img, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or array.max() > 255 else 255.0
        return (np.clip(array, 0, top) / top).astype(np.float32)[..., None]
    if mode == "F":
        array = np.asarray(img, dtype=np.float32)
        low, high = float(array.min()), float(array.max())
        return ((array - low) / max(high - low, 1e-12))[..., None]
    if mode not in ("L", "LA", "RGB", "RGBA"):
        img = img.convert("RGBA" if "A" in mode else "RGB")
    array = np.asarray(img, dtype=np.float32) / 255.0
    return array[..., None] if array.ndim == 2 else array


def to_uint8(pixels: torch.Tensor) -> np.ndarray:
    """[1,C,H,W] in [-1,1] -> [H,W,C] uint8 (round half to even, like every later step)."""
    array = ((pixels[0].clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return array.permute(1, 2, 0).numpy()


def to_uint16(pixels: torch.Tensor) -> np.ndarray:
    """[1,C,H,W] in [-1,1] -> [H,W,C] uint16, C-contiguous (encoders view its bytes)."""
    array = ((pixels[0].double().clamp(-1, 1) + 1) * 32767.5).round().to(torch.int32)
    return np.ascontiguousarray(array.permute(1, 2, 0).numpy(), dtype=np.uint16)


def output_format(path: str | os.PathLike) -> str:
    """Pillow format name for an output path, by extension; ImageError if unknown."""
    suffix = Path(path).suffix.lower()
    if suffix not in OUTPUT_FORMATS:
        known = ", ".join(sorted(OUTPUT_FORMATS))
        raise ImageError(f"cannot write '{suffix or Path(path).name}' files; use one of {known}")
    return OUTPUT_FORMATS[suffix]


def check_output_path(path: str | os.PathLike, inputs: tuple[str | os.PathLike, ...] = ()) -> Path:
    """Refuse unknown extensions, missing or unwritable directories and input paths."""
    path = Path(path)
    output_format(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise ImageError(f"output directory {parent} does not exist; create it first")
    if not os.access(parent, os.W_OK):
        raise ImageError(f"output directory {parent} is not writable; choose another -o path")
    if path.is_dir():
        raise ImageError(f"{path} is a directory; give a file name for the output")
    for source in inputs:
        if Path(source).exists() and path.exists() and path.resolve() == Path(source).resolve():
            raise ImageError(f"output {path} is the input file; choose another -o path (inputs are never overwritten)")
    return path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only on success."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent if str(path.parent) else ".")
    os.close(fd)
    try:
        yield Path(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def save_image(pixels: torch.Tensor, path: str | os.PathLike, *, bits: int = 8, quality: int = 95) -> Path:
    """Write [1,C,H,W] in [-1,1] to `path` (format by extension), atomically.

    bits=16 writes 16-bit PNG or TIFF for every channel count (Pillow writes 16-bit PNG
    for grey only, so these go through patchtex's own PNG encoder and tifffile). JPEG
    drops alpha.
    """
    fmt = output_format(path)
    channels = pixels.shape[1]
    options: dict = {"quality": quality} if fmt in ("JPEG", "WEBP") else {}
    if fmt == "WEBP":
        options["lossless"] = quality >= 100
    if bits == 16:
        if fmt not in ("PNG", "TIFF"):
            raise ImageError("16-bit output needs a .png or .tif file")
        from .streaming import write_streaming  # the encoders that write 16-bit colour

        return write_streaming(path, pixels.shape[-1], pixels.shape[-2], channels, [pixels], bits=16)
    array = to_uint8(pixels)
    if fmt == "JPEG" and channels in (2, 4):
        array = array[..., :-1]
    mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[array.shape[-1]]
    img = Image.fromarray(array[..., 0] if mode == "L" else array, mode=mode)
    with atomic_path(path) as tmp:
        img.save(tmp, format=fmt, **options)
    return Path(path)
