"""Training does what it should: the critic's advantage shrinks, the seed decides."""

import dataclasses
import json

import pytest
import torch
import torch.nn.functional as F

from patchtex.canvas import KeyedSource
from patchtex.config import FINE_LAYERS, QUILT_FINE_LAYERS, ModelConfig, TrainConfig, default_model_config
from patchtex.model import (
    Discriminator,
    MultiCritic,
    Pyramid,
    coarse_rect,
    downsample,
    grow,
    init_weights,
    upsample_into,
)
from patchtex.train import (
    _carried_critics,
    centre_residual,
    centre_seeds,
    config_for,
    consistency_loss,
    crop_power,
    fit_pyramid,
    mean_drift,
    pick_draw_noise,
    random_crops,
    residual_mean,
    scale_critic,
    spectral_loss,
    spectrum_target,
    valid_crop_size,
    valid_pyramid,
)

from .conftest import TINY, TINY_TRAIN, scale_fits, stripes

ONE_SCALE = ModelConfig(image_channels=3, num_scales=1, channels=(16,), layers=(4,), noise_channels=3)


def _samples(pyramid: Pyramid, count: int = 6, size: int = 24) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat(
            [pyramid.render(0, (0, 0, size, size), KeyedSource(pyramid, s, torch.device("cpu"))) for s in range(count)]
        )


