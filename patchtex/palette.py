"""The colours an exemplar has, as a training signal (imports torch and scipy).

The critic and the patch losses judge patches; a few per cent of wrong pixels on the
borders between an exemplar's distinct colours (white-blue and teal blends between lego
bricks, a red pushed past any red the photo has by a residual that overshoots) cost them
almost nothing, so nothing in the fit pushed back on colours the exemplar never has.

`distance_field` measures, on a grid over colour space, how far each colour lies beyond
the exemplar's own colours; `support_loss` reads it at every generated pixel (trilinear,
so it has a gradient) and is zero wherever the output's colours are the exemplar's. It
says nothing about how often each colour appears: that stays the critic's and the patch
losses' job (a loss on the colour distribution made lego's false colours worse,
benchmarks/README, session 9).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from .channels import colour

LEVELS = 65  # grid points a channel, from -RANGE to RANGE: 0.039 apart (5 of 255 grey levels)
RANGE = 1.25  # past [-1, 1], so that an overshoot beyond black or white has a gradient too
SPACING = 2 * RANGE / (LEVELS - 1)  # between neighbouring grid points, in image units


# a colour of the image rounds to one corner of the grid cell it lies in; every other
# corner is within sqrt(3) grid steps of that one, so with this margin the trilinear
# reading is exactly zero at each of the image's own colours
MARGIN = 3**0.5


def distance_field(image: torch.Tensor, valid: torch.Tensor | None = None, margin: float = MARGIN) -> torch.Tensor:
    """For every point of a `LEVELS`-a-channel grid over [-RANGE, RANGE] colour space, its
    distance (in image units) beyond `margin` grid steps from the nearest grid point that
    a colour of `image` rounds to. image: [1,C,H,W] in [-1,1] (alpha ignored); valid:
    optional [1,1,H,W] mask, 1 where a pixel counts. Returns [1,1,L,L,L] for colour,
    [1,1,1,L] for grey, float32 on `image`'s device."""
    pixels = colour(image.float())[0].flatten(1)  # [c, N]
    if valid is not None:
        pixels = pixels[:, valid.flatten().to(pixels.device) > 0.5]
    channels = pixels.shape[0]
    index = ((pixels.clamp(-RANGE, RANGE) + RANGE) / SPACING).round().long().cpu().numpy()
    occupied = np.zeros((LEVELS,) * channels, dtype=bool)
    occupied[tuple(index)] = True
    if not occupied.any():
        raise ValueError("no pixel to take colours from")
    distance = ndimage.distance_transform_edt(~occupied) - margin
    field = torch.from_numpy(np.maximum(distance, 0.0) * SPACING).float().to(image.device)
    if channels == 1:
        return field.reshape(1, 1, 1, LEVELS)
    return field.reshape(1, 1, LEVELS, LEVELS, LEVELS)  # [r, g, b] as (D, H, W)


def distances(image: torch.Tensor, field: torch.Tensor) -> torch.Tensor:
    """Each pixel's distance beyond the palette (`distance_field`), differentiable in the
    pixel's colour: [B,C,H,W] -> [B,H,W] float32."""
    pixels = colour(image.float())
    batch, channels, height, width = pixels.shape
    coords = (pixels / RANGE).permute(0, 2, 3, 1).reshape(1, batch * height, width, channels)
    if channels == 1:
        grid = torch.cat([coords, torch.zeros_like(coords)], dim=-1)  # (x: the grey level, y: 0)
    else:
        grid = coords.flip(-1).unsqueeze(1)  # grid_sample wants (x, y, z) = (b, g, r)
    sampled = F.grid_sample(field, grid, align_corners=True, padding_mode="border")
    # beyond the grid (a colour past +-RANGE) the field is flat: the excess itself counts
    beyond = (pixels.abs() - RANGE).clamp(min=0).norm(dim=1)
    return sampled.reshape(batch, height, width) + beyond


def support_loss(image: torch.Tensor, field: torch.Tensor) -> torch.Tensor:
    """Mean squared distance of `image`'s pixels beyond the exemplar's colours: zero when
    every pixel has a colour the exemplar has (within the field's margin)."""
    return distances(image, field).pow(2).mean()
