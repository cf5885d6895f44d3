"""Where an image is damaged: masks as people draw them, and the image's own alpha.

A mask file follows one of two conventions, and says in colour what grey cannot:

- white = damaged, black = kept (patchtex's default, OpenCV's and most inpainting
  code's); `invert=True` reads black = damaged, white = kept (layer masks in image
  editors, many web inpainters);
- any clearly coloured stroke is damage in either convention (a red scribble is darker
  than mid-grey, so luminance alone would miss it);
- a mask with alpha is the strokes of a layer: transparent pixels are background.

Thresholds sit at half range (luminance 128 of 255, chroma (max - min channel) 72), far
from what JPEG does to a black-and-white or colour-on-black mask: its ringing and its
halved chroma resolution move pixels next to a stroke by tens of levels, not a hundred,
so a JPEG-saved mask reads as the mask that was drawn (to within its anti-aliased edge
pixels; tests/test_masks.py measures it at quality 50).

An image with alpha and no mask is damaged where it is not fully opaque: fully
transparent pixels are filled, and partly transparent ones (the soft edge of a cut-out
hole) are blended back over the fill by their alpha, so the edge leaves no ring.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch

from ..channels import colour, has_alpha

STROKE_CHROMA = 72 / 255  # max - min channel above this (of 1) is a coloured stroke
TINTED_CHROMA = 48 / 255  # a mask pixel this coloured is not plain black, white or grey
WARN_SHARE = 0.5  # a mask marking more than this share of the image gets a warning


@dataclass(frozen=True)
class Damage:
    """An image to repair and where it is damaged (`read_damage`).

    pixels: [1,C,H,W] float32 in [-1,1] (without the alpha channel when it was the mask);
    mask: [1,1,H,W] float32 in [0,1] or None (improve the whole image): 0 = kept as it
    is, 1 = damaged, in between = damaged, and the repair is blended over the input by
    that weight (partly transparent pixels); notes: what was decided on the way, in
    words; warnings: what looks like a mistake (an inverted mask, a colour image given
    as the mask)."""

    pixels: torch.Tensor
    mask: torch.Tensor | None
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def hole(self) -> torch.Tensor | None:
        """[1,1,H,W] float in {0,1}: every pixel that is repaired (mask > 0)."""
        return None if self.mask is None else (self.mask > 0).float()


def mask_from_pixels(mask: torch.Tensor, *, invert: bool = False) -> torch.Tensor:
    """A mask image ([1,C,H,W] in [-1,1], any channels) -> [1,1,H,W] bool, True = damaged.

    Grey level decides by the convention (brighter than mid-grey is damaged, or darker
    with `invert`); clearly coloured pixels are damaged in either; where the mask has
    alpha, its transparent pixels are the background of the convention."""
    unit = (mask.float() + 1) / 2
    paint = colour(unit)
    if has_alpha(mask.shape[1]):
        alpha = unit[:, -1:]
        background = 1.0 if invert else 0.0
        paint = paint * alpha + background * (1 - alpha)
    grey = paint.mean(1, keepdim=True)
    marked = grey < 0.5 if invert else grey > 0.5
    if paint.shape[1] == 3:
        marked |= _chroma(paint) > STROKE_CHROMA
    return marked


def _chroma(paint: torch.Tensor) -> torch.Tensor:
    """[B,3,H,W] in [0,1] -> [B,1,H,W]: max - min over the channels."""
    return paint.amax(1, keepdim=True) - paint.amin(1, keepdim=True)


def mask_warnings(mask_pixels: torch.Tensor | None, marked: torch.Tensor, *, invert: bool, source: str) -> list[str]:
    """Likely mistakes, in words: a mask that marks most of the image (drawn in the other
    convention?), or one that is mostly coloured (the damaged image itself given as its
    mask, or a coloured background whose colour counts as damage?). mask_pixels: the mask image as read, or None; marked: [1,1,H,W]
    bool; source: how the mask was given, for the message."""
    found: list[str] = []
    share = float(marked.float().mean())
    if share > WARN_SHARE:
        if source == "alpha":
            hint = "only fully opaque pixels are kept as they are"
        elif invert:
            hint = "--mask-invert reads black as damaged; without it white is damaged"
        else:
            hint = "if black means damaged in this mask, add --mask-invert"
        found.append(f"the mask marks {share:.0%} of the image as damaged; {hint}")
    if mask_pixels is not None and mask_pixels.shape[1] >= 3:
        tinted = _chroma(colour((mask_pixels.float() + 1) / 2)) > TINTED_CHROMA
        if float(tinted.float().mean()) > 0.5:
            found.append(
                "most of the mask is coloured rather than black and white, and any clear colour counts as "
                "damage; is it the damaged image rather than its mask? Draw damage in white or a clear colour on black"
            )
    return found


def read_damage(
    image: torch.Tensor,
    mask: torch.Tensor | str | os.PathLike | None = None,
    *,
    invert: bool = False,
    self_fit: bool = False,
) -> Damage:
    """Where `image` ([1,C,H,W] in [-1,1]) is damaged, from any way of saying it:

    - a tensor [1,1,H,W] (or [1,C,H,W]: its first channel): damaged where > 0.5 (< 0.5
      with `invert`);
    - a mask image file, read by `mask_from_pixels` (white or any clear colour =
      damaged; black or any clear colour with `invert`);
    - "auto": `auto_mask` guesses flat-filled holes and saturated scribbles;
    - None: the pixels that are not fully opaque when the image has alpha (that alpha is
      then dropped from the pixels, and partly transparent pixels are blended back by it,
      see `Damage.mask`), else no mask at all.

    ValueError when the mask's size is not the image's, or it marks nothing; with
    `self_fit` (the model is to be fitted on the image itself) also when it marks
    everything, as nothing would be left to learn from."""
    notes: list[str] = []
    pixels, soft, mask_pixels, source = image, None, None, "mask"
    if mask is None:
        if not (has_alpha(image.shape[1]) and bool((image[:, -1] < 1).any())):
            return Damage(image, None)
        alpha = ((image[:, -1:] + 1) / 2).clamp(0, 1)
        marked, pixels, source = alpha < 1, image[:, :-1], "alpha"
        soft = 1 - alpha
        partial = int(((alpha > 0) & (alpha < 1)).sum())
        notes.append(
            "using the transparent pixels as the damage mask"
            + (f" ({partial} partly transparent ones are blended back by their alpha)" if partial else "")
        )
    elif isinstance(mask, torch.Tensor):
        marked = mask[:, :1] < 0.5 if invert else mask[:, :1] > 0.5
    elif str(mask) == "auto":
        marked = auto_mask(image) > 0.5
        notes.append(f"the automatic mask marked {int(marked.sum())} pixels as damaged")
    else:
        from ..images import load_image

        mask_pixels = load_image(mask).pixels
        marked = mask_from_pixels(mask_pixels, invert=invert)
    if marked.shape[-2:] != image.shape[-2:]:
        raise ValueError(
            f"the mask is {marked.shape[-1]}x{marked.shape[-2]} but the image is {image.shape[-1]}x{image.shape[-2]}; "
            "they must be the same size"
        )
    if not bool(marked.any()):
        convention = "black" if invert else "white or a clear colour"
        raise ValueError(f"the mask marks no pixel as damaged ({convention} = damaged); nothing to repair")
    if self_fit and bool(marked.all()):
        raise ValueError(
            "the mask covers the whole image, so there is nothing to learn from; give a fitted model or a smaller mask"
        )
    found = mask_warnings(mask_pixels, marked, invert=invert, source=source)
    return Damage(pixels, marked.float() if soft is None else soft, tuple(notes), tuple(found))


def auto_mask(image: torch.Tensor) -> torch.Tensor:
    """Guess damage: flat-filled holes (8x8+ areas of one exact colour) and saturated
    scribbles (near-pure colours a texture photo rarely has), dilated by 2 px.

    image: [1,C,H,W] in [-1,1] -> [1,1,H,W] float mask (1 = damaged)."""
    from scipy.ndimage import binary_dilation, uniform_filter  # 0.2 s to import: only here

    pixels = ((image[0].clamp(-1, 1) + 1) * 127.5).round().numpy()
    channels = colour(pixels[None])[0]
    variance = sum(uniform_filter(c**2, 8) - uniform_filter(c, 8) ** 2 for c in channels)
    flat = variance < 1e-3
    # the 8x8 window test marks the core only: grown back by 4 px in every direction,
    # diagonals too (a cross-shaped growth left a rectangle's corner pixels unmarked, and
    # the README's example kept 5 white pixels at its white hole's corners)
    flat = binary_dilation(flat, structure=np.ones((3, 3), dtype=bool), iterations=4)
    spread = channels.max(0) - channels.min(0)
    saturated = (spread >= 200) & (channels.max(0) >= 200) if channels.shape[0] == 3 else np.zeros_like(flat)
    damaged = binary_dilation(flat | saturated, iterations=2)
    return torch.from_numpy(damaged.astype(np.float32))[None, None]