def _fresh_critic_advantage(pyramid: Pyramid, exemplar: torch.Tensor, steps: int = 40) -> float:
    """Train a new critic to tell real crops from samples; return its final logistic loss
    margin (2 ln 2 - loss): 0 when it cannot tell them apart."""
    gen = torch.Generator().manual_seed(123)
    critic = Discriminator(3, 16, 3)
    init_weights(critic, gen)
    opt = torch.optim.Adam(critic.parameters(), lr=5e-4)
    fake = _samples(pyramid)
    loss = torch.zeros(())
    for _ in range(steps):
        real = random_crops(exemplar, 24, 24, 6, gen)
        loss = F.softplus(-critic(real)).mean() + F.softplus(critic(fake)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        real = random_crops(exemplar, 24, 24, 6, gen)
        loss = F.softplus(-critic(real)).mean() + F.softplus(critic(fake)).mean()
    return 2 * 0.6931 - loss.item()


def test_training_reduces_the_critics_advantage(exemplar):
    torch.manual_seed(0)
    untrained = fit_pyramid(
        exemplar,
        TrainConfig(steps=(1,), batch_size=4, crop_size=24),
        device=torch.device("cpu"),
        model_config=ONE_SCALE,
    )
    # the coarsest scale's critics regularised like the finer scales' (R1 gamma 1): with
    # the default 0.1 a fresh critic still tells this 48 px stripe toy's samples apart
    # after 300 steps (advantage 0.485 -> 0.44-0.48; benchmarks/README, session 8)
    trained = fit_pyramid(
        exemplar,
        TrainConfig(steps=(300,), batch_size=4, crop_size=24, coarse_r1_gamma=1.0),
        device=torch.device("cpu"),
        model_config=ONE_SCALE,
    )
    before = _fresh_critic_advantage(untrained.pyramid, exemplar)
    after = _fresh_critic_advantage(trained.pyramid, exemplar)
    assert after < 0.6 * before, (before, after)


def test_same_seed_same_weights_other_seed_differs(exemplar):
    a = fit_pyramid(exemplar, TINY_TRAIN, device=torch.device("cpu"), model_config=TINY).pyramid.state_dict()
    b = fit_pyramid(exemplar, TINY_TRAIN, device=torch.device("cpu"), model_config=TINY).pyramid.state_dict()
    c_cfg = TrainConfig(steps=TINY_TRAIN.steps, batch_size=2, crop_size=16, seed=1)
    c = fit_pyramid(exemplar, c_cfg, device=torch.device("cpu"), model_config=TINY).pyramid.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_grayscale_stays_grayscale():
    gray = torch.rand(1, 1, 40, 40, generator=torch.Generator().manual_seed(0)) * 2 - 1
    cfg = ModelConfig(image_channels=1, num_scales=1, channels=(8,), layers=(3,), noise_channels=2)
    result = fit_pyramid(
        gray, TrainConfig(steps=(2,), batch_size=2, crop_size=16), device=torch.device("cpu"), model_config=cfg
    )
    out = result.pyramid.render(0, (0, 0, 10, 10), KeyedSource(result.pyramid, 0, torch.device("cpu")))
    assert out.shape == (1, 1, 10, 10)


def test_crop_power_peaks_at_the_crops_frequency():
    y = torch.arange(32, dtype=torch.float32)[:, None].expand(32, 32)
    crops = torch.sin(2 * torch.pi * y / 8)[None, None].expand(3, 3, 32, 32)
    power = crop_power(crops)
    assert abs(power.sum().item() - 1) < 1e-5 and power[0, 0] == 0
    peak = torch.nonzero(power == power.max()).tolist()
    assert sorted(peak) == [[4, 0], [28, 0]]  # 32 / 8 = 4 cycles per crop, +- frequency


def test_spectral_loss_prefers_real_detail_to_blur(exemplar):
    target = spectrum_target(exemplar, 24)
    real = random_crops(exemplar, 24, 24, 8, torch.Generator().manual_seed(0))
    blurred = F.avg_pool2d(F.pad(real, (1, 1, 1, 1), mode="reflect"), 3, stride=1)
    assert spectral_loss(real, target) < 0.5 * spectral_loss(blurred, target)


def test_spectral_loss_gradient_reaches_the_image(exemplar):
    target = spectrum_target(exemplar, 24)
    fake = (torch.rand(4, 3, 24, 24, generator=torch.Generator().manual_seed(1)) * 0.1).requires_grad_(True)
    spectral_loss(fake, target).backward()
    assert fake.grad is not None and torch.isfinite(fake.grad).all() and fake.grad.abs().sum() > 0


def test_consistency_is_zero_for_a_real_image_and_its_downsampling():
    """A real fine crop and its own 2x2 average satisfy the loss exactly, wherever the
    halo puts the coarse rect; the bilinear upsampling of the coarse image does not (it
    is a blur), and a one-pixel shift does not either."""
    gen = torch.Generator().manual_seed(0)
    plane = torch.rand(1, 3, 96, 96, generator=gen) * 2 - 1  # global origin at (-32, -32)
    coarse_plane = downsample(plane)  # global origin at (-16, -16)
    for halo, crop in ((5, 24), (4, 30), (7, 16)):
        rin = grow((0, 0, crop, crop), halo)
        cx, cy, cw, ch = crect = coarse_rect(rin)
        coarse = coarse_plane[..., cy + 16 : cy + 16 + ch, cx + 16 : cx + 16 + cw]
        fake = plane[..., 32 : 32 + crop, 32 : 32 + crop]
        assert consistency_loss(fake, coarse, crect).item() < 1e-6
        shifted = plane[..., 33 : 33 + crop, 32 : 32 + crop]
        assert consistency_loss(shifted, coarse, crect).item() > 0.05
        up = upsample_into(coarse, crect, rin)[..., halo:-halo, halo:-halo]
        assert consistency_loss(up, coarse, crect).item() > 0.05


def test_mean_drift_sees_the_colour_a_scale_adds_that_consistency_is_blind_to():
    """Deep dark holes in a few pixels (sharpened knots' holes) pull the crop's mean down
    while the absolute 2x2 gap stays least with the rest of the crop where it was (its
    median): the consistency loss keeps the drift, the mean gap removes it. The truth
    has neither, and a uniform shift is both's."""
    gen = torch.Generator().manual_seed(1)
    fine = torch.rand(2, 3, 32, 32, generator=gen) * 1.2 - 0.6
    coarse, crect = downsample(fine), (0, 0, 16, 16)
    assert mean_drift(fine, coarse, crect).item() < 1e-6
    holes = fine.clone()
    holes[..., ::4, ::4] -= 0.4  # one coarse pixel in four 0.1 darker: the crop 0.025 darker
    assert abs(mean_drift(holes, coarse, crect).item() - 0.025) < 1e-4
    lifted = holes + 0.025  # the crop's colour put back
    assert mean_drift(lifted, coarse, crect).item() < 1e-5
    assert consistency_loss(lifted, coarse, crect) > 1.4 * consistency_loss(holes, coarse, crect)
    shifted = fine + 0.05
    assert abs(mean_drift(shifted, coarse, crect).item() - 0.05) < 1e-5
    assert abs(consistency_loss(shifted, coarse, crect).item() - 0.05) < 1e-5


def test_centring_takes_the_colour_a_finer_scale_adds_off_its_bias_and_nothing_else():
    """A finer scale whose residual leans one way (here a tail drawn large, plus a bias)
    adds a colour its input lacks; centred, it adds none on renders it was not measured
    on, and only its last conv's bias moved."""
    cpu = torch.device("cpu")
    pyramid = Pyramid(TINY)
    init_weights(pyramid, torch.Generator().manual_seed(0))
    tail = pyramid.generators[1].tail
    with torch.no_grad():
        tail.weight.normal_(0, 0.05, generator=torch.Generator().manual_seed(1))
        tail.bias.copy_(torch.tensor([0.08, -0.05, 0.02]))
    before = {k: v.clone() for k, v in pyramid.state_dict().items()}
    held_out = [101, 102, 103]
    drift = residual_mean(pyramid, 1, (48, 40), held_out, cpu, False)
    assert drift.abs().max() > 0.04
    shift = centre_residual(pyramid, 1, (48, 40), [1, 2, 3, 4], cpu, False)
    after = residual_mean(pyramid, 1, (48, 40), held_out, cpu, False)
    assert after.abs().max() < 0.25 * drift.abs().max()
    assert torch.allclose(tail.bias.double(), before["generators.1.tail.bias"].double() - shift, atol=1e-6)
    for key, value in pyramid.state_dict().items():
        if key != "generators.1.tail.bias":
            assert torch.equal(value, before[key]), key


def test_a_fit_centres_its_finer_scales_and_older_records_did_not():
    """By default a fit ends each finer scale centred; with it off the fit is the same
    but for that bias. A training record from before the field ran without it."""
    cpu = torch.device("cpu")
    exemplar = stripes(48, seed=3)
    on = fit_pyramid(exemplar, TINY_TRAIN, device=cpu, model_config=TINY).pyramid
    off = fit_pyramid(
        exemplar, dataclasses.replace(TINY_TRAIN, centre_residual=False), device=cpu, model_config=TINY
    ).pyramid
    extent = (exemplar.shape[-1], exemplar.shape[-2])
    seeds = centre_seeds(7)
    assert residual_mean(on, 1, extent, seeds, cpu, False).abs().max() < 2e-3
    assert residual_mean(off, 1, extent, seeds, cpu, False).abs().max() > 3e-3
    a, b = on.state_dict(), off.state_dict()
    assert not torch.equal(a["generators.1.tail.bias"], b["generators.1.tail.bias"])
    assert all(torch.equal(a[k], b[k]) for k in a if k != "generators.1.tail.bias")
    record = json.loads(TrainConfig().to_json())
    del record["centre_residual"]
    assert TrainConfig.from_json(json.dumps(record)).centre_residual is False
    assert TrainConfig().centre_residual is True


def _tensor_fit(pixels):
    import patchtex

    config = TrainConfig(steps=(2,), batch_size=2, crop_size=16, coarse_layout="generator")
    return patchtex.fit(pixels, config, name="stripes")


def test_fit_takes_a_tensor_that_is_part_of_a_graph():
    pixels = stripes().requires_grad_()  # the exemplar is hashed and analysed with numpy
    model = _tensor_fit(pixels)
    assert model.meta["exemplar"]["name"] == "stripes" and len(model.meta["exemplar"]["sha256"]) == 64


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_fit_takes_a_cuda_tensor():
    model = _tensor_fit(stripes().cuda())
    assert model.meta["exemplar"]["sha256"] == _tensor_fit(stripes()).meta["exemplar"]["sha256"]


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"precision": "fp16"}, "precision must be one of auto, bf16, fp32"),
        ({"precision": "BF16"}, "got 'BF16'"),
        ({"batch_size": 0}, "batch_size must be at least 1"),
        ({"steps": (10, 0)}, "steps must all be at least 1"),
        ({"crop_size": 4}, "crop_size must be at least 8"),
        ({"real_coarse_prob": 1.5}, "real_coarse_prob must be between 0 and 1"),
        ({"lr_g": 0.0}, "lr_g must be positive"),
        ({"swd_weight": -1.0}, "swd_weight must be 0 or more"),
        ({"fine_critics": 0}, "fine_critics must be at least 1"),
        ({"grad_clip": -1.0}, "grad_clip must be 0 or more"),
        ({"init": "xavier"}, "init must be one of kaiming, uniform"),
        ({"coarse_rec_weight": -1.0}, "coarse_rec_weight must be 0 or more"),
    ],
)
def test_train_config_rejects_bad_values(bad, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**bad)


