"""refine: unmasked pixels untouched, holes filled, upscale keeps the coarse content."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner
from PIL import Image

import patchtex
from patchtex.canvas import Canvas
from patchtex.cli import main
from patchtex.images import load_image, to_uint8
from patchtex.refine import (
    auto_mask,
    best_fill_per_hole,
    coarse_fill,
    feather,
    feather_weight,
    patch_fill,
    push_pull_fill,
    read_damage,
    smooth_fill,
)
from patchtex.refine.fill import correlate

from .conftest import stripes


def _damaged(size=48):
    image = stripes(size)
    mask = torch.zeros(1, 1, size, size)
    mask[..., 10:26, 12:30] = 1
    damaged = image.clone()
    damaged[..., 10:26, 12:30] = 1.0  # a white hole
    return image, damaged, mask


def test_unmasked_pixels_are_unchanged(tiny_model):
    _, damaged, mask = _damaged()
    out = tiny_model.refine(damaged, mask, strength=0.7, seed=1)
    keep = mask[0, 0] == 0
    assert np.array_equal(to_uint8(out)[keep.numpy()], to_uint8(damaged)[keep.numpy()])
    # the hole is no longer the flat white fill
    assert (out[..., 12:24, 14:28] < 0.9).float().mean() > 0.5


def test_strength_zero_without_mask_is_identity(tiny_model):
    image = stripes()
    assert torch.equal(tiny_model.refine(image, None, strength=0.0), image)


def test_refine_changes_more_with_more_strength(tiny_model):
    image = stripes()
    low = (tiny_model.refine(image, strength=0.5, seed=0) - image).abs().mean()
    high = (tiny_model.refine(image, strength=1.0, seed=0) - image).abs().mean()
    assert high >= low


@pytest.mark.parametrize("strength", [0.1, 0.5])
def test_any_strength_regenerates_the_finest_scale_of_a_two_scale_model(tiny_model, strength):
    # most exemplars quilted at 1/2 fit two scales: the default strength (0.5) once
    # rounded to no scale and returned the image unchanged
    assert tiny_model.config.num_scales == 2
    image = stripes()
    assert (tiny_model.refine(image, strength=strength, seed=0) - image).abs().mean() > 0.01


def test_upscale_shape_and_coarse_content(tiny_model):
    image = stripes()
    out = tiny_model.refine(image, upscale=2, strength=0.0)
    assert out.shape == (1, 3, 96, 96)
    back = torch.nn.functional.avg_pool2d(out, 2)
    # back-projection keeps the 2x2 averages near the input (0.05 here; 0.10 without it)
    assert (back - image).abs().mean() < 0.07


def test_mask_size_mismatch_is_an_error(tiny_model):
    with pytest.raises(ValueError, match="the mask is 10x10 but the image is 48x48"):
        tiny_model.refine(stripes(), torch.ones(1, 1, 10, 10))


def test_push_pull_fills_only_unknown():
    image = torch.rand(1, 3, 20, 20, generator=torch.Generator().manual_seed(0))
    known = torch.ones(1, 1, 20, 20)
    known[..., 5:15, 5:15] = 0
    filled = push_pull_fill(image, known)
    assert torch.equal(filled[..., :5, :], image[..., :5, :])
    inside = filled[..., 5:15, 5:15]
    assert inside.min() >= image.min() and inside.max() <= image.max()


def test_smooth_fill_continues_a_line_across_a_thin_gap():
    # dark ground, a bright 1 px line along row 10, and a 3 px wide vertical scratch
    image = torch.full((1, 1, 24, 24), -0.8)
    image[..., 10, :] = 0.8
    known = torch.ones(1, 1, 24, 24)
    known[..., 10:13] = 0
    filled = smooth_fill(image, known)
    assert torch.equal(filled[..., known[0, 0] > 0], image[..., known[0, 0] > 0])
    line, ground = filled[0, 0, 10, 10:13], filled[0, 0, 4, 10:13]
    assert line.min() > ground.max() + 0.6  # the line goes on through the gap
    assert ground.max() < -0.65  # and the ground beside it stays dark
    # push-pull averages the neighbourhood into a dim smudge instead
    assert push_pull_fill(image, known)[0, 0, 10, 10:13].mean() < line.mean() - 0.3


def test_auto_mask_finds_flat_hole_and_scribble():
    image = stripes(64)
    image[..., 20:36, 20:36] = 0.0  # flat grey hole
    image[0, :, 50, 5:40] = torch.tensor([1.0, -1.0, -1.0])[:, None]  # pure red scribble
    mask = auto_mask(image)[0, 0]
    assert mask[28, 28] == 1 and mask[50, 20] == 1
    assert mask[5, 5] == 0 and mask[:15].mean() < 0.05
    assert bool(mask[20:36, 20:36].all())  # every pixel of the hole, its corners too


def _png(path, tensor):
    Image.fromarray(to_uint8(tensor).squeeze(-1) if tensor.shape[1] == 1 else to_uint8(tensor)).save(path)
    return path


def test_cli_refine_with_mask_keeps_outside_bytes(model_file, tmp_path):
    _, damaged, mask = _damaged()
    src = _png(tmp_path / "damaged.png", damaged)
    mask_path = _png(tmp_path / "mask.png", mask * 2 - 1)
    out = tmp_path / "fixed.png"
    result = CliRunner().invoke(
        main, ["refine", str(src), "--mask", str(mask_path), "--model", str(model_file), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    before, after = np.asarray(Image.open(src)), np.asarray(Image.open(out))
    keep = np.asarray(Image.open(mask_path)) == 0
    assert np.array_equal(before[keep], after[keep])


def test_cli_refine_self_fit_and_save_model(tmp_path):
    _, damaged, mask = _damaged()
    rgba = torch.cat([damaged, 1 - 2 * mask], 1)  # transparent where damaged
    src = _png(tmp_path / "hole.png", rgba)
    out, saved = tmp_path / "fixed.png", tmp_path / "self.safetensors"
    result = CliRunner().invoke(
        main, ["refine", str(src), "--steps", "2", "--save-model", str(saved), "-o", str(out), "-q"]
    )
    assert result.exit_code == 0, result.output
    assert "transparent pixels" in result.output
    assert saved.exists() and load_image(out).pixels.shape == (1, 3, 48, 48)
    assert patchtex.load(saved).meta["exemplar"]["name"] == "hole.png"


@pytest.mark.parametrize("mask_value, message", [(-1.0, "marks no pixel as damaged"), (1.0, "covers the whole image")])
def test_cli_refine_rejects_empty_and_full_masks(tmp_path, mask_value, message):
    src = _png(tmp_path / "img.png", stripes())
    mask_path = _png(tmp_path / "m.png", torch.full((1, 1, 48, 48), mask_value))
    result = CliRunner().invoke(main, ["refine", str(src), "--mask", str(mask_path), "-o", str(tmp_path / "o.png")])
    assert result.exit_code == 2 and message in result.output
    assert not (tmp_path / "o.png").exists()


def test_cli_refine_never_overwrites_input(model_file, tmp_path):
    src = _png(tmp_path / "img.png", stripes())
    before = src.read_bytes()
    result = CliRunner().invoke(main, ["refine", str(src), "--model", str(model_file), "-o", str(src)])
    assert result.exit_code == 2 and "is the input file" in result.output
    assert src.read_bytes() == before


def test_each_hole_keeps_its_own_best_fill():
    image = torch.zeros(1, 3, 20, 30)
    mask = torch.zeros(1, 1, 20, 30)
    mask[..., 4:9, 3:8] = 1  # hole A
    mask[..., 10:16, 18:26] = 1  # hole B
    a, b = image.clone(), image.clone()
    a[..., 10:16, 18:26] = 0.8  # fill a steps at B's border, matches at A's
    b[..., 4:9, 3:8] = -0.6  # fill b steps at A's border, matches at B's
    out = best_fill_per_hole([a, b], mask)
    assert torch.equal(out, image)  # both holes took the fill without a step


def test_a_hole_keeps_the_fill_with_the_surroundings_texture_not_the_smoothest_border():
    """A flat fill at the surroundings' mean steps less along the border of a hole in grain
    (0.8 sigma a pixel against 1.13 for new grain) but is no texture: each hole takes the
    fill whose patches look like the known ones around it."""
    generator = torch.Generator().manual_seed(0)
    image = 0.3 * torch.randn(1, 3, 64, 64, generator=generator)
    mask = torch.zeros(1, 1, 64, 64)
    mask[..., 10:30, 8:28] = 1
    mask[..., 40:44, 5:60] = 1  # a scratch
    hole = mask[0, 0] > 0
    grain = torch.where(hole, 0.3 * torch.randn(1, 3, 64, 64, generator=generator), image)
    flat = torch.where(hole, image.mean(dim=(2, 3), keepdim=True), image)
    for fills in ([flat, grain], [grain, flat]):
        assert torch.equal(best_fill_per_hole(fills, mask), grain)


def test_correlate_is_the_direct_convolution():
    generator = torch.Generator().manual_seed(1)
    image, kernel = torch.randn(1, 3, 50, 41, generator=generator), torch.randn(1, 3, 13, 7, generator=generator)
    assert torch.allclose(correlate(image, kernel), F.conv2d(image, kernel), atol=1e-4)


def test_coarse_fill_keeps_thin_scribbles_near_their_sides(tiny_model):
    pyramid = tiny_model.pyramid
    smooth = torch.zeros(1, 3, 24, 24)
    mask = torch.zeros(1, 1, 24, 24)
    mask[..., :, 11:12] = 1  # one pixel wide: depth 1, mostly the smooth fill
    mask[..., 2:10, 2:10] = 1  # 8x8: its middle is new layout
    out, _, _ = coarse_fill(smooth, mask, Canvas(pyramid, 0, device=torch.device("cpu"), bf16=False))
    assert torch.equal(out[..., mask[0, 0] == 0], smooth[..., mask[0, 0] == 0])
    line = out[..., 12:, 11].abs().max()
    middle = out[..., 5:7, 5:7].abs().max()
    assert line <= 0.25 + 1e-6 and middle > 0.05


class _Plane:
    """A stand-in for a canvas's coarsest scale: a fixed periodic plane (diagonal
    stripes, period 7 by 11), so the right fill of a hole is known exactly."""

    def step(self, scale, prev, rect):
        x0, y0, w, h = rect
        yy, xx = torch.meshgrid(torch.arange(y0, y0 + h), torch.arange(x0, x0 + w), indexing="ij")
        wave = torch.sin(2 * torch.pi * (yy / 7 + xx / 11)).float()
        return torch.stack([wave, -wave, 0.5 * wave])[None]


def test_coarse_fill_continues_a_periodic_layout_at_its_phase():
    """The known pixels are the plane at an offset the sample never starts at; the hole
    gets the plane's own pixels (at the right phase), not just any stripes."""
    truth = _Plane().step(0, None, (1000, 37, 40, 40))
    mask = torch.zeros(1, 1, 40, 40)
    mask[..., 12:30, 9:27] = 1
    smooth = torch.where(mask > 0, torch.zeros_like(truth), truth)
    out, (dx, dy), _ = coarse_fill(smooth, mask, _Plane())
    # the layout came from where the plane is the truth: finer scales' waves move by that
    assert torch.allclose(_Plane().step(0, None, (dx, dy, 40, 40)), truth, atol=1e-4)
    deep = mask.clone()
    deep[..., 12:15, :] = deep[..., 27:30, :] = deep[..., :, 9:12] = deep[..., :, 24:27] = 0  # blend=1 there
    assert torch.allclose(out[..., deep[0, 0] > 0], truth[..., deep[0, 0] > 0], atol=1e-3)


