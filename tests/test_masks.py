"""Masks as people draw them: JPEG-saved, anti-aliased, coloured, inverted, layers with
alpha, soft-edged alpha holes; and warnings for likely mistakes."""

import io

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image, ImageDraw
from scipy.ndimage import distance_transform_edt

from patchtex.cli import main
from patchtex.images import to_uint8
from patchtex.refine import read_damage

from .conftest import stripes

SIZE = 96
SUPER = 4  # strokes are drawn this much larger and downscaled: anti-aliased edges


def _strokes(ink, paper, size=SIZE, mode="RGB"):
    """An anti-aliased scribble and a disc in `ink` on `paper`, and each pixel's coverage."""
    big = size * SUPER
    cover = Image.new("L", (big, big), 0)
    draw = ImageDraw.Draw(cover)
    draw.line([(10 * SUPER, 20 * SUPER), (50 * SUPER, 70 * SUPER), (85 * SUPER, 30 * SUPER)], fill=255, width=5 * SUPER)
    draw.ellipse([60 * SUPER, 60 * SUPER, 85 * SUPER, 85 * SUPER], fill=255)
    coverage = np.asarray(cover.resize((size, size), Image.Resampling.BOX), dtype=np.float64) / 255
    ink, paper = np.array(ink, dtype=np.float64), np.array(paper, dtype=np.float64)
    pixels = paper + coverage[..., None] * (ink - paper)
    return Image.fromarray(pixels.round().astype(np.uint8).squeeze(), mode), coverage


def _save(image, path, fmt="PNG", **kw):
    image.save(path, fmt, **kw)
    return path


def _read(path, invert=False, image=None):
    image = stripes(SIZE) if image is None else image
    return read_damage(image, path, invert=invert)


def _agrees(marked, coverage):
    """Every pixel at least 3/4 covered is marked; nothing 2 px or more away from a stroke is."""
    marked = marked[0, 0].numpy() > 0
    far = distance_transform_edt(coverage == 0) >= 2
    return bool(marked[coverage >= 0.75].all()) and not bool(marked[far].any())


@pytest.mark.parametrize(
    ("ink", "paper", "invert"),
    [
        ((255, 255, 255), (0, 0, 0), False),  # white = damaged
        ((0, 0, 0), (255, 255, 255), True),  # black = damaged (--mask-invert)
        ((255, 0, 0), (0, 0, 0), False),  # a red stroke is darker than mid-grey
        ((230, 20, 20), (255, 255, 255), True),  # red on white, the other convention
        ((0, 60, 255), (0, 0, 0), False),  # blue
    ],
)
@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_drawn_masks_read_as_drawn(tmp_path, ink, paper, invert, fmt):
    image, coverage = _strokes(ink, paper)
    path = _save(image, tmp_path / f"m.{fmt.lower()}", fmt, **({"quality": 50} if fmt == "JPEG" else {}))
    damage = _read(path, invert)
    assert _agrees(damage.mask, coverage)
    assert damage.warnings == ()


def test_grey_mask_with_jpeg_ringing(tmp_path):
    """A grey (L) mask saved as a low-quality JPEG: its ringing stays under the threshold."""
    image, coverage = _strokes(255, 0, mode="L")
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=30)
    noisy = np.asarray(Image.open(buffer))
    assert np.abs(noisy.astype(int) - np.asarray(image, dtype=int))[coverage == 0].max() > 5  # it rings
    path = _save(Image.fromarray(noisy), tmp_path / "m.png")
    assert _agrees(_read(path).mask, coverage)


def test_layer_with_alpha_reads_its_strokes(tmp_path):
    """Strokes on a transparent layer: transparent = background, in either convention."""
    rgb, coverage = _strokes((255, 255, 255), (255, 255, 255))
    alpha = Image.fromarray((coverage * 255).round().astype(np.uint8))
    layer = rgb.copy()
    layer.putalpha(alpha)
    path = _save(layer, tmp_path / "layer.png")
    assert _agrees(_read(path).mask, coverage)
    black, _ = _strokes((0, 0, 0), (0, 0, 0))
    black.putalpha(alpha)
    assert _agrees(_read(_save(black, tmp_path / "black.png"), invert=True).mask, coverage)