def test_model_precision_is_validated(tiny_model):
    from patchtex.api import Model

    with pytest.raises(ValueError, match="precision must be one of"):
        Model(tiny_model.pyramid, {}, precision="fp33")
    model = Model(tiny_model.pyramid, {}, precision="fp32")
    with pytest.raises(ValueError, match="got 'half'"):
        model.precision = "half"
    assert model.precision == "fp32"


def test_real_pairs_are_exact_super_resolution_pairs():
    """The real coarse crop a fine scale refines is the 2x2 box average of the real fine
    crop it is asked to become (the frame of `consistency_loss`), wherever it is taken."""
    from patchtex.train import _ScaleFit, exemplar_pyramid

    exemplar = stripes(64, seed=2)
    pyramid = Pyramid(TINY)
    levels = exemplar_pyramid(exemplar, TINY.num_scales)
    train = TrainConfig(steps=(1, 1), batch_size=5, crop_size=16, sr_weight=1.0)
    fit = _ScaleFit(
        pyramid,
        MultiCritic(3, 8, 3),
        1,
        levels,
        None,
        train,
        torch.Generator().manual_seed(0),
        False,
    )
    coarse, fine = fit.real_pair(5)
    assert fine.shape == (5, 3, fit.crop, fit.crop)
    assert consistency_loss(fine, coarse, fit.crect).item() == 0
    assert consistency_loss(fine.roll(1, dims=-1), coarse, fit.crect).item() > 0.01


def test_multi_critic_judges_each_resolution():
    critic = MultiCritic(3, 8, 3, count=3)
    scores = critic(torch.zeros(2, 3, 40, 40))
    assert [s.shape[-1] for s in scores] == [40 - 6, 20 - 6, 10 - 6]
    assert len(critic(torch.zeros(1, 3, 12, 12))) == 1  # its 6 px half is smaller than the 7 px field


def test_every_critic_of_a_new_scale_starts_as_the_previous_finest_critic():
    """The 2x critic of a finer scale judges the resolution the previous scale's finest
    critic judged, so both of its critics start from that one (not from a coarser one)."""
    previous = MultiCritic(3, 8, 3, count=2)
    init_weights(previous, torch.Generator().manual_seed(1))
    new = MultiCritic(3, 8, 3, count=2)
    new.load_state_dict(_carried_critics(previous.state_dict(), 2))
    finest = previous.critics[0].state_dict()
    for critic in new.critics:
        assert all(torch.equal(v, finest[k]) for k, v in critic.state_dict().items())
    assert not torch.equal(previous.critics[1].body[0].weight, new.critics[1].body[0].weight)
    old_file = MultiCritic(3, 8, 3, count=1)  # a critic saved before MultiCritic had no prefix
    old_file.load_state_dict(_carried_critics(finest, 1))
    assert torch.equal(old_file.critics[0].tail.bias, finest["tail.bias"])


