"""Synthesis: one endless plane per seed, windows exact, tileable output wraps."""

import numpy as np
import pytest
import torch

from patchtex.images import to_uint8
from patchtex.model import upsample_valid
from patchtex.sample import (
    TILE,
    KeyedSource,
    calm_edges,
    fourier_resize,
    iter_window,
    periodic_upsample,
    quantize_waves,
    render_window,
    synth_tileable,
    tileable_period,
    tileable_periods,
    wrapped_crop,
)

CPU = torch.device("cpu")


@pytest.mark.parametrize("size", [(1, 1), (37, 23), (64, 65), (TILE + 3, 17)])
def test_shapes_at_odd_sizes(tiny_model, size):
    out = tiny_model.synth(size, seed=0)
    assert out.shape == (1, 3, size[1], size[0])
    assert out.dtype == torch.float32 and out.min() >= -1 and out.max() <= 1


def test_same_seed_same_pixels_different_seed_differs(tiny_model):
    a = tiny_model.synth((40, 30), seed=5)
    assert torch.equal(a, tiny_model.synth((40, 30), seed=5))
    assert not torch.equal(a, tiny_model.synth((40, 30), seed=6))


def test_window_equals_region_of_larger_render(tiny_model):
    # the region straddles a canonical tile boundary and negative coordinates
    big = tiny_model.synth_window(-40, -24, TILE + 80, 60, seed=3)
    for x, y, w, h in [(-40, -24, 10, 10), (-3, -2, 7, 5), (TILE - 5, 10, 11, 9), (0, 0, 1, 1), (TILE + 39, 35, 1, 1)]:
        win = tiny_model.synth_window(x, y, w, h, seed=3)
        region = big[..., y + 24 : y + 24 + h, x + 40 : x + 40 + w]
        assert (win - region).abs().max().item() <= 1e-5
        assert np.array_equal(to_uint8(win), to_uint8(region))


def test_stitched_windows_equal_whole(tiny_model):
    whole = tiny_model.synth((97, 61), seed=1)
    stitched = torch.empty_like(whole)
    xs, ys = [0, 13, 50, 97], [0, 29, 61]  # odd-sized pieces, rendered in reverse order
    for y0, y1 in reversed(list(zip(ys, ys[1:]))):
        for x0, x1 in reversed(list(zip(xs, xs[1:]))):
            stitched[..., y0:y1, x0:x1] = tiny_model.synth_window(x0, y0, x1 - x0, y1 - y0, seed=1)
    assert np.array_equal(to_uint8(stitched), to_uint8(whole))


def test_bands_cover_window_once(tiny_model):
    source = KeyedSource(tiny_model.pyramid, 0, CPU)
    rows = [(row, band.shape[-2]) for row, band in iter_window(tiny_model.pyramid, (5, TILE - 7, 9, 20), source, False)]
    assert rows == [(0, 7), (7, 13)]


def test_periodic_plane_repeats_with_its_period(tiny_model):
    pyramid = tiny_model.pyramid
    period = tileable_period(pyramid, 30, 22)
    assert period[0] % pyramid.config.factor(0) == 0 and period[0] >= 30
    source = KeyedSource(pyramid, 2, CPU, periods=tileable_periods(pyramid, *period))
    a = next(iter_window(pyramid, (0, 0, 16, 12), source, False))[1]
    b = next(iter_window(pyramid, (period[0], -period[1], 16, 12), source, False))[1]
    assert torch.allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("size", [(32, 24), (33, 27)])
def test_tileable_output_wraps(tiny_model, size):
    out = synth_tileable(tiny_model.pyramid, size, 4, device=CPU, bf16=False)
    assert out.shape == (1, 3, size[1], size[0])
    # the step across the wrap is like a step inside
    lum = out.mean(1)[0]
    inside = (lum[:, 1:] - lum[:, :-1]).abs().mean()
    across = (lum[:, 0] - lum[:, -1]).abs().mean()
    assert across < 1.5 * inside


