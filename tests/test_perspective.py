"""A lattice photographed at an angle: found, taken out, and only where it is there."""

import numpy as np
import pytest
import torch

import patchtex
from patchtex.api import rectify_exemplar
from patchtex.config import TrainConfig
from patchtex.noise import find_waves
from patchtex.perspective import find_perspective, local_waves, rectify, wave_spread

from .conftest import stripes


def _wall(c: tuple[float, float] = (0.0, 0.0), size: int = 384, seed: int = 0) -> torch.Tensor:
    """[1,3,size,size]: a pavement of bricks laid in columns (24 x 60 px, 3 px joints, every
    other column half a brick down, each brick its own shade), as brick_gray's, seen
    through G(x) = x / (1 + c . x) about the centre: the pixel at x shows the pavement at
    G(x)."""
    gen = torch.Generator().manual_seed(seed)
    y, x = torch.meshgrid(
        torch.arange(size, dtype=torch.float64), torch.arange(size, dtype=torch.float64), indexing="ij"
    )
    x, y = x + 0.5 - size / 2, y + 0.5 - size / 2
    d = 1 + c[0] * x + c[1] * y
    u, v = x / d + 1000.0, y / d + 1000.0  # positive, away from any edge of the table
    col = torch.floor(u / 24)
    shifted = v + 30 * (col % 2)
    row = torch.floor(shifted / 60)
    joint = ((u - 24 * col) < 3) | ((shifted - 60 * row) < 3)
    shades = torch.rand(300, 300, generator=gen, dtype=torch.float64) * 0.3
    shade = shades[col.long() % 300, row.long() % 300]
    red = torch.stack([0.5 + shade, -0.3 + shade / 2, -0.4 + shade / 2])
    grey = torch.tensor([0.7, 0.7, 0.65], dtype=torch.float64)[:, None, None].expand(3, size, size)
    return torch.where(joint[None], grey, red)[None].float()


def test_a_wall_seen_at_an_angle_is_found_and_seen_square_on():
    c = (0.0002, 0.0011)  # its vanishing line about 900 px from the centre
    wall = _wall(c)
    waves = find_waves(wall)
    found = find_perspective(wall, waves)
    assert found is not None
    assert np.linalg.norm(np.array(found.c) - np.array(c)) < 0.1 * np.linalg.norm(c)
    # square on, every window reads the same lattice, and no perspective is left
    square = rectify(wall, found)
    assert square.shape[1] == 3 and min(square.shape[-2:]) > 0.7 * 384
    again = find_waves(square)
    assert find_perspective(square, again) is None
    field = local_waves(square, again)
    centre = np.array([square.shape[-1] / 2, square.shape[-2] / 2])
    seen = local_waves(wall, waves)
    middle = np.array([192.0, 192.0])
    before = min(wave_spread(seen[seen[:, 2] == i], np.zeros(2), middle) for i in range(len(waves)))
    after = max(wave_spread(field[field[:, 2] == i], np.zeros(2), centre) for i in range(len(again)))
    assert after < 0.25 * before


@pytest.mark.parametrize("make", [lambda: _wall(), lambda: stripes(256), lambda: torch.rand(1, 3, 200, 240) * 2 - 1])
def test_a_flat_lattice_or_a_texture_without_one_is_left_as_it_is(make):
    image = make()
    assert find_perspective(image, find_waves(image)) is None
    out, notes = rectify_exemplar(image)
    assert out is image and notes == []


def test_a_fit_sees_a_wall_square_on_and_says_so_unless_told_not_to():
    wall = _wall((0.0002, 0.0011))
    fast = TrainConfig(coarse_steps=2, fine_steps=2, fine_budget_scales=1)
    model = patchtex.fit(wall, fast)
    notes = [n for n in model.meta["notes"] if "square on" in n]
    assert len(notes) == 1 and "--no-rectify" in notes[0]
    exemplar = model.meta["exemplar"]
    assert (exemplar["fitted_width"], exemplar["fitted_height"]) != (384, 384)
    kept = patchtex.fit(wall, TrainConfig(coarse_steps=2, fine_steps=2, fine_budget_scales=1, rectify=False))
    assert not any("square on" in n for n in kept.meta["notes"])
    assert (kept.meta["exemplar"]["fitted_width"], kept.meta["exemplar"]["fitted_height"]) == (384, 384)


@pytest.mark.slow  # three CLI fits of a 384 px wall, 20 s
def test_the_cli_says_it_saw_a_wall_square_on_and_refine_fits_the_image_as_it_is(tmp_path):
    from click.testing import CliRunner

    from patchtex.cli import main
    from patchtex.images import save_image

    src = tmp_path / "wall.png"
    save_image(_wall((0.0002, 0.0011)), src)
    fitted = CliRunner().invoke(main, ["fit", str(src), "--steps", "2", "-q", "-o", str(tmp_path / "a.safetensors")])
    assert fitted.exit_code == 0, fitted.output
    assert "seen at an angle" in fitted.output and "--no-rectify" in fitted.output
    kept = CliRunner().invoke(
        main, ["fit", str(src), "--steps", "2", "-q", "--no-rectify", "-o", str(tmp_path / "b.safetensors")]
    )
    assert kept.exit_code == 0 and "seen at an angle" not in kept.output
    # refine improves the photo as it is: its self-fit is not seen square on
    saved = tmp_path / "self.safetensors"
    args = ["refine", str(src), "--steps", "2", "--upscale", "2", "--save-model", str(saved), "-q"]
    refined = CliRunner().invoke(main, [*args, "-o", str(tmp_path / "up.png")])
    assert refined.exit_code == 0, refined.output
    exemplar = patchtex.load(saved).meta["exemplar"]
    assert (exemplar["fitted_width"], exemplar["fitted_height"]) == (384, 384)