def test_the_coarsest_critic_has_its_own_depth_and_is_not_carried_to_a_deeper_one():
    """coarse_disc_layers sets the coarsest critic's depth, disc_layers every finer one;
    a fit whose depths differ starts the finer critic fresh instead of failing to load
    the coarser one's weights, and still carries critics between equal finer scales."""
    config = default_model_config(3, 64, 16)
    train = TrainConfig(coarse_disc_layers=3, disc_layers=4, disc_channels=8)
    fields = [scale_critic(config, train, s).min_side for s in range(config.num_scales)]
    assert fields == [7] + [9] * (config.num_scales - 1)
    # automatic: deeper finer critics under a quilted coarsest scale
    auto = TrainConfig(coarse_disc_layers=3)
    assert scale_critic(config, auto, 1).min_side == 2 * FINE_LAYERS + 1
    quilted = dataclasses.replace(config, layout_size=(16, 16))
    assert scale_critic(quilted, auto, 1).min_side == 2 * QUILT_FINE_LAYERS + 1
    seen = []

    class Watch:
        def __call__(self, scale, step, steps, losses):
            pass

        def scale_done(self, scale, pyramid, level, device, bf16):
            seen.append(scale)

    train = TrainConfig(
        steps=(2, 2, 2),
        batch_size=2,
        crop_size=16,
        coarse_side=16,
        coarse_disc_layers=3,
        disc_layers=4,
        disc_channels=8,
        coarse_layout="generator",  # a coarsest critic to train (stripes would be quilted)
    )
    fit_pyramid(stripes(96), train, device=torch.device("cpu"), callback=Watch())
    assert seen == [0, 1, 2]


@pytest.mark.parametrize("coarse, fine", [(0.0, 1.0), (0.25, 0.0)])
def test_the_coarsest_scale_has_its_own_spectral_weight(coarse, fine):
    """coarse_spectral_weight steers scale 0 alone, spectral_weight every finer scale: a
    scale whose weight is 0 gets no spectrum target (and no spectral loss)."""
    train = TrainConfig(steps=(1, 1), batch_size=2, crop_size=16, spectral_weight=fine, coarse_spectral_weight=coarse)
    for fit, weight in zip(scale_fits(train), (coarse, fine)):
        assert (fit.target is not None) == (weight > 0)
        losses = fit.generator_step(*fit.batch())
        assert (losses["spec"] > 0) == (weight > 0)


@pytest.mark.parametrize("coarse, fine", [(0.0, 1.0), (1.0, 0.0)])
def test_the_coarsest_scale_has_its_own_patch_swd_weight(coarse, fine):
    """coarse_swd_weight weighs scale 0's patch SWD loss alone, swd_weight every finer
    scale's: a scale's generator gradient moves with its own weight and no other."""

    def gradients(swd: float, coarse_swd: float) -> list[torch.Tensor]:
        train = TrainConfig(steps=(1, 1), batch_size=2, crop_size=16, swd_weight=swd, coarse_swd_weight=coarse_swd)
        torch.manual_seed(0)
        found = []
        # fine to coarse: a finer scale's input is drawn by the coarser generators, which
        # their own steps then move
        for fit in reversed(scale_fits(train)):
            fit.generator_step(*fit.batch())
            found.insert(0, torch.cat([p.grad.flatten() for p in fit.gen.parameters() if p.grad is not None]))
        return found

    for same, moved, weight in zip(gradients(1.0, 1.0), gradients(fine, coarse), (coarse, fine)):
        assert torch.equal(same, moved) == (weight == 1.0)


def test_spectral_weight_starts_full_and_falls_to_the_scales_weight():
    from patchtex.train import spectral_weight_at

    assert spectral_weight_at(0, 1000, 0.25, 0.2) == 1.0
    assert spectral_weight_at(100, 1000, 0.25, 0.2) == pytest.approx(0.625)
    assert spectral_weight_at(200, 1000, 0.25, 0.2) == 0.25 == spectral_weight_at(999, 1000, 0.25, 0.2)
    assert spectral_weight_at(0, 1000, 0.25, 0.0) == 0.25  # no warm-up
    assert spectral_weight_at(0, 1000, 2.0, 0.2) == 2.0  # a weight above 1 has nothing to warm up from


def test_saturation_loss_is_zero_while_tanh_can_move_and_pulls_back_beyond():
    from patchtex.train import SATURATION_BOUND, saturation_loss

    inside = torch.linspace(-SATURATION_BOUND, SATURATION_BOUND, 101, requires_grad=True)
    assert saturation_loss(inside).item() == 0.0
    flat = torch.tensor([23.5, -15.6, -17.8, 0.3], requires_grad=True)  # hammered's collapse
    loss = saturation_loss(flat)
    loss.backward()
    assert loss.item() > 100
    assert flat.grad[0] > 0 and flat.grad[1] < 0 and flat.grad[2] < 0 and flat.grad[3] == 0
    x = torch.tensor(23.5, requires_grad=True)
    (tanh_grad,) = torch.autograd.grad(torch.tanh(x), x)
    assert tanh_grad == 0  # where tanh has no gradient left, this loss still has one


