"""Synthesis: one endless plane per seed, windows exact, tileable output wraps."""

import numpy as np
import pytest
import torch

from patchtex.canvas import (
    TILE,
    Canvas,
    calm_offsets,
    exact_scale,
    fourier_resize,
    periodic_upsample,
    quantize_waves,
    reduced_basis,
    tileable_period,
    tileable_periods,
    wrapped_crop,
)
from patchtex.images import to_uint8
from patchtex.layout import lattice_strain
from patchtex.model import upsample_valid

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
    canvas = Canvas(tiny_model.pyramid, 0, device=CPU, bf16=False)
    rows = [(row, band.shape[-2]) for row, band in canvas.bands((5, TILE - 7, 9, 20))]
    assert rows == [(0, 7), (7, 13)]


# (32, 24): every scale's grid divides it; (33, 27): only the finest does, so the coarse
# image is resampled in the Fourier domain
@pytest.mark.parametrize("size", [(32, 24), (33, 27)])
def test_tileable_output_is_one_period_of_a_periodic_plane(tiny_model, size):
    pyramid = tiny_model.pyramid
    width, height = size
    assert (exact_scale(pyramid, width, height) == 0) == (size == (32, 24))
    canvas = Canvas(pyramid, 4, device=CPU, bf16=False, tileable=size)
    out = canvas.image()
    assert out.shape == (1, 3, height, width)
    # render the plane itself across the period's corner, where a plane that does not
    # wrap (noise, waves or the resampled coarse image) would show its seam, and compare
    # it with the output repeated 2x2 there
    col, row = canvas.origin
    tiled = out.repeat(1, 1, 2, 2)
    rect = (width - 12 + col, height - 12 + row, 24, 24)
    finest = pyramid.config.num_scales - 1
    with torch.no_grad():
        plane = pyramid.render(finest, rect, canvas.source, upsampled=canvas._upsampled()).clamp(-1, 1)
    across = tiled[..., height - 12 : height + 12, width - 12 : width + 12]
    assert (plane - across).abs().max() < 1e-4


@pytest.mark.parametrize("size", [(32, 24), (33, 27)])
def test_tileable_windows_repeat_the_output_in_any_order(tiny_model, size):
    canvas = tiny_model.canvas(6, size=size, tileable=True)
    tiled = canvas.image().repeat(1, 1, 3, 3)
    width, height = size
    for x, y, w, h in reversed([(0, 0, 5, 5), (width - 3, 2, 9, 4), (-width, -height, 2 * width, height + 1)]):
        window = canvas.window(x, y, w, h)
        assert torch.equal(window, tiled[..., y + height : y + height + h, x + width : x + width + w])


def test_calm_offsets_move_the_wrap_off_a_strong_edge():
    x = torch.zeros(1, 3, 10, 12)
    x[..., :, 5:] = 1.0  # a vertical step between columns 4 and 5 and across the wrap
    x[..., 3:7, :] += 0.5  # horizontal steps at rows 3 and 7
    col, row = calm_offsets([x[..., :4, :], x[..., 4:, :]])  # given in two bands
    assert x[..., :, col - 1].equal(x[..., :, col]) and x[..., row - 1, :].equal(x[..., row, :])
    assert col not in (0, 5) and row not in (3, 7)


def test_periodic_resampling_keeps_whole_cycles():
    n, m = 20, 23
    wave = torch.sin(2 * torch.pi * 3 * torch.arange(n, dtype=torch.float64) / n).float()
    resized = fourier_resize(wave.expand(1, 1, 4, n).clone(), m, 4)[0, 0, 0]
    expected = torch.sin(2 * torch.pi * 3 * torch.arange(m, dtype=torch.float64) / m).float()
    assert torch.allclose(resized, expected, atol=1e-5)


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


@pytest.mark.parametrize("period", [(550, 406), (620, 458), (692, 510), (764, 564), (436, 552)])
def test_quantized_waves_keep_a_lattice_named_by_an_unreduced_pair(period):
    # a diamond plate's waves: its 9.96 px ridge wave and one 31.9 px fundamental; the
    # other fundamental is the first minus three times the second. Rounding the pair as
    # named strained its lattice 6-14 % at these sizes (3x the second's error went into
    # the other fundamental; tileable patch SWD 1.5x plain's); rounding the reduced pair
    # strains it at most about 0.5 / 12 cycles a period
    waves = torch.tensor([[0.05073, 0.08650], [0.02380, 0.02064]], dtype=torch.float64)
    out = quantize_waves(waves, period).double()
    cycles = out * torch.tensor(period, dtype=torch.float64)
    assert torch.allclose(cycles, cycles.round(), atol=1e-4)  # whole cycles: it wraps
    assert lattice_strain(waves, out) < 0.045
    # the same waves, made from the same whole multiples of the rounded basis
    basis, multiples = reduced_basis(waves)
    assert torch.allclose(multiples @ basis, waves) and torch.equal(multiples, multiples.round())