def test_tileable_output_is_a_cyclic_shift_of_the_periodic_plane(tiny_model):
    pyramid = tiny_model.pyramid
    out = synth_tileable(pyramid, (32, 24), 4, device=CPU, bf16=False)
    plane = render_window(
        pyramid, (0, 0, 32, 24), KeyedSource(pyramid, 4, CPU, periods=tileable_periods(pyramid, 32, 24)), False
    ).clamp(-1, 1)
    shifts = [(dy, dx) for dy in range(24) for dx in range(32) if torch.equal(plane.roll((dy, dx), (2, 3)), out)]
    assert len(shifts) == 1


def test_calm_edges_moves_the_wrap_off_a_strong_edge():
    x = torch.zeros(1, 3, 10, 12)
    x[..., :, 5:] = 1.0  # a vertical step between columns 4 and 5 and across the wrap
    x[..., 3:7, :] += 0.5  # horizontal steps at rows 3 and 7
    out = calm_edges(x)
    lum = out.mean(1)[0]
    assert (lum[:, 0] - lum[:, -1]).abs().max() == 0 and (lum[0] - lum[-1]).abs().max() == 0
    tiled = out.repeat(1, 1, 2, 2)
    assert any(torch.equal(tiled[..., dy : dy + 10, dx : dx + 12], x) for dy in range(10) for dx in range(12))


def test_fourier_resize_identity_and_constant():
    x = torch.randn(1, 2, 16, 20, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(fourier_resize(x, 20, 16), x, atol=1e-5)
    const = torch.full((1, 1, 16, 16), 0.25)
    assert torch.allclose(fourier_resize(const, 15, 17), torch.full((1, 1, 17, 15), 0.25), atol=1e-5)


def test_quantized_waves_keep_the_stagger_of_bricks():
    # a course wave and a joint wave whose vertical component is minus half the course's
    waves = torch.tensor([[-0.00015, 0.0373], [0.0126, -0.0185]])
    period = (236, 286)
    cycles = quantize_waves(waves, period).double() * torch.tensor(period, dtype=torch.float64)
    assert torch.allclose(cycles, cycles.round(), atol=1e-4)  # whole cycles: it wraps
    cycles = cycles.round()
    assert cycles[1, 1] == -cycles[0, 1] / 2  # joints still stagger every other course
    assert cycles[0, 0] == 0 and cycles[1, 0] == 3


def test_quantized_waves_round_unrelated_components_on_their_own():
    # a slight tilt (1.76 cycles over the height) is not a lattice relation: keep it
    waves = torch.tensor([[0.0275, 0.00168], [0.0044, 0.0272]])
    cycles = quantize_waves(waves, (552, 1048)) * torch.tensor([552.0, 1048.0])
    assert torch.allclose(cycles, torch.tensor([[15.0, 2.0], [2.0, 29.0]]), atol=1e-3)


def test_tileable_periods_are_exact_where_the_grids_divide(tiny_model):
    pyramid = tiny_model.pyramid
    factors = [pyramid.config.factor(s) for s in range(pyramid.config.num_scales)]
    assert factors[-2:] == [2, 1]
    periods = tileable_periods(pyramid, 34, 27)  # 27 is odd: only the finest grid divides
    assert periods[-1] == (34, 27)
    rounded = tileable_period(pyramid, 34, 27)
    assert periods[:-1] == [(rounded[0] // f, rounded[1] // f) for f in factors[:-1]]
    assert tileable_periods(pyramid, 32, 24)[-2] == (16, 12)


def test_periodic_upsample_is_the_model_upsampling_on_the_wrapped_plane():
    x = torch.randn(1, 2, 6, 5, generator=torch.Generator().manual_seed(1))
    up = periodic_upsample(x)
    assert up.shape == (1, 2, 12, 10)
    tiled = x.repeat(1, 1, 3, 3)  # the periodic plane; rows/cols 6..11 / 5..9 are the middle copy
    ref = upsample_valid(tiled)[..., 2 * 6 - 1 : 2 * 6 - 1 + 12, 2 * 5 - 1 : 2 * 5 - 1 + 10]
    assert torch.allclose(up, ref, atol=1e-6)
    crop = wrapped_crop(up, (-3, 25, 7, 4))
    assert torch.equal(crop, up.repeat(1, 1, 4, 2)[..., 1:5, 7:14])