def _magenta(image: torch.Tensor) -> torch.Tensor:
    """Pixels far towards magenta ([B,3,H,W] in [-1,1] -> bool [B,H,W]); stripes(noise=0.1) has none."""
    return (image[:, 0] - image[:, 1] > 1.0) & (image[:, 2] - image[:, 1] > 1.0)


def test_a_self_fit_never_trains_on_a_damaged_pixel():
    """Fit around a hole painted a colour the texture never has: no scale's exemplar,
    no real crop and no sample of the model holds that colour, and every real crop lies
    wholly among undamaged pixels (not on the fill that replaces the damage either)."""
    size = 96
    image = stripes(size, noise=0.1)
    yy, xx = torch.meshgrid(torch.arange(float(size)), torch.arange(float(size)), indexing="ij")
    hole = (((yy - 45) ** 2 + (xx - 51) ** 2) < 15**2).float()[None, None]
    damaged = torch.where(hole > 0, torch.tensor([1.0, -1.0, 1.0]).view(1, 3, 1, 1), image)
    assert not _magenta(image).any() and _magenta(damaged).sum() == hole.sum()
    levels, crops = [], []

    class Watch:
        def __call__(self, scale, step, steps, losses):
            pass

        def scale_done(self, scale, pyramid, level, device, bf16):
            levels.append(level)

    original = random_crops

    def spy(image, width, height, batch, generator, positions=None):
        out = original(image, width, height, batch, generator, positions)
        crops.append((out, image.shape[-1], width, height, positions))
        return out

    # without the hole this exemplar would get 3 scales (96, 48, 24 px); the 24 px level
    # has no clean 12 px square, so the coarsest scale is dropped
    assert config_for(image, 24, ()).num_scales == 3
    assert config_for(image, 24, (), 1 - hole).num_scales == 2
    train = TrainConfig(steps=(30, 20), batch_size=4, crop_size=24, coarse_side=24, real_coarse_prob=0.5)
    import patchtex.train as train_module

    train_module.random_crops = spy
    try:
        result = fit_pyramid(damaged, train, device=torch.device("cpu"), valid=1 - hole, callback=Watch())
    finally:
        train_module.random_crops = original
    assert len(levels) == 2 and len(crops) == 50
    assert not any(_magenta(level).any() for level in levels)
    assert not any(_magenta(crop).any() for crop, *_ in crops)
    valids = {v.shape[-1]: v[0, 0] for v in valid_pyramid(1 - hole, 2)}
    for _, width, crop_w, crop_h, positions in crops:
        assert all(valids[width][y : y + crop_h, x : x + crop_w].min() == 1 for y, x in positions.tolist())
    with torch.no_grad():
        sample = result.pyramid.render(1, (0, 0, 128, 128), KeyedSource(result.pyramid, 1, torch.device("cpu")))
    assert not _magenta(sample).any()


def test_crops_shrink_to_fit_between_holes():
    valid = torch.ones(1, 1, 40, 40)
    valid[..., 10:30, :] = 0  # two bands of 10 rows stay
    assert valid_crop_size(valid, 24) == 10
    assert valid_crop_size(torch.ones(1, 1, 40, 40), 24) == 24
    valid[..., :, 5:35] = 0  # 10 x 5 corners: not even 8 x 8 fits
    assert valid_crop_size(valid, 24) == 24


def test_sorted_rows_matches_torch_sort_in_values_and_gradient():
    from patchtex.train import sorted_rows

    values = torch.randn(8, 300, generator=torch.Generator().manual_seed(5)).requires_grad_()
    weights = torch.linspace(-1, 1, 300)
    ours = sorted_rows(values)
    (grad_ours,) = torch.autograd.grad((ours * weights).sum(), values)
    theirs = values.sort(dim=1).values
    (grad_theirs,) = torch.autograd.grad((theirs * weights).sum(), values)
    assert torch.equal(ours, theirs) and torch.equal(grad_ours, grad_theirs)
    plain = values.detach()
    assert torch.equal(sorted_rows(plain), plain.sort(dim=1).values)


def test_a_gradient_spike_keeps_its_direction_but_not_its_length():
    from patchtex.train import GRAD_NORM_DECAY, clip_gradient

    weights = [torch.zeros(3, requires_grad=True), torch.zeros(2, 2, requires_grad=True)]
    weights[0].grad = torch.tensor([3.0, 0.0, 0.0])
    weights[1].grad = torch.tensor([[0.0, 4.0], [0.0, 0.0]])
    assert clip_gradient(weights, None, 4.0) == pytest.approx(5.0)  # the first step sets the mean
    assert weights[0].grad[0].item() == 3.0
    # a step within `factor` of the mean is left alone
    assert clip_gradient(weights, 2.0, 4.0) == pytest.approx(GRAD_NORM_DECAY * 2 + (1 - GRAD_NORM_DECAY) * 5)
    assert weights[1].grad[0, 1].item() == 4.0
    # a spike is cut to factor * mean, in the same direction, and counts as that
    weights[0].grad.mul_(100)
    weights[1].grad.mul_(100)
    mean = clip_gradient(weights, 1.0, 4.0)
    assert mean == pytest.approx(GRAD_NORM_DECAY + (1 - GRAD_NORM_DECAY) * 4.0)
    assert weights[0].grad[0].item() == pytest.approx(4.0 * 3 / 5)
    assert weights[1].grad[0, 1].item() == pytest.approx(4.0 * 4 / 5)