def test_coarse_fill_takes_the_known_colour_deep_in_a_hole_but_leaves_scratches_alone():
    """The image is the plane 0.3 brighter (the model was fitted on pixels in another
    light): deep inside a large hole the layout is the plane's at its phase and at the
    image's colour; a 2 px scratch, all border, is not shifted."""
    truth = _Plane().step(0, None, (1000, 37, 60, 60)) + 0.3
    mask = torch.zeros(1, 1, 60, 60)
    mask[..., 8:34, 8:34] = 1
    mask[..., 44:46, 4:56] = 1
    smooth = torch.where(mask > 0, torch.zeros_like(truth), truth)
    out, _, _ = coarse_fill(smooth, mask, _Plane())
    middle = (..., slice(17, 25), slice(17, 25))  # 9 px and more from the border: all shifted
    assert torch.allclose(out[middle], truth[middle], atol=1e-3)
    # every scratch pixel is 1 px deep: a quarter of the plane's own value over the
    # smooth fill (0 here), with no shift
    scratch = (..., slice(44, 46), slice(10, 50))
    assert torch.allclose(out[scratch], 0.25 * (truth[scratch] - 0.3), atol=1e-3)


def test_feather_meets_the_border_and_keeps_the_fill_deeper_in():
    image = torch.linspace(-0.5, 0.5, 40).expand(1, 3, 40, 40).clone()
    mask = torch.zeros(1, 1, 40, 40)
    mask[..., 10:30, 10:30] = 1
    detail = 0.1 * torch.randn(1, 3, 40, 40, generator=torch.Generator().manual_seed(0))
    generated = image + 0.3 + detail * mask  # regenerates the known pixels 0.3 too bright
    out = feather(generated, image, mask, feather_weight(mask))
    assert torch.equal(out[..., mask[0, 0] == 0], image[..., mask[0, 0] == 0])
    # the first ring inside the hole is pulled onto the border: no 0.3 step there
    ring = out[..., 10, 12:28] - generated[..., 10, 12:28]
    assert torch.allclose(ring, torch.full_like(ring, -0.3), atol=1e-5)
    # deeper than FEATHER pixels, the fill is the generator's own
    assert torch.equal(out[..., 16:24, 16:24], generated[..., 16:24, 16:24])


