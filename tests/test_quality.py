"""The score metrics respond to what they claim to measure."""

import torch
import torch.nn.functional as F

from patchtex import quality

from .conftest import stripes


def _blur(x):
    k = torch.ones(x.shape[1], 1, 5, 5) / 25
    return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="reflect"), k, groups=x.shape[1])


def test_swd_zero_for_identical_and_grows_with_damage():
    x = stripes(96)
    assert quality.patch_swd(x, x) == 0
    other = stripes(96, seed=1)  # same texture, new noise
    assert quality.patch_swd(other, x) < quality.patch_swd(_blur(x), x)
    flat = torch.full_like(x, x.mean().item())
    assert quality.patch_swd(_blur(x), x) < quality.patch_swd(flat, x)


def test_swd_where_scores_only_the_masked_patches():
    x = stripes(96)
    everywhere = torch.ones(1, 1, 96, 96)
    assert quality.patch_swd(x, x, where=everywhere) == quality.patch_swd(x, x)
    other = stripes(96, seed=1)
    assert quality.patch_swd(other, x, where=everywhere) == quality.patch_swd(other, x)
    # a blurred 6 px streak: barely visible to the whole-image score, plain to the streak's
    line = torch.zeros(1, 1, 96, 96)
    line[..., 45:51] = 1
    streak = torch.where(line > 0, _blur(x), x)
    assert quality.patch_swd(streak, x, where=line) > 3 * quality.patch_swd(streak, x)
    assert quality.patch_swd(streak, x, where=line) > 3 * quality.patch_swd(other, x, where=line)


def test_copy_fraction_sees_copies_not_new_texture():
    ex = stripes(128)
    assert quality.copy_fraction(ex[..., 10:110, 5:120], ex) == 1.0
    assert quality.copy_fraction(stripes(128, seed=3), ex) == 0.0


def test_spectral_distance_catches_lost_periodicity():
    ex = stripes(256, noise=0.02)
    same_kind = torch.roll(ex, shifts=(3, 5), dims=(2, 3))  # another crop of the same plane
    shuffled = ex[..., torch.randperm(256, generator=torch.Generator().manual_seed(0)), :]  # rows shuffled
    assert quality.spectral_distance(same_kind, ex) < 0.5 * quality.spectral_distance(shuffled, ex)


def test_seam_ratio():
    periodic = stripes(64)  # period 8 divides 64: wraps seamlessly in y; noise is i.i.d.
    assert 0.8 < quality.seam_ratio(periodic) < 1.2
    ramp = torch.linspace(-1, 1, 64).repeat(64, 1)[None, None]
    assert quality.seam_ratio(ramp) > 20


def test_diversity():
    ex = stripes(64)
    assert quality.diversity([ex, ex], ex) == 0
    assert quality.diversity([stripes(64, seed=1), stripes(64, seed=2)], ex) > 0.3


def test_false_colour_share_sees_colours_the_exemplar_never_has():
    from patchtex.quality import false_colour_share

    gen = torch.Generator().manual_seed(0)
    exemplar = torch.rand(1, 3, 40, 40, generator=gen) * 2 - 1
    exemplar[:, 0] = -0.8  # blue-green: red is always low
    same_kind = exemplar.flip(-1)
    assert false_colour_share(same_kind, exemplar) == 0.0
    flecked = same_kind.clone()
    flecked[:, :, :4, :10] = torch.tensor([0.9, -0.9, 0.9])[:, None, None]  # 40 magenta pixels
    assert abs(false_colour_share(flecked, exemplar) - 40 / 1600) < 1e-9
    dark = torch.rand(1, 1, 40, 40, generator=gen) * 0.5 - 1  # grey, never brighter than -0.5
    lit = dark.clone()
    lit[..., :2, :] = 0.8
    assert false_colour_share(dark.flip(-2), dark) == 0.0 and abs(false_colour_share(lit, dark) - 0.05) < 1e-9


def _discs(size: int, seed: int) -> torch.Tensor:
    """Bright discs of radius 7 px, some touching, on a dark noisy ground: objects."""
    gen = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    image = torch.full((size, size), -0.6) + 0.1 * torch.randn(size, size, generator=gen)
    for cy, cx in (torch.rand(size * size // 250, 2, generator=gen) * size).tolist():
        image[(yy - cy) ** 2 + (xx - cx) ** 2 <= 49] = 0.7
    return image.expand(3, -1, -1)[None].clone()


def test_structure_ratio_ranks_new_texture_before_cut_up_and_blurred_objects():
    ex, held = _discs(160, 0), _discs(160, 1)
    assert quality.structure_ratio(ex, held, ex) == 1.0
    tiles = ex.unfold(2, 16, 16).unfold(3, 16, 16).reshape(1, 3, 100, 16, 16)
    order = torch.randperm(100, generator=torch.Generator().manual_seed(0))
    shuffled = tiles[:, :, order].reshape(1, 3, 10, 10, 16, 16).permute(0, 1, 2, 4, 3, 5).reshape(1, 3, 160, 160)
    others = [quality.structure_ratio(_discs(160, seed), held, ex) for seed in (2, 3, 4)]  # new samples
    cut = quality.structure_ratio(shuffled, held, ex)
    assert sum(others) / 3 < 1.3 and max(others) < cut
    assert cut > 1.5 * sum(others) / 3
    assert quality.structure_ratio(_blur(_blur(ex)), held, ex) > cut