def _hidden_spreads(scheme: str) -> list[float]:
    """The spread of each hidden activation of a fresh default coarsest generator, fed noise."""
    from patchtex.model import LEAKY_SLOPE, ScaleGenerator

    gen = ScaleGenerator(3, 4, 64, 7, coarsest=True)
    init_weights(gen, torch.Generator().manual_seed(0), scheme)
    x = torch.randn(1, 4, 64, 64, generator=torch.Generator().manual_seed(1))
    spreads = []
    with torch.no_grad():
        for conv in gen.body:
            x = F.leaky_relu(conv(x), LEAKY_SLOPE)
            spreads.append(x.std().item())
    return spreads


def test_kaiming_init_keeps_the_activations_spread_through_a_deep_generator():
    kaiming, uniform = _hidden_spreads("kaiming"), _hidden_spreads("uniform")
    assert 0.5 < kaiming[-1] / kaiming[0] < 2.0
    assert uniform[-1] / uniform[0] < 0.1  # PyTorch's default shrinks it ~2.4x a layer
    with pytest.raises(ValueError, match="init must be one of kaiming, uniform"):
        init_weights(Discriminator(3, 8, 2), torch.Generator(), "normal")


def test_a_finer_scale_still_starts_as_the_identity_under_kaiming_init():
    pyramid = Pyramid(TINY)
    init_weights(pyramid, torch.Generator().manual_seed(0), "kaiming")
    tail = pyramid.generators[1].tail
    assert tail.weight.abs().max() <= 1e-3 and tail.bias.abs().max() == 0
    assert pyramid.generators[0].tail.weight.abs().max() > 1e-2  # the coarsest scale draws an image


def test_the_coarsest_scale_learns_to_redraw_the_exemplar_from_its_fixed_noise():
    """With the reconstruction loss the coarsest generator maps one fixed noise field onto
    the exemplar's coarsest level; without it, that field gives just another sample."""
    from patchtex.train import reconstruction_cond

    exemplar = stripes(24, noise=0.05)

    def error(weight: float) -> float:
        train = TrainConfig(steps=(150,), batch_size=2, crop_size=16, coarse_rec_weight=weight, coarse_swd_weight=0.0)
        pyramid = fit_pyramid(exemplar, train, device=torch.device("cpu"), model_config=ONE_SCALE).pyramid
        cond = reconstruction_cond(ONE_SCALE, pyramid.waves, exemplar, train.seed)
        with torch.no_grad():
            return (pyramid.generators[0](None, cond) - exemplar).pow(2).mean().item()

    assert error(100.0) < 0.5 * error(0.0)


def test_the_finer_scales_share_a_step_budget():
    # one finer scale trains for the whole budget, two or more each for fine_steps at least
    train = TrainConfig(coarse_steps=100, fine_steps=70, fine_budget_scales=2)
    big = 256 * 256
    assert train.scale_steps(2, big) == (100, 140)
    assert train.scale_steps(3, big) == (100, 70, 70)
    assert train.scale_steps(4, big) == (100, 70, 70, 70)
    assert TrainConfig(coarse_steps=100, fine_steps=70, fine_budget_scales=1).scale_steps(2, big) == (100, 70)
    assert TrainConfig(steps=(5, 6)).scale_steps(2, big) == (5, 6)  # explicit steps win
    assert TrainConfig(fine_steps=70, fine_budget_scales=3).scale_steps(3, big) == (1000, 105, 105)
    assert TrainConfig(fine_steps=5, fine_budget_scales=3).scale_steps(3, big) == (1000, 8, 8)  # rounded up
    with pytest.raises(ValueError, match="fine_budget_scales"):
        TrainConfig(fine_budget_scales=-1)


def test_a_small_exemplar_keeps_fine_steps():
    # below small_exemplar_px (a 192x96 exemplar by default) the budget is not shared out
    train = TrainConfig(coarse_steps=100, fine_steps=70, fine_budget_scales=2)
    assert train.scale_steps(2, 192 * 96) == (100, 70)
    assert train.scale_steps(2, train.small_exemplar_px) == (100, 140)
    assert train.scale_steps(2, train.small_exemplar_px - 1) == (100, 70)
    assert dataclasses.replace(train, small_exemplar_px=0).scale_steps(2, 192 * 96) == (100, 140)
    with pytest.raises(ValueError, match="small_exemplar_px"):
        TrainConfig(small_exemplar_px=-1)


