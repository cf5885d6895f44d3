"""The channel convention of every image tensor: C = 1 (L), 2 (LA), 3 (RGB) or 4 (RGBA).

One place says which channels are colour and which is alpha, so that luminance, channel
conversion and comparisons agree everywhere (imports only torch).
"""

from __future__ import annotations

import torch


def has_alpha(channels: int) -> bool:
    return channels in (2, 4)


def colour(image: torch.Tensor) -> torch.Tensor:
    """[B,C,H,W] -> its colour channels [B,3,H,W] (RGB, RGBA) or [B,1,H,W] (L, LA)."""
    return image[:, :3] if image.shape[1] >= 3 else image[:, :1]


def colour_mean(image: torch.Tensor) -> torch.Tensor:
    """[B,C,H,W] -> [B,H,W]: the mean of the colour channels (alpha ignored)."""
    return colour(image).mean(1)


def match_channels(image: torch.Tensor, channels: int) -> torch.Tensor:
    """Convert [B,c,H,W] to `channels` channels: grey <-> colour, alpha dropped, or added
    as opaque."""
    if image.shape[1] == channels:
        return image
    base = colour(image)
    if channels in (1, 2):
        base = base.mean(1, keepdim=True)
    else:
        base = base.expand(-1, 3, -1, -1)
    if not has_alpha(channels):
        return base
    alpha = image[:, -1:] if has_alpha(image.shape[1]) else torch.ones_like(image[:, :1])
    return torch.cat([base, alpha], 1)


def comparable(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The colour channels of two images, as grey when one of them is grey (alpha ignored),
    so that they can be compared channel by channel."""
    a, b = colour(a), colour(b)
    if a.shape[1] != b.shape[1]:
        a, b = a.mean(1, keepdim=True), b.mean(1, keepdim=True)
    return a, b