def test_inverted_mask_warns(tmp_path):
    """Black strokes on white read in the default convention mark most of the image."""
    image, _ = _strokes((0, 0, 0), (255, 255, 255))
    damage = _read(_save(image, tmp_path / "m.png"))
    assert damage.mask.mean() > 0.5
    assert len(damage.warnings) == 1 and "--mask-invert" in damage.warnings[0]
    assert _read(tmp_path / "m.png", invert=True).warnings == ()


def test_a_photo_given_as_mask_warns(tmp_path):
    """The damaged image itself passed as the mask: its kept area is coloured."""
    rng = np.random.default_rng(0)
    photo = np.stack(
        [rng.integers(120, 200, (SIZE, SIZE)), rng.integers(60, 110, (SIZE, SIZE)), np.full((SIZE, SIZE), 40)], -1
    )
    damage = _read(_save(Image.fromarray(photo.astype(np.uint8)), tmp_path / "photo.png"))
    assert any("damaged image rather than its mask" in w for w in damage.warnings)


def test_soft_alpha_hole_is_blended_back(tiny_model):
    """Fully transparent pixels are filled; partly transparent ones are the fill blended
    with the input by their alpha; opaque ones are the input, bit for bit."""
    image = stripes(48)
    yy, xx = torch.meshgrid(torch.arange(48.0), torch.arange(48.0), indexing="ij")
    radius = ((yy - 24) ** 2 + (xx - 24) ** 2).sqrt()
    alpha = ((radius - 10) / 4).clamp(0, 1)  # a disc of radius 10 with a 4 px soft edge
    rgba = torch.cat([image, alpha[None, None] * 2 - 1], 1)
    rgba = torch.from_numpy(to_uint8(rgba)).permute(2, 0, 1)[None].float() / 127.5 - 1  # as a file holds it
    alpha = (rgba[:, 3:] + 1) / 2
    damage = read_damage(rgba)
    assert "blended back" in damage.notes[0]
    out = tiny_model.refine(rgba, seed=1)
    rgb = rgba[:, :3]
    fill = tiny_model.refine(rgba[:, :3], (alpha < 1).float(), seed=1)  # the same repair, hard mask
    opaque = alpha[0, 0] == 1
    assert torch.equal(out[..., opaque], rgb[..., opaque])
    clear = alpha[0, 0] == 0
    assert torch.equal(out[..., clear], fill[..., clear])
    edge = ~opaque & ~clear
    assert edge.sum() > 50
    expected = alpha * rgb + (1 - alpha) * fill
    assert torch.allclose(out[..., edge], expected[..., edge], atol=1e-5)


def test_cli_mask_invert_and_warning(tmp_path, model_file):
    image = tmp_path / "img.png"
    Image.fromarray(to_uint8(stripes(SIZE))).save(image)
    mask, _ = _strokes((0, 0, 0), (255, 255, 255))
    _save(mask, tmp_path / "mask.png")
    runner = CliRunner()
    args = ["refine", str(image), "--mask", str(tmp_path / "mask.png"), "--model", str(model_file), "-q"]
    plain = runner.invoke(main, args + ["-o", str(tmp_path / "a.png")])
    assert plain.exit_code == 0, plain.output
    assert "warning: the mask marks" in plain.output and "--mask-invert" in plain.output
    inverted = runner.invoke(main, args + ["--mask-invert", "-o", str(tmp_path / "b.png")])
    assert inverted.exit_code == 0, inverted.output
    assert "warning" not in inverted.output
    before, after = to_uint8(stripes(SIZE)), np.asarray(Image.open(tmp_path / "b.png"))
    changed = (before != after).any(-1)
    assert 0 < changed.mean() < 0.2  # only the strokes changed
