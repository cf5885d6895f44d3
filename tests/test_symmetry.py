"""Which flips and quarter turns a fit may draw real crops under."""

import torch
import torch.nn.functional as F

from patchtex.symmetry import TRANSFORMS, augment, orientation_moments, symmetries

QUARTER_TURNS = {"transpose", "antitranspose", "rot90", "rot270"}


def _noise(size: int, seed: int, blur: tuple[int, int]) -> torch.Tensor:
    """Gaussian noise box-blurred over (rows, cols): [1,3,size,size] grey, about [-1,1]."""
    n = torch.randn(1, 1, size + blur[0], size + blur[1], generator=torch.Generator().manual_seed(seed))
    x = F.avg_pool2d(n, blur, stride=1)[..., :size, :size]
    return (x / x.std()).clamp(-3, 3).div(3).expand(1, 3, size, size).contiguous()


def test_isotropic_texture_keeps_every_flip_and_turn():
    assert set(symmetries(_noise(192, 0, (5, 5)), periodic=False)) == set(TRANSFORMS)


def test_vertical_grain_keeps_flips_but_no_quarter_turn():
    grain = _noise(192, 1, (25, 3))  # streaks along the rows' direction: a vertical grain
    moments = orientation_moments(grain)
    assert (moments[:2, 0] > 0.5).all()  # gx dominates: an orientation a quarter turn would move
    kept = set(symmetries(grain, periodic=False))
    assert {"hflip", "vflip", "rot180"} <= kept and not kept & QUARTER_TURNS


def test_a_faint_large_scale_orientation_keeps_quarter_turns_out(monkeypatch):
    """Fine isotropic grain over faint horizontal streaks 60 px long (rust's diagonal
    streaks at its coarse levels): 7x7 patches barely see them, the moments at 8x do."""
    x = (_noise(256, 5, (2, 2)) + 0.3 * _noise(256, 6, (9, 61))).clamp(-1, 1)
    assert set(symmetries(x, periodic=False)) == {"hflip", "vflip", "rot180"}
    monkeypatch.setattr("patchtex.symmetry.MAX_ORIENTATION", 9.0)  # the patch test alone
    assert set(symmetries(x, periodic=False)) == set(TRANSFORMS)


def test_light_from_above_keeps_left_right_but_not_up_down():
    blobs = (_noise(192, 2, (5, 5)) - 0.3).clamp(min=0)
    lit = torch.zeros_like(blobs)
    lit[..., 1:, :] = blobs[..., :-1, :] - blobs[..., 1:, :]  # bright upper rims, dark lower ones
    kept = set(symmetries((3 * lit / blobs.max()).clamp(-1, 1), periodic=False))
    assert kept == {"hflip"}  # second moments alone would also keep vflip and rot180


def test_periodic_textures_are_never_transformed():
    assert symmetries(_noise(192, 0, (5, 5)), periodic=True) == ()


def test_augment_draws_each_crop_as_is_or_under_one_allowed_transform():
    crops = torch.randn(64, 3, 8, 8, generator=torch.Generator().manual_seed(3))
    names = ("hflip", "rot90")
    out = augment(crops, names, torch.Generator().manual_seed(4))
    seen = set()
    for a, b in zip(crops, out):
        options = {"identity": a, **{n: TRANSFORMS[n](a[None])[0] for n in names}}
        match = [n for n, v in options.items() if torch.equal(v, b)]
        assert match
        seen.add(match[0])
    assert seen == {"identity", *names}
    assert torch.equal(augment(crops, (), torch.Generator()), crops)
