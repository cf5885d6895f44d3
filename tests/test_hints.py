"""Detail hints: the exemplar's local orientation and detail energy, read through a quilt's
own blocks and cuts and fed to a quilted model's finer scales (`TrainConfig.detail_hints`)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import patchtex
from patchtex.config import TrainConfig
from patchtex.layout import Quilt, detail_hints, quilt_bank
from patchtex.symmetry import _MOMENTS, TRANSFORMS
from patchtex.train import TrainingSource

from .test_layout import _blobs, _coded_level


def _lines(size: int = 64, vertical: bool = True) -> torch.Tensor:
    """Grey lines 4 px apart, vertical (varying along x) or horizontal: [1,3,size,size]."""
    t = torch.arange(size, dtype=torch.float32)
    wave = torch.sin(2 * np.pi * t / 4)
    image = wave[None, :].expand(size, size) if vertical else wave[:, None].expand(size, size)
    return image[None, None].expand(1, 3, size, size).clone()


def test_detail_hints_read_the_orientation_of_the_lines_and_where_the_detail_is():
    across_x = detail_hints(_lines(vertical=True), 4)
    across_y = detail_hints(_lines(vertical=False), 4)
    assert across_x.shape == (1, 2, 16, 16)  # what a fit keeps: orientation only
    inner = (slice(None), slice(None), slice(1, -1), slice(1, -1))  # the replicated border aside
    assert torch.allclose(across_x[inner][:, 0], torch.ones(1), atol=1e-3)  # gx^2 - gy^2 over the trace
    assert torch.allclose(across_y[inner][:, 0], -torch.ones(1), atol=1e-3)
    assert across_x[inner][:, 1].abs().max() < 1e-3
    # detail energy: a flat half reads low, the lined half high (standardised over the level)
    half = _lines(vertical=True)
    half[..., 32:] = 0.0
    energy = detail_hints(half, 4, channels=3)[:, 2]
    assert energy[..., 1:-1, :7].min() > 0.5 and energy[..., 9:].max() < -0.5


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_a_turned_blocks_hints_are_those_of_the_exemplar_turned(name):
    # what `Quilt` does to a flipped or turned variant's hints (the moments' signs) must be
    # what the hints of the flipped or turned exemplar are
    exemplar = _blobs(64, seed=3)
    turned = detail_hints(TRANSFORMS[name](exemplar), 4, channels=3)  # energy too (older models)
    sign = torch.tensor([*_MOMENTS[name], 1.0]).view(1, -1, 1, 1)
    assert torch.allclose(TRANSFORMS[name](detail_hints(exemplar, 4, channels=3)) * sign, turned, atol=1e-5)


@pytest.mark.parametrize("options", [{}, {"transforms": ("hflip", "transpose")}, {"feather": 0.0, "edge_seams": True}])
def test_the_guide_reads_the_same_blocks_and_cuts_as_the_quilt(options):
    level = _coded_level()  # every pixel says where it is
    hints = torch.cat([torch.zeros_like(level), level[:, :1]], dim=1)  # orientation 0: no sign to turn
    quilt = Quilt(level, 7, hints=hints, **options)
    for rect in [(0, 0, 40, 40), (-13, 5, 61, 23)]:
        assert torch.equal(quilt.guide(rect)[:, 2], quilt(rect)[:, 0])
    # and the quilt itself is drawn as it is without hints
    assert torch.equal(quilt((-13, 5, 61, 23)), Quilt(level, 7, **options)((-13, 5, 61, 23)))


def test_a_training_source_lifts_the_guide_of_the_very_layouts_it_gave():
    level = _coded_level(40, 40)
    config = patchtex.ModelConfig(
        image_channels=2, num_scales=2, channels=(8, 8), layers=(3, 3), layout_size=(40, 40), hint_channels=2
    )
    bank = quilt_bank(level, 1, count=3, side=32, hints=level)
    assert bank.shape == (3, 4, 32, 32) and torch.equal(bank[:, :2], quilt_bank(level, 1, count=3, side=32))
    source = TrainingSource(
        config, torch.zeros(0, 2), 2, torch.Generator().manual_seed(0), torch.device("cpu"), bank, None, level
    )
    rect = (3, 4, 20, 18)
    layout = source.layout(level, rect)
    assert torch.equal(source.hints(0, rect), layout)
    # one scale finer: the layout's guide upsampled as images are, on a rect inside it
    fine = source.hints(1, (8, 10, 24, 20))
    assert fine.shape == (2, 2, 20, 24)
    # fine pixel (8, 10) lies between coarse pixels 3-4 and 4-5, a quarter and three quarters
    # of the way (the rect's coarse pixels start at the layout's own first, (3, 4))
    weights = torch.tensor([[0.0625, 0.1875], [0.1875, 0.5625]])
    assert torch.allclose(fine[..., 0, 0], (layout[..., :2, :2] * weights).sum(dim=(-2, -1)))


@pytest.fixture(scope="module")
def hinted() -> tuple[torch.Tensor, patchtex.Model]:
    """A quilted fit with detail hints of smooth blobs, and the blobs."""
    exemplar = _blobs()
    train = TrainConfig(
        steps=(1, 3, 3),
        batch_size=2,
        crop_size=16,
        coarse_side=32,
        coarse_layout="quilt",
        layout_element_px=0,
        detail_hints=True,
        hint_factor=0,  # quilted at 1/4: hinted only when asked for at any level
    )
    return exemplar, patchtex.fit(exemplar, train)


def test_a_hinted_model_draws_exact_windows_is_changed_by_its_hints_and_keeps_them_in_its_file(tmp_path, hinted):
    exemplar, model = hinted
    config = model.config
    assert config.hint_channels == 2  # orientation only (HINT_CHANNELS)
    hints = model.pyramid.generators[0].hints
    assert torch.equal(hints, detail_hints(exemplar, config.factor(0)))
    whole = model.synth((96, 80), seed=2)
    assert torch.equal(model.synth_window(13, 21, 50, 40, seed=2), whole[..., 21:61, 13:63])
    assert model.synth((64, 48), seed=1, tileable=True).shape[-2:] == (48, 64)
    path = model.save(tmp_path / "hinted.patchtex.safetensors")
    again = patchtex.load(path)
    assert again.config == config and torch.equal(again.pyramid.generators[0].hints, hints)
    assert torch.equal(again.synth((96, 80), seed=2), whole)
    kept = hints.clone()
    hints.zero_()  # the finer scales read them: without them they draw otherwise
    assert not torch.equal(model.synth((96, 80), seed=2), whole)
    hints.copy_(kept)


@pytest.mark.parametrize(("name", "turned"), [("hflip", 1), ("transpose", 0)])
def test_a_flipped_or_turned_block_carries_its_orientation_turned(name, turned):
    level = _coded_level(48, 48)
    hints = torch.cat([torch.ones(1, 2, 48, 48), level[:, :1]], dim=1)  # every place reads (1, 1)
    guide = Quilt(level, 2, hints=hints, transforms=(name,)).guide((0, 0, 160, 160))
    kept = 1 - turned  # hflip negates E[2 gx gy] and keeps E[gx^2 - gy^2]; transpose the other way
    assert torch.equal(guide[:, kept], torch.ones_like(guide[:, kept]))
    assert set(guide[:, turned].unique().tolist()) == {-1.0, 1.0}  # plain blocks and turned ones


@pytest.fixture
def guides(monkeypatch) -> list[tuple[int, tuple[int, int], torch.Tensor | None]]:
    """What refine feeds each finer scale from now on: (scale, size, guide) per
    `Canvas.finite_step` call, in order."""
    from patchtex.canvas import Canvas

    fed = []
    real_step = Canvas.finite_step

    def spy(self, scale, prev, size, bounded=True, guide=None):
        fed.append((scale, size, guide))
        return real_step(self, scale, prev, size, bounded, guide)

    monkeypatch.setattr(Canvas, "finite_step", spy)
    return fed


def test_refine_feeds_a_hinted_model_the_images_own_hints_and_the_placed_layouts_in_a_hole(guides, hinted):
    _, model = hinted
    image = _blobs(seed=5)
    mask = torch.zeros(1, 1, 128, 128)
    mask[..., 40:80, 50:90] = 1
    out = model.refine(image, mask, seed=1)
    assert torch.equal(out[..., :40, :], image[..., :40, :])  # outside the hole: the image
    assert guides and all(g is not None and g.shape[-2:] == (128 // 2 ** (2 - s),) * 2 for s, _, g in guides)
    own = detail_hints(image, 4)
    scale, _, guide = guides[0]  # the coarsest scale's guide lifted once: the image's own away from the hole
    assert scale == 1 and torch.allclose(
        guide[..., 2:14, 2:14], torch.nn.functional.interpolate(own, scale_factor=2, mode="bilinear")[..., 2:14, 2:14]
    )
    lifted = torch.nn.functional.interpolate(own, scale_factor=2, mode="bilinear")
    assert not torch.allclose(guide[..., 24:36, 28:40], lifted[..., 24:36, 28:40], atol=0.05)  # the hole's own
    guides.clear()
    model.refine(image, strength=0.5, seed=1)  # no hole: the image's own hints throughout
    assert guides and all(g is not None for _, _, g in guides)


def test_a_hinted_fits_real_pairs_are_fed_the_exemplars_own_hints_where_their_crops_were_cut():
    # hints that say where they are (x and y of the quilted level): lifted one scale as
    # images are, fine pixel X reads X / 2 - 1/4 away from the edges
    from patchtex.model import MultiCritic, Pyramid
    from patchtex.train import _ScaleFit, exemplar_pyramid

    config = patchtex.ModelConfig(
        image_channels=3, num_scales=2, channels=(8, 8), layers=(3, 3), layout_size=(32, 32), hint_channels=2
    )
    pyramid = Pyramid(config)
    ramp = torch.arange(32, dtype=torch.float32)
    pyramid.generators[0].hints.copy_(torch.stack([ramp[None, :].expand(32, 32), ramp[:, None].expand(32, 32)])[None])
    levels = exemplar_pyramid(_blobs(64, seed=1), 2)
    train = TrainConfig(steps=(1, 1), batch_size=6, crop_size=16)
    fit = _ScaleFit(pyramid, MultiCritic(3, 8, 3), 1, levels, None, train, torch.Generator().manual_seed(4), False)
    fit.real_pair(6)
    guide = fit.real_guide()
    rx0, ry0, rw, rh = fit.rin
    assert guide.shape == (6, 2, rh, rw)
    fys, fxs = fit.pair_corners
    for b in range(6):
        xs = torch.arange(rw) + fxs[b] + rx0  # the exemplar's fine pixels the input covers
        ys = torch.arange(rh) + fys[b] + ry0
        inner_x, inner_y = (xs >= 1) & (xs <= 62), (ys >= 1) & (ys <= 62)
        assert inner_x.sum() > rw // 2 and inner_y.sum() > rh // 2
        assert torch.allclose(guide[b, 0][:, inner_x], (xs[inner_x] / 2 - 0.25).expand(rh, -1))
        assert torch.allclose(guide[b, 1][inner_y], (ys[inner_y] / 2 - 0.25)[:, None].expand(-1, rw))


def test_a_model_fitted_with_the_energy_channel_still_draws_and_refines(monkeypatch):
    # session 55's hinted models keep three channels (orientation and energy); a fit keeps
    # two since session 56: a three-channel model must still be fed all three
    monkeypatch.setattr("patchtex.train.HINT_CHANNELS", 3)
    exemplar = _blobs(seed=2)
    train = TrainConfig(
        steps=(1, 2, 2),
        batch_size=2,
        crop_size=16,
        coarse_side=32,
        layout_element_px=0,
        detail_hints=True,
        hint_factor=0,
    )
    model = patchtex.fit(exemplar, train)
    assert model.config.hint_channels == 3
    assert torch.equal(model.pyramid.generators[0].hints, detail_hints(exemplar, model.config.factor(0), channels=3))
    whole = model.synth((64, 48), seed=2)
    assert torch.equal(model.synth_window(5, 7, 30, 20, seed=2), whole[..., 7:27, 5:35])
    mask = torch.zeros(1, 1, 128, 128)
    mask[..., 40:80, 50:90] = 1
    image = _blobs(seed=5)
    out = model.refine(image, mask, seed=1)
    assert torch.equal(out[..., :40, :], image[..., :40, :])
    model.refine(image, strength=0.5, seed=1)


@pytest.mark.parametrize(
    ("steps", "options", "hinted"),
    [
        ((1, 2), {}, True),  # quilted at 1/2: hints by default
        ((1, 2, 2), {}, False),  # at 1/4: none
        ((1, 2, 2), {"hint_factor": 4}, True),
        ((1, 2, 2), {"hint_factor": 0}, True),  # at any level
        ((1, 2), {"detail_hints": False}, False),
        ((1, 2), {"coarse_layout": "generator"}, False),  # no quilt, nothing to read hints through
    ],
)
def test_a_default_fit_keeps_detail_hints_only_where_its_quilt_is_at_most_hint_factor_pixels(steps, options, hinted):
    exemplar = _blobs(32 * 2 ** (len(steps) - 1), seed=1)
    train = TrainConfig(steps=steps, batch_size=2, crop_size=16, coarse_side=32, layout_element_px=0, **options)
    model = patchtex.fit(exemplar, train)
    config = model.config
    assert config.num_scales == len(steps)
    assert config.hint_channels == (2 if hinted else 0)
    assert (getattr(model.pyramid.generators[0], "hints", None) is not None) == hinted
    if hinted:
        assert torch.equal(model.pyramid.generators[0].hints, detail_hints(exemplar, config.factor(0)))


def test_a_record_written_before_hint_factor_hinted_at_any_level():
    import json

    old = json.loads(TrainConfig(detail_hints=True).to_json())
    del old["hint_factor"]
    assert TrainConfig.from_json(json.dumps(old)).hint_factor == 0
    del old["detail_hints"]
    assert TrainConfig.from_json(json.dumps(old)).detail_hints is False
    with pytest.raises(ValueError, match="hint_factor"):
        TrainConfig(hint_factor=-1)


def test_an_upscale_reads_the_images_hints_at_the_models_finest_resolution(guides, hinted):
    # an image refined with --upscale 2 lies one scale coarser than the model's finest: its
    # hints, read at its own resolution, average a quarter of the gradients a fit's did
    from patchtex.canvas import upsample_to
    from patchtex.refine.fill import image_hints

    _, model = hinted
    config = model.config
    truth = _blobs(seed=6)
    image = torch.nn.functional.avg_pool2d(truth, 2)  # what the true image looks like at half size
    wanted = detail_hints(truth, config.factor(0))
    near = (image_hints(image, config, config.num_scales - 2) - wanted).abs().mean()
    own_resolution = (detail_hints(image, config.factor(0) // 2) - wanted).abs().mean()
    assert near < 0.8 * own_resolution, (near, own_resolution)
    model.refine(image, upscale=2, seed=1)
    scale, size, guide = guides[0]
    assert scale == 1 and torch.equal(guide, upsample_to(image_hints(image, config, 1), *size))
