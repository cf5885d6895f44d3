"""The grid geometry that exact windows rest on: two paths, one answer."""

import json

import pytest
import torch
import torch.nn.functional as F

from patchtex.config import ModelConfig, default_model_config, num_scales_for, wave_scales_for
from patchtex.model import coarse_rect, cond_channels, downsample, upsample_into, upsample_valid


def test_valid_upsampling_equals_bilinear_interior():
    coarse = torch.randn(1, 3, 9, 11, generator=torch.Generator().manual_seed(0))
    full = F.interpolate(coarse, scale_factor=2, mode="bilinear", align_corners=False)
    valid = upsample_valid(coarse)
    # valid output pixel 0 is fine pixel 1
    assert torch.allclose(valid, full[..., 1:-1, 1:-1], atol=1e-6)


@pytest.mark.parametrize("rect", [(0, 0, 10, 7), (-13, 5, 17, 9), (3, -8, 1, 1), (-1, -1, 32, 31)])
def test_upsample_into_matches_global_field(rect):
    """Upsampling only the coarse rect a fine rect needs gives the global answer."""
    gen = torch.Generator().manual_seed(1)
    origin = -40  # global coarse field covers [origin, origin + 80)
    field = torch.randn(1, 2, 80, 80, generator=gen)
    up = upsample_valid(field)  # fine pixel 2*origin + 1 at index 0
    crect = coarse_rect(rect)
    cx, cy, cw, ch = crect
    part = field[..., cy - origin : cy - origin + ch, cx - origin : cx - origin + cw]
    x0, y0, w, h = rect
    fx, fy = x0 - (2 * origin + 1), y0 - (2 * origin + 1)
    assert torch.equal(upsample_into(part, crect, rect), up[..., fy : fy + h, fx : fx + w])


def test_downsample_inverts_grid_of_upsampling_for_constant_image():
    coarse = torch.full((1, 1, 6, 6), 0.3)
    assert torch.allclose(downsample(upsample_valid(coarse)), torch.full((1, 1, 5, 5), 0.3))


@pytest.mark.parametrize(
    "short, coarse, expected",
    [(32, 40, 1), (48, 40, 1), (80, 40, 2), (199, 40, 3), (256, 40, 4), (512, 40, 5), (1024, 40, 6)],
)
def test_num_scales(short, coarse, expected):
    assert num_scales_for(short, coarse) == expected


def test_config_json_round_trip():
    cfg = ModelConfig(
        image_channels=1, num_scales=2, channels=(8, 4), layers=(3, 2), waves=((0.1, -0.2),), wave_scales=((0, 1),)
    )
    assert ModelConfig.from_json(cfg.to_json()) == cfg


def test_a_wave_enters_where_its_scale_resolves_it():
    # lego's studs: 16 px at the finest; at the coarsest of 4 scales (8x) that is 2 px a
    # period, where sin and cos lose the phase, so the wave starts one scale finer
    studs, rows = (1 / 16.1, 0.0), (0.0, 1 / 32.9)
    assert wave_scales_for((studs, rows), 4, "finer") == ((1, 2, 3), (0, 1, 2, 3))
    assert wave_scales_for((studs, rows), 4, "entry") == ((1,), (0,))
    assert wave_scales_for((studs, rows), 4, "coarsest") == ((0,), (0,))
    # the diamond plate's ridge harmonic, 9.96 px, is 2.49 px at 4x: it stays at the coarsest
    assert wave_scales_for(((0.0509, 0.0866),), 3, "entry") == ((0,),)
    cfg = default_model_config(3, 256, 40, (studs, rows))
    assert [cond_channels(cfg, s) - cfg.noise_channels for s in range(4)] == [2, 4, 4, 4]


def test_a_model_file_from_before_wave_scales_feeds_every_wave_at_the_coarsest_only():
    cfg = ModelConfig(num_scales=2, channels=(8, 4), layers=(3, 2), waves=((0.1, 0.0), (0.0, 0.1)))
    raw = json.loads(cfg.to_json())
    del raw["wave_scales"]
    old = ModelConfig.from_json(json.dumps(raw))
    assert [cond_channels(old, s) - old.noise_channels for s in range(2)] == [4, 0]


@pytest.mark.parametrize("bad", [dict(image_channels=5), dict(num_scales=3), dict(layers=(1, 3, 3, 3))])
def test_config_rejects_bad_values(bad):
    with pytest.raises(ValueError):
        ModelConfig(**bad)