def test_a_reduced_basis_is_the_lattices_shortest_pair():
    g = torch.Generator().manual_seed(0)
    for _ in range(50):
        basis = torch.randn(2, 2, generator=g, dtype=torch.float64)
        mix = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
        for _ in range(3):  # an unimodular mix: the same lattice, a longer pair
            k = float(torch.randint(-3, 4, (1,), generator=g))
            mix = mix @ (torch.tensor([[1.0, k], [0.0, 1.0]], dtype=torch.float64).flip(int(k) % 2))
        waves = mix @ basis
        reduced, multiples = reduced_basis(waves)
        assert torch.allclose(multiples @ reduced, waves)
        assert torch.equal(multiples, multiples.round()) and abs(abs(float(torch.linalg.det(multiples))) - 1) < 1e-9
        a, b = reduced
        assert a.norm() <= b.norm() + 1e-12 and abs(float(a.dot(b))) <= a.dot(a) / 2 + 1e-12
        # as short as the shortest vectors of the lattice (any small combination)
        shortest = min(
            float((i * basis[0] + j * basis[1]).norm()) for i in range(-6, 7) for j in range(-6, 7) if i or j
        )
        assert float(a.norm()) <= shortest + 1e-9


def test_lattice_strain_is_the_stretch_whatever_pair_names_the_lattice():
    waves = torch.tensor([[0.05, 0.02], [-0.01, 0.04]], dtype=torch.float64)
    assert lattice_strain(waves, waves) < 1e-12
    # waves 1.05x longer: the plane's x reads the exemplar at x / 1.05
    assert abs(lattice_strain(waves, waves / 1.05) - (1 - 1 / 1.05)) < 1e-9
    mix = torch.tensor([[1.0, 3.0], [0.0, 1.0]], dtype=torch.float64)
    assert abs(lattice_strain(mix @ waves, mix @ waves / 1.05) - (1 - 1 / 1.05)) < 1e-9
    one = waves[:1]  # one wave: only along it
    assert abs(lattice_strain(one, one * 0.9) - 0.1) < 1e-9


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


def _window(canvas, rect):
    return canvas.window(*rect)


def test_windows_rendered_in_another_process_are_the_bytes_of_a_whole_render(tiny_model):
    import multiprocessing

    canvases = [Canvas(tiny_model.pyramid, 8, device=CPU, bf16=False, tileable=t) for t in (None, (33, 27))]
    rects = [(30, 25, 20, 25), (-20, -10, 50, 35), (-20, 25, 50, 25), (30, -10, 20, 35)]  # out of order
    jobs = [(canvas, rect) for canvas in canvases for rect in rects]
    with multiprocessing.get_context("spawn").Pool(1) as pool:  # one process start for all
        parts = pool.starmap(_window, jobs)
    for (canvas, (x, y, w, h)), part in zip(jobs, parts):
        whole = canvas.window(-20, -10, 70, 60)
        assert torch.equal(part, whole[..., y + 10 : y + 10 + h, x + 20 : x + 20 + w])


def test_moved_waves_are_the_planes_further_on_and_the_noise_stays(tiny_model):
    from patchtex.canvas import KeyedSource

    pyramid = tiny_model.pyramid
    plain, moved = KeyedSource(pyramid, 5, CPU), KeyedSource(pyramid, 5, CPU)
    moved.move_waves(4, 6)
    noise = pyramid.config.noise_channels
    rect = (5, 3, 10, 10)
    assert pyramid.config.waves_at(1)  # the finest scale is fed the wave
    assert torch.allclose(moved(1, rect)[:, noise:], plain(1, (9, 9, 10, 10))[:, noise:], atol=1e-5)
    assert torch.equal(moved(1, rect)[:, :noise], plain(1, rect)[:, :noise])


def test_fine_noise_sets_the_spread_of_every_finer_scales_noise_in_fits_and_renders():
    """`ModelConfig.fine_noise` scales the noise channels of scales > 0 where a render
    draws them (`KeyedSource`) and where a fit does (`TrainingSource`), `draw_noise`
    those a render draws only; the coarsest scale's noise keeps a spread of 1, and old
    records read as 1 everywhere."""
    import dataclasses
    import json

    from patchtex.canvas import KeyedSource
    from patchtex.config import ModelConfig, TrainConfig
    from patchtex.model import Pyramid
    from patchtex.train import TrainingSource

    plain = ModelConfig(num_scales=3, channels=(8, 8, 8), layers=(3, 3, 3))
    quiet = dataclasses.replace(plain, fine_noise=0.25)
    rect = (0, 0, 128, 128)
    for scale, spread in ((0, 1.0), (1, 0.25), (2, 0.25)):
        a = KeyedSource(Pyramid(plain), 5, CPU)(scale, rect)
        b = KeyedSource(Pyramid(quiet), 5, CPU)(scale, rect)
        assert torch.allclose(b, a * spread)
        fitted = TrainingSource(quiet, torch.zeros(0, 2), 2, torch.Generator().manual_seed(0), CPU)(scale, rect)
        assert abs(fitted.std().item() - spread) < 0.02 * spread
        drawn = dataclasses.replace(quiet, draw_noise=0.5)
        c = KeyedSource(Pyramid(drawn), 5, CPU)(scale, rect)
        assert torch.allclose(c, a * spread * (0.5 if scale else 1.0))
        fitted = TrainingSource(drawn, torch.zeros(0, 2), 2, torch.Generator().manual_seed(0), CPU)(scale, rect)
        assert abs(fitted.std().item() - spread) < 0.02 * spread  # a fit trains at fine_noise alone
    assert ModelConfig.from_json(quiet.to_json()) == quiet
    raw = json.loads(quiet.to_json())
    del raw["fine_noise"]
    assert ModelConfig.from_json(json.dumps(raw)).fine_noise == 1.0
    assert TrainConfig().fine_noise == 0.1  # new fits (session 28)
    assert TrainConfig.from_json(json.dumps({"seed": 0})).fine_noise == 1.0  # a record from before