def test_a_fit_trains_the_budget_at_its_one_finer_scale():
    seen: dict[int, int] = {}
    train = dataclasses.replace(TINY_TRAIN, steps=(), coarse_steps=3, fine_steps=2)

    def callback(scale, step, steps, losses):
        seen[scale] = steps

    exemplar = stripes(64, seed=2)
    fit_pyramid(exemplar, train, device=torch.device("cpu"), callback=callback, model_config=TINY)
    assert seen == {0: 3, 1: 2}  # 64x64 is below small_exemplar_px: fine_steps
    large = dataclasses.replace(train, small_exemplar_px=64 * 64)
    fit_pyramid(exemplar, large, device=torch.device("cpu"), callback=callback, model_config=TINY)
    assert seen == {0: 3, 1: 4}


def test_a_residual_kept_in_gamut_stays_in_range_along_its_own_colour_line():
    from patchtex.model import ScaleGenerator, in_gamut

    generator = torch.Generator().manual_seed(0)
    base = torch.rand(2, 3, 9, 9, generator=generator) * 2 - 1
    residual = torch.randn(2, 3, 9, 9, generator=generator) * 2
    t = in_gamut(base, residual)
    assert t.shape == (2, 1, 9, 9) and not t.requires_grad
    out = base + t * residual
    assert out.abs().max() <= 1 + 1e-5
    # the largest such t: where it is below 1, some channel of the pixel is at the edge
    cut = (t < 1).squeeze(1)
    assert cut.any() and (t == 1).any()
    assert torch.allclose(out.abs().amax(1)[cut], torch.ones(()), atol=1e-5)
    # a residual already in range is left as it is, and a base out of range takes none
    assert torch.equal(in_gamut(base, residual * 0), torch.ones(2, 1, 9, 9))
    assert in_gamut(torch.full((1, 3, 1, 1), 1.5), torch.ones(1, 3, 1, 1)).item() == 0

    # a finer scale drawn far past the range: in gamut every channel keeps the ratio the
    # scale drew (its hue), where a clamp afterwards would cut one channel and not another
    kept, cut_later = (ScaleGenerator(3, 4, 8, 2, coarsest=False, gamut=g) for g in (True, False))
    torch.manual_seed(0)
    for gen in (kept, cut_later):
        for p in gen.parameters():
            torch.nn.init.normal_(p, std=0.5)
    cut_later.load_state_dict(kept.state_dict())
    prev = torch.rand(1, 3, 12, 12, generator=generator) * 2 - 1
    cond = torch.randn(1, 4, 12, 12, generator=generator)
    with torch.no_grad():
        inside, outside = kept(prev, cond), cut_later(prev, cond)
    assert outside.abs().max() > 1.5 and inside.abs().max() <= 1 + 1e-5
    drawn, kept_residual = outside - prev[..., 2:-2, 2:-2], inside - prev[..., 2:-2, 2:-2]
    assert torch.allclose(F.normalize(kept_residual, dim=1), F.normalize(drawn, dim=1), atol=1e-4)


def test_a_fit_records_its_residuals_kept_in_gamut_and_older_models_do_not(tmp_path):
    import json

    import patchtex

    model = patchtex.fit(stripes(64), dataclasses.replace(TINY_TRAIN, steps=(1, 1), residual_in_gamut=True))
    assert model.config.residual_in_gamut and all(g.gamut for g in model.pyramid.generators[1:])
    again = patchtex.load(model.save(tmp_path / "m.patchtex.safetensors"))
    assert again.config.residual_in_gamut
    assert torch.equal(again.synth((24, 24), seed=3), model.synth((24, 24), seed=3))
    off = patchtex.fit(stripes(64), dataclasses.replace(TINY_TRAIN, steps=(1, 1)))  # off by default
    assert not off.config.residual_in_gamut and not any(g.gamut for g in off.pyramid.generators[1:])
    raw = json.loads(model.config.to_json())
    del raw["residual_in_gamut"]
    assert not ModelConfig.from_json(json.dumps(raw)).residual_in_gamut  # files before it
    assert not TrainConfig.from_json(json.dumps({"seed": 0})).residual_in_gamut


def test_a_finer_scale_is_held_within_the_exemplars_range_and_refine_keeps_its_own():
    from patchtex.model import ScaleGenerator
    from patchtex.train import colour_range

    generator = torch.Generator().manual_seed(5)
    bounds = ((-0.5, 0.2), (-1.0, 1.0), (0.0, 0.3))
    held, free = ScaleGenerator(3, 4, 8, 2, coarsest=False, bounds=bounds), ScaleGenerator(3, 4, 8, 2, coarsest=False)
    torch.manual_seed(0)
    for p in held.parameters():
        torch.nn.init.normal_(p, std=0.5)
    free.load_state_dict(held.state_dict())  # the range is the config's, not the file's
    prev = torch.rand(1, 3, 12, 12, generator=generator) * 2 - 1
    cond = torch.randn(1, 4, 12, 12, generator=generator)
    with torch.no_grad():
        inside, outside, unbounded = held(prev, cond), free(prev, cond), held(prev, cond, bounded=False)
    low, high = (torch.tensor(v).reshape(1, 3, 1, 1) for v in zip(*bounds))
    assert ((outside < low) | (outside > high)).any()  # the scale draws past the range
    assert ((inside >= low) & (inside <= high)).all()
    assert torch.equal(inside, torch.maximum(torch.minimum(outside, high), low))  # channel by channel
    assert torch.equal(unbounded, outside)
    coarsest = ScaleGenerator(3, 4, 8, 2, coarsest=True, bounds=bounds)
    assert not coarsest.bounded  # tanh keeps it in [-1, 1]; the quilt is the exemplar's own

    image = torch.stack([torch.full((4, 4), -0.5), torch.linspace(-0.9, 0.8, 16).reshape(4, 4), torch.zeros(4, 4)])
    image[0, 1, 1] = 0.7
    valid = torch.ones(1, 1, 4, 4)
    valid[..., 1, 1] = 0
    assert sum(colour_range(image[None]), ()) == pytest.approx((-0.5, 0.7, -0.9, 0.8, 0.0, 0.0))
    assert colour_range(image[None], valid)[0] == pytest.approx((-0.5, -0.5))  # invalid pixels do not count


