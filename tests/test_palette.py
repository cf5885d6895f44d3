"""The exemplar's colours as a training signal: zero on them, a gradient back to them."""

import pytest
import torch

from patchtex.config import TrainConfig
from patchtex.palette import distance_field, distances, support_loss
from patchtex.quality import false_colour_share

from .conftest import scale_fits

RED = torch.tensor([0.9, -0.9, -0.9])
BLUE = torch.tensor([-0.9, -0.9, 0.9])


def _two_colours(size: int = 32) -> torch.Tensor:
    """Red and blue blocks of 8 px, hard edges: [1,3,size,size] with only those two colours."""
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    blue = (((yy // 8) + (xx // 8)) % 2 == 1)[None, None]
    return torch.where(blue, BLUE.view(1, 3, 1, 1), RED.view(1, 3, 1, 1))


def _pixels(*colours: torch.Tensor) -> torch.Tensor:
    return torch.stack(colours).T.reshape(1, 3, 1, len(colours))


def test_the_exemplars_own_colours_cost_nothing_blends_and_overshoot_do():
    field = distance_field(_two_colours())
    purple = (RED + BLUE) / 2
    overshoot = torch.tensor([1.4, -0.9, -1.3])
    d = distances(_pixels(RED, BLUE, RED + 0.03, purple, overshoot), field)[0, 0]
    assert d[0] == 0 and d[1] == 0 and d[2] == 0  # within the margin of a colour it has
    assert d[3] > 0.8  # halfway between red and blue: ~1.27 from either, less the margin
    assert d[4] > 0.3
    assert support_loss(_two_colours(), field) == 0


def test_a_gradient_step_moves_a_blend_back_towards_the_palette():
    field = distance_field(_two_colours())
    pixel = _pixels(0.6 * RED + 0.4 * BLUE).requires_grad_(True)
    before = support_loss(pixel, field)
    before.backward()
    with torch.no_grad():
        after = support_loss(pixel - 0.5 * pixel.grad / pixel.grad.norm(), field)
    assert before > 0 and after < 0.5 * before


def test_pixels_outside_the_valid_mask_give_no_colour():
    image = _two_colours()
    image[..., :4, :4] = torch.tensor([0.9, -0.9, 0.9]).view(1, 3, 1, 1)  # a magenta patch
    valid = torch.ones(1, 1, 32, 32)
    valid[..., :4, :4] = 0
    magenta = _pixels(torch.tensor([0.9, -0.9, 0.9]))
    assert distances(magenta, distance_field(image)).item() == 0
    assert distances(magenta, distance_field(image, valid)).item() > 0.8


def test_grey_images_have_a_grey_palette():
    grey = _two_colours()[:, :1]  # -0.9 and 0.9 only
    field = distance_field(grey)
    assert field.shape == (1, 1, 1, 65)
    d = distances(torch.tensor([-0.9, 0.0, 0.9]).view(1, 1, 1, 3), field)[0, 0]
    assert d[0] == 0 and d[2] == 0 and d[1] > 0.7


def test_descending_the_loss_leaves_no_colour_the_exemplar_lacks():
    """Noise optimised by the support loss alone ends with none of the exemplar's false
    colours (as `quality.false_colour_share` counts them), where it started with many."""
    exemplar = _two_colours()
    field = distance_field(exemplar)
    image = (torch.rand(1, 3, 24, 24, generator=torch.Generator().manual_seed(0)) * 2 - 1).requires_grad_(True)
    before = false_colour_share(image.detach(), exemplar)
    opt = torch.optim.Adam([image], lr=0.02)
    for _ in range(200):
        opt.zero_grad()
        support_loss(image, field).backward()
        opt.step()
    assert before > 0.5 and false_colour_share(image.detach(), exemplar) == 0


@pytest.mark.parametrize("coarse, fine", [(0.0, 300.0), (10.0, 0.0)])
def test_each_scale_is_held_to_its_own_levels_colours(coarse, fine):
    """coarse_palette_weight steers scale 0, palette_weight every finer scale; a scale with
    a weight reads the field of its own exemplar level and reports its loss."""
    train = TrainConfig(steps=(1, 1), batch_size=2, crop_size=16, palette_weight=fine, coarse_palette_weight=coarse)
    for fit, weight in zip(scale_fits(train), (coarse, fine)):
        assert (fit.palette is not None) == (weight > 0)
        losses = fit.generator_step(*fit.batch())
        assert ("pal" in losses) == (weight > 0)
        if weight > 0:
            assert fit.palette_weight == weight
            assert torch.equal(fit.palette, distance_field(fit.levels[fit.scale]))


def test_records_from_before_the_palette_loss_read_as_without_it():
    raw = TrainConfig(palette_weight=5.0, coarse_palette_weight=5.0).to_json()
    raw = raw.replace('"palette_weight": 5.0, ', "").replace('"coarse_palette_weight": 5.0, ', "")
    assert "palette_weight" not in raw
    old = TrainConfig.from_json(raw)
    assert old.palette_weight == 0.0 and old.coarse_palette_weight == 0.0


def test_each_channel_is_read_as_itself():
    """A red-and-green exemplar: red and green cost nothing, blue (red with its red and
    blue channels swapped) costs as much as any colour far from both."""
    green = torch.tensor([-0.9, 0.9, -0.9])
    image = torch.cat([_pixels(RED).expand(1, 3, 4, 1), _pixels(green).expand(1, 3, 4, 1)], dim=-1)
    d = distances(_pixels(RED, green, BLUE), distance_field(image))[0, 0]
    assert d[0] == 0 and d[1] == 0 and d[2] > 1.0