def test_read_damage_from_each_kind_of_mask(tmp_path):
    image, damaged, mask = _damaged()
    by_tensor = read_damage(damaged, mask)
    assert torch.equal(by_tensor.mask, mask) and by_tensor.pixels is damaged
    by_file = read_damage(damaged, _png(tmp_path / "m.png", mask * 2 - 1))
    assert torch.equal(by_file.mask, mask)
    rgba = torch.cat([damaged, 1 - 2 * mask], 1)  # transparent where damaged
    by_alpha = read_damage(rgba)
    assert torch.equal(by_alpha.mask, mask) and torch.equal(by_alpha.pixels, damaged)
    assert "transparent pixels" in by_alpha.notes[0]
    assert read_damage(torch.cat([image, torch.ones_like(mask)], 1)).mask is None  # opaque: no mask
    by_auto = read_damage(damaged, "auto")  # the flat white hole is found
    assert by_auto.mask[..., 12:24, 14:28].min() == 1 and "automatic mask" in by_auto.notes[0]


def test_read_damage_explains_unusable_masks():
    image = stripes()
    with pytest.raises(ValueError, match="marks no pixel as damaged"):
        read_damage(image, torch.zeros(1, 1, 48, 48))
    full = torch.ones(1, 1, 48, 48)
    assert read_damage(image, full).mask.min() == 1  # a model fills it from nothing
    with pytest.raises(ValueError, match="nothing to learn from"):
        read_damage(image, full, self_fit=True)


