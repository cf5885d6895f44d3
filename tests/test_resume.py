"""Interrupted fits lose nothing: interrupt + resume gives exactly the uninterrupted model."""

import pytest
import torch
from click.testing import CliRunner

import patchtex
from patchtex.checkpoint import ModelFileError, load_model
from patchtex.cli import main
from patchtex.config import TrainConfig
from patchtex.train import FitInterrupted

from .conftest import stripes

# a coarsest generator, so that every scale trains (the stripes would get a lattice quilt)
CONFIG = TrainConfig(steps=(5, 5), batch_size=2, crop_size=16, seed=3, coarse_layout="generator")
# what a fit holds besides weights and optimisers: averaged weights, two critics at every
# scale (crops of 24 px, so the fine scale's 2x critic gets 12 px, more than its 11 px field)
AVERAGED = TrainConfig(
    steps=(5, 5),
    batch_size=2,
    crop_size=24,
    seed=3,
    ema_half_life=0.3,
    coarse_critics=2,
    fine_critics=2,
    sr_weight=1.0,
    real_coarse_prob=0.5,
    coarse_layout="generator",
)

# clipped on most steps, so a resumed fit needs the running gradient norm it had
CLIPPED = TrainConfig(steps=(5, 5), batch_size=2, crop_size=16, seed=3, grad_clip=0.5, coarse_layout="generator")


# the default: the stripes get a lattice quilt (its bank of quilts is rebuilt on resume)
LATTICE = TrainConfig(steps=(5, 5), batch_size=2, crop_size=16, seed=3)
# ... with detail hints (their bank channels rebuilt on resume, their values in the file)
HINTED = TrainConfig(steps=(5, 5), batch_size=2, crop_size=16, seed=3, detail_hints=True)


def _stop_after(polls: int):
    count = {"n": 0}

    def stop() -> bool:
        count["n"] += 1
        return count["n"] > polls

    return stop


@pytest.mark.parametrize(
    "polls, config",
    [
        (0, CONFIG),
        (3, CONFIG),
        (6, CONFIG),
        (3, AVERAGED),
        (8, AVERAGED),
        (3, CLIPPED),
        (8, CLIPPED),
        (3, LATTICE),
        (3, HINTED),
    ],  # before any step, mid scale 0, scale 1
)
def test_interrupt_then_resume_equals_uninterrupted(tmp_path, polls, config):
    exemplar = stripes(80)
    whole = patchtex.fit(exemplar, config)
    path = tmp_path / "m.safetensors"
    with pytest.raises(FitInterrupted):
        patchtex.fit(exemplar, config, checkpoint_path=path, stop=_stop_after(polls))
    with pytest.raises(ModelFileError, match="unfinished fit; finish it with: patchtex fit --resume"):
        load_model(path)
    resumed = patchtex.resume(path)
    for key, value in whole.pyramid.state_dict().items():
        assert torch.equal(value, resumed.pyramid.state_dict()[key]), key


def test_checkpoints_at_every_scale(tmp_path):
    seen = []
    path = tmp_path / "m.safetensors"
    original = patchtex.api.save_model

    def spy(pyramid, meta, p, state=None, exemplar=None):
        seen.append((state.scale, state.step))
        return original(pyramid, meta, p, state, exemplar)

    patchtex.api.save_model = spy
    try:
        patchtex.fit(stripes(80), CONFIG, checkpoint_path=path)
    finally:
        patchtex.api.save_model = original
    assert (0, 0) in seen and (1, 0) in seen


def test_cli_resume(tmp_path):
    exemplar = tmp_path / "ex.png"
    patchtex.save_image(stripes(80), exemplar)
    model = tmp_path / "m.safetensors"
    exemplar_pixels = patchtex.load_image(exemplar).pixels
    with pytest.raises(FitInterrupted):
        patchtex.fit(
            exemplar_pixels, TrainConfig(coarse_steps=3, fine_steps=3), checkpoint_path=model, stop=_stop_after(2)
        )
    result = CliRunner().invoke(main, ["fit", "--resume", str(model), "-q"])
    assert result.exit_code == 0, result.output
    assert patchtex.load(model).config.num_scales == 2
    result = CliRunner().invoke(main, ["fit", "--resume", str(model), "-q"])
    assert result.exit_code == 1 and "nothing to resume" in result.output


def test_cli_needs_exemplar_or_resume():
    result = CliRunner().invoke(main, ["fit"])
    assert result.exit_code == 2 and "--resume" in result.output


class _Recorder:
    """A fit callback that also takes the plan, as a progress display does."""

    def __init__(self):
        self.plans, self.calls = [], []

    def begin(self, steps, scale, step):
        self.plans.append((steps, scale, step))

    def __call__(self, scale, step, steps, losses):
        self.calls.append((scale, step))


def test_progress_is_told_the_whole_plan_and_where_a_resume_starts(tmp_path):
    fresh = _Recorder()
    patchtex.fit(stripes(80), CONFIG, callback=fresh)
    assert fresh.plans == [((5, 5), 0, 0)]
    assert fresh.calls[0] == (0, 0) and fresh.calls[-1] == (1, 4) and len(fresh.calls) == 10
    path = tmp_path / "m.safetensors"
    with pytest.raises(FitInterrupted):
        patchtex.fit(stripes(80), CONFIG, checkpoint_path=path, stop=_stop_after(7))
    resumed = _Recorder()
    patchtex.resume(path, callback=resumed)
    (steps, scale, step), first = resumed.plans[0], resumed.calls[0]
    assert steps == (5, 5) and (scale, step) == first and (scale, step) != (0, 0)


def test_fit_previews_leave_the_fit_unchanged(tmp_path):
    """--preview writes a sheet per scale and a loss plot, and draws nothing from the
    fit's random generator: the model is the one fitted without previews."""
    from PIL import Image

    from patchtex.preview import FitPreview

    plain = patchtex.fit(stripes(80), CONFIG)
    previewed = patchtex.fit(stripes(80), CONFIG, callback=FitPreview(tmp_path / "prev"))
    for key, value in plain.pyramid.state_dict().items():
        assert torch.equal(value, previewed.pyramid.state_dict()[key]), key
    assert sorted(p.name for p in (tmp_path / "prev").iterdir()) == ["losses.png", "scale-1.png", "scale-2.png"]
    fine = Image.open(tmp_path / "prev" / "scale-2.png")
    assert fine.height == 80 and fine.width > 4 * 80  # the exemplar and three samples