def test_a_fit_records_the_exemplars_colour_range_and_older_models_do_not(tmp_path):
    import json

    import patchtex
    from patchtex.train import colour_range

    dim = stripes(64) * 0.4 + 0.1  # within [-0.3, 0.5]
    model = patchtex.fit(dim, dataclasses.replace(TINY_TRAIN, steps=(1, 1)))
    assert model.config.colour_range == colour_range(dim)
    low, high = (torch.tensor(v).reshape(1, 3, 1, 1) for v in zip(*model.config.colour_range))
    with torch.no_grad():  # a finest scale that draws far past the range, on every channel
        model.pyramid.generators[-1].tail.bias.add_(torch.tensor([2.0, -2.0, 2.0]))
    sample = model.synth((40, 40), seed=1)
    assert ((sample >= low - 1e-6) & (sample <= high + 1e-6)).all()
    assert torch.equal(sample[0, 0], high[0, 0].expand(40, 40)) and torch.equal(sample[0, 1], low[0, 1].expand(40, 40))
    again = patchtex.load(model.save(tmp_path / "m.patchtex.safetensors"))
    assert again.config.colour_range == model.config.colour_range
    assert torch.equal(again.synth((40, 40), seed=1), sample)
    # refine keeps an image's own range: a brighter photo of the texture stays brighter
    bright = stripes(32)
    assert (model.refine(bright, strength=1.0) > high + 0.1).any()
    off = patchtex.fit(dim, dataclasses.replace(TINY_TRAIN, steps=(1, 1), colour_range=False))
    assert off.config.colour_range == () and not any(g.bounded for g in off.pyramid.generators[1:])
    raw = json.loads(model.config.to_json())
    del raw["colour_range"]
    assert ModelConfig.from_json(json.dumps(raw)).colour_range == ()  # files before it
    assert not TrainConfig.from_json(json.dumps({"seed": 0})).colour_range
    with pytest.raises(ValueError, match="colour_range"):
        dataclasses.replace(model.config, colour_range=((0.5, -0.5),) * 3)


@pytest.mark.parametrize("truth", [0.5, 1.0, 1.5])
def test_a_fit_draws_its_finer_scales_at_the_noise_spread_whose_spectrum_is_its_exemplars(truth):
    """`pick_draw_noise` finds the multiple of the trained spread at which a pyramid drew
    an image, from that image's spectrum alone, and leaves the pyramid as it was."""
    from patchtex.canvas import Canvas

    cpu = torch.device("cpu")
    config = ModelConfig(num_scales=3, channels=(8, 8, 8), layers=(3, 3, 3), fine_noise=0.5)
    pyramid = Pyramid(config)
    init_weights(pyramid, torch.Generator().manual_seed(0), TrainConfig().init)
    pyramid.eval()
    pyramid.config = dataclasses.replace(config, draw_noise=truth)
    drawn = Canvas(pyramid, 1234, device=cpu, bf16=False, size=(96, 96)).image()  # a seed the pick never uses
    pyramid.config = config
    pick, scores = pick_draw_noise(pyramid, drawn, torch.Generator().manual_seed(0), cpu, False)
    assert pick == truth and min(scores, key=scores.__getitem__) == truth
    assert pyramid.config is config


def test_a_fit_records_its_draw_noise_and_a_self_fit_on_damage_keeps_the_trained_spread(tmp_path):
    import json

    import patchtex

    train = dataclasses.replace(TINY_TRAIN, steps=(1, 1), fine_noise=1.0)
    model = patchtex.fit(stripes(64), train)
    assert model.config.draw_noise != 1.0  # barely trained, its finer scales draw best at another spread
    again = patchtex.load(model.save(tmp_path / "m.patchtex.safetensors"))
    assert again.config.draw_noise == model.config.draw_noise
    valid = torch.ones(1, 1, 64, 64)
    valid[..., 20:40, 20:40] = 0
    assert patchtex.fit(stripes(64), train, valid=valid).config.draw_noise == 1.0
    raw = json.loads(model.config.to_json())
    del raw["draw_noise"]
    assert ModelConfig.from_json(json.dumps(raw)).draw_noise == 1.0  # files before it
    assert not TrainConfig.from_json(json.dumps({"seed": 0})).draw_noise_pick