def test_a_repair_cannot_also_upscale(tiny_model):
    _, damaged, mask = _damaged()
    with pytest.raises(ValueError, match="repair first, then upscale"):
        tiny_model.refine(damaged, mask, upscale=2)


def test_a_fill_moves_the_finer_scales_waves_by_the_largest_holes_placement(tiny_model, monkeypatch):
    """Waves that feed finer scales must draw the lattice where the placed coarse layout
    has it: each fill moves its canvas's waves by coarse_fill's offset, in finest pixels."""
    import patchtex.refine.fill as fill

    shifts, moves = [], []
    real_coarse_fill = fill.coarse_fill

    def spy_fill(smooth, mask, canvas, guide=None):
        out, shift, guide = real_coarse_fill(smooth, mask, canvas, guide)
        shifts.append(shift)
        return out, shift, guide

    monkeypatch.setattr(fill, "coarse_fill", spy_fill)
    monkeypatch.setattr(Canvas, "move_waves", lambda self, dx, dy: moves.append((dx, dy)))
    _, damaged, mask = _damaged()
    tiny_model.refine(damaged, mask, seed=0)
    factor = tiny_model.config.factor(0)
    assert len(moves) == len(shifts) == fill.FILLS and any(shift != (0, 0) for shift in shifts)
    assert moves == [(dx * factor, dy * factor) for dx, dy in shifts]


