"""Repair and improve existing texture images (`refine_image`), and read where they are
damaged (`read_damage`): masks as people draw them, alpha holes, `auto_mask`.

masks.py decides which pixels are damaged and how much; fill.py repairs them through a
fitted pyramid, and patches.py from the image's own known patches (one more candidate
fill per hole). Pixels a mask keeps are never changed.
"""

from .fill import (
    best_fill_per_hole,
    blend_soft,
    coarse_fill,
    feather,
    feather_weight,
    push_pull_fill,
    refine_image,
    smooth_fill,
)
from .masks import Damage, auto_mask, mask_from_pixels, mask_warnings, read_damage
from .patches import patch_fill

__all__ = [
    "Damage",
    "auto_mask",
    "best_fill_per_hole",
    "blend_soft",
    "coarse_fill",
    "feather",
    "feather_weight",
    "mask_from_pixels",
    "mask_warnings",
    "patch_fill",
    "push_pull_fill",
    "read_damage",
    "refine_image",
    "smooth_fill",
]
