"""The symmetries an exemplar has: flips and quarter turns that leave its statistics alone.

A fit sees one small image; at the coarsest scale a 32x64 px level holds only a few dozen
distinct critic crops. Where the texture itself does not change under a flip or a quarter
turn (gravel, leaves, cracked paint, cobbles), real crops so transformed are more real
crops, and the critic gets up to 8x as many. Where it does (bark's vertical grain, brick
courses, light from one side on tomatoes or hammered metal, any periodic lattice), the
transform would teach the critic a texture the exemplar is not, so it is not used.

Two tests, both needed for a transform to count:
- second moments of the gradient (the structure tensor's mean, as the two components of
  its doubled-angle orientation) at four scales: a flip negates one, a quarter turn the
  other, so a texture with a dominant orientation fails the transforms that move it;
- the patch sliced-Wasserstein distance (`quality.patch_swd`, 7x7 patches at every level)
  from one half of the exemplar to the other half transformed, against the same distance
  untransformed: it catches what second moments cannot, such as which side objects are
  lit from.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .channels import colour_mean

# name -> the transform of [B,C,H,W] (square crops: the quarter turns keep their shape)
TRANSFORMS = {
    "hflip": lambda x: x.flip(-1),
    "vflip": lambda x: x.flip(-2),
    "rot180": lambda x: x.flip(-1).flip(-2),
    "transpose": lambda x: x.transpose(-1, -2),
    "antitranspose": lambda x: x.flip(-1).flip(-2).transpose(-1, -2),
    "rot90": lambda x: x.rot90(1, (-2, -1)),
    "rot270": lambda x: x.rot90(3, (-2, -1)),
}
# what each transform does to the orientation moments (c, s) = E[gx^2 - gy^2], E[2 gx gy]
_MOMENTS = {
    "hflip": (1, -1),
    "vflip": (1, -1),
    "rot180": (1, 1),
    "transpose": (-1, 1),
    "antitranspose": (-1, 1),
    "rot90": (-1, -1),
    "rot270": (-1, -1),
}
MAX_ORIENTATION = 0.12  # |moment| / E[|grad|^2] a transform may flip (isotropic bench textures: <= 0.11)
MAX_PATCH_RATIO = 1.12  # patch SWD to the transformed other half / to the plain other half
TEST_SIDE = 128  # halves larger than twice this are box-downsampled for the patch test


def central_gradients(lum: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(gx, gy) of `lum` ([..., H, W]) by central differences on its interior: [..., H-2, W-2]
    each (unbiased where forward differences are not)."""
    gy = (lum[..., 2:, 1:-1] - lum[..., :-2, 1:-1]) / 2
    gx = (lum[..., 1:-1, 2:] - lum[..., 1:-1, :-2]) / 2
    return gx, gy


def orientation_moments(image: torch.Tensor, levels: int = 4) -> torch.Tensor:
    """[levels, 2]: per 2x level, E[gx^2 - gy^2] and E[2 gx gy] over E[gx^2 + gy^2] of the
    luminance (central differences, which are unbiased where forward ones are not)."""
    lum = colour_mean(image.float())
    out = []
    for _ in range(levels):
        if min(lum.shape[-2:]) < 8:
            break
        gx, gy = central_gradients(lum)
        energy = (gx.square() + gy.square()).mean().clamp(min=1e-12)
        out.append(torch.stack([(gx.square() - gy.square()).mean(), (2 * gx * gy).mean()]) / energy)
        lum = F.avg_pool2d(lum, 2)
    return torch.stack(out)


def symmetries(exemplar: torch.Tensor, periodic: bool) -> tuple[str, ...]:
    """The names of `TRANSFORMS` under which `exemplar` ([1,C,H,W]) looks the same; none
    for a periodic texture (its periodic channels tie the layout to one orientation)."""
    from .quality import patch_swd

    if periodic or min(exemplar.shape[-2:]) < 32:
        return ()
    moments = orientation_moments(exemplar)
    height, width = exemplar.shape[-2:]
    if width >= height:
        half_a, half_b = exemplar[..., : width // 2], exemplar[..., width // 2 :]
    else:
        half_a, half_b = exemplar[..., : height // 2, :], exemplar[..., height // 2 :, :]
    side = min(*half_a.shape[-2:], *half_b.shape[-2:])
    half_a, half_b = half_a[..., :side, :side], half_b[..., :side, :side]  # square: quarter turns fit
    while side > 2 * TEST_SIDE:  # a photo's halves: its layout decides, and 4x fewer pixels
        half_a, half_b, side = F.avg_pool2d(half_a, 2), F.avg_pool2d(half_b, 2), side // 2
    base = max(patch_swd(half_a, half_b), 1e-9)
    kept = []
    for name, transform in TRANSFORMS.items():
        sign = torch.tensor(_MOMENTS[name], dtype=moments.dtype)
        moved = (moments - sign * moments).abs().max().item() / 2  # the component it negates
        if moved > MAX_ORIENTATION:
            continue
        if patch_swd(half_a, transform(half_b)) / base <= MAX_PATCH_RATIO:
            kept.append(name)
    return tuple(kept)


def augment(crops: torch.Tensor, names: tuple[str, ...], generator: torch.Generator) -> torch.Tensor:
    """Each square crop of [B,C,s,s] as it is or under one of the transforms `names`, drawn
    uniformly from `generator` (the identity among them)."""
    if not names:
        return crops
    picks = torch.randint(len(names) + 1, (crops.shape[0],), generator=generator).tolist()
    out = [crops[i : i + 1] if k == 0 else TRANSFORMS[names[k - 1]](crops[i : i + 1]) for i, k in enumerate(picks)]
    return torch.cat(out).contiguous()