def _bricks(height=96, width=96):
    """A brick wall: 16x8 px bricks, rows offset by half a brick, 2 px mortar, shaded."""
    yy, xx = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    row = yy // 8
    mortar = (yy % 8 < 2) | ((xx + 8 * (row % 2)) % 16 < 2)
    shade = 0.1 * torch.sin(xx / 5.0) * torch.cos(yy / 7.0)
    red = torch.where(mortar, torch.tensor(0.8), -0.2 + shade)
    return torch.stack([red, torch.where(mortar, 0.8, -0.6 + shade), torch.where(mortar, 0.7, -0.7)])[None].float()


def _scribble_and_square(height=96, width=96):
    yy, xx = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    mask = ((yy - 0.8 * xx - 10).abs() < 3).float()  # a 6 px diagonal stroke
    mask[50:70, 55:75] = 1
    return mask[None, None]


def test_patch_fill_continues_a_lattice_through_holes_at_its_phase():
    """A scratch and a square across a brick wall get its mortar lines back where they
    run (the smooth fill they start from blurs them to pink)."""
    truth = _bricks()
    mask = _scribble_and_square()
    damaged = torch.where(mask > 0, torch.tensor([1.0, -1.0, -1.0]).view(1, 3, 1, 1), truth)
    out = patch_fill(damaged, mask, seed=0)
    hole = mask[0, 0] > 0
    error = (out - truth).abs()[..., hole].mean()
    smooth = (push_pull_fill(damaged, 1 - mask) - truth).abs()[..., hole].mean()
    assert error < 0.05 < 0.3 < smooth


def test_patch_fill_keeps_known_pixels_copies_colours_and_repeats_per_seed():
    generator = torch.Generator().manual_seed(3)
    image = torch.rand(1, 3, 64, 80, generator=generator) * 2 - 1
    mask = _scribble_and_square(64, 80)
    out = patch_fill(image, mask, seed=5)
    assert torch.equal(out, patch_fill(image, mask, seed=5))
    assert torch.equal(out[..., mask[0, 0] == 0], image[..., mask[0, 0] == 0])
    known = {tuple(c) for c in image[0][:, mask[0, 0] == 0].T.tolist()}
    assert all(tuple(c) in known for c in out[0][:, mask[0, 0] > 0].T.tolist())  # no new colour


def test_a_repair_is_held_within_the_exemplars_and_the_images_range_at_every_scale(tiny_model, monkeypatch):
    """The border residual `feather` adds can carry a fill past every colour the exemplar
    and the image have (parquet's scribble drew a yellow fleck so): each scale's composite
    is held within the model's range widened to the image's known pixels."""
    import dataclasses

    import patchtex.refine.fill as fill

    narrow = ((-0.5, 0.5),) * tiny_model.config.image_channels
    monkeypatch.setattr(tiny_model.pyramid, "config", dataclasses.replace(tiny_model.config, colour_range=narrow))
    real_feather = fill.feather
    monkeypatch.setattr(fill, "feather", lambda g, image, mask, w: real_feather(g, image, mask, w) + 3.0 * mask)
    monkeypatch.setattr(fill, "best_fill_per_hole", lambda fills, mask: fills[0])  # a model's fill, not the copy
    _, damaged, mask = _damaged()
    damaged = torch.where(mask > 0, damaged, 0.6 * damaged)  # known pixels within +-0.6
    low, high = fill.repair_range(damaged, mask, narrow)
    known = damaged[0][:, mask[0, 0] == 0]
    assert torch.equal(high.view(-1), torch.maximum(torch.tensor(0.5), known.amax(1)))
    assert torch.equal(low.view(-1), torch.minimum(torch.tensor(-0.5), known.amin(1)))
    out = tiny_model.refine(damaged, mask, seed=0)
    inside = out[0][:, mask[0, 0] > 0]
    assert bool((inside <= high.view(-1, 1)).all()) and bool((inside >= low.view(-1, 1)).all())
    assert float(high.max()) < 1  # so the final clamp to [-1, 1] alone would not pass
    assert fill.repair_range(damaged, mask, ()) is None  # older models repair unheld, as before
