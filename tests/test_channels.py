"""The channel convention: which channels are colour, which is alpha, and conversions."""

import pytest
import torch

from patchtex.channels import colour_mean, comparable, match_channels


def _image(channels: int) -> torch.Tensor:
    return torch.rand(1, channels, 5, 6, generator=torch.Generator().manual_seed(channels)) * 2 - 1


def test_colour_to_grey_is_the_mean_and_grey_to_colour_repeats_it():
    rgb = _image(3)
    grey = match_channels(rgb, 1)
    assert torch.allclose(grey[:, 0], rgb.mean(1))
    back = match_channels(grey, 3)
    assert all(torch.equal(back[:, c], grey[:, 0]) for c in range(3))


@pytest.mark.parametrize("source, target", [(4, 3), (2, 1), (4, 1)])
def test_alpha_is_dropped_not_mixed_into_colour(source, target):
    image = _image(source)
    out = match_channels(image, target)
    expected = image[:, :3] if target == 3 else colour_mean(image)[:, None]
    assert torch.allclose(out, expected)


@pytest.mark.parametrize("source, target", [(3, 4), (1, 2), (1, 4)])
def test_added_alpha_is_opaque(source, target):
    out = match_channels(_image(source), target)
    assert out.shape[1] == target and torch.equal(out[:, -1], torch.ones_like(out[:, -1]))


def test_alpha_is_kept_between_alpha_formats():
    rgba = _image(4)
    assert torch.equal(match_channels(rgba, 2)[:, 1], rgba[:, 3])


def test_comparable_ignores_alpha_and_greys_colour_against_grey():
    a, b = comparable(_image(4), _image(2))
    assert a.shape[1] == b.shape[1] == 1
    assert torch.allclose(a[:, 0], colour_mean(_image(4)))
    a, b = comparable(_image(4), _image(3))
    assert torch.equal(a, _image(4)[:, :3]) and torch.equal(b, _image(3))
