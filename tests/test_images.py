"""Image input in every common pixel format, and atomic output."""

import io

import numpy as np
import pytest
import torch
from PIL import Image

from patchtex.images import ImageError, check_output_path, load_image, save_image


def _save(tmp_path, name, img, **kw):
    path = tmp_path / name
    img.save(path, **kw)
    return path


def test_rgb_round_trip_is_exact(tmp_path):
    array = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    src = _save(tmp_path, "a.png", Image.fromarray(array))
    pixels = load_image(src).pixels
    assert pixels.shape == (1, 3, 20, 30)
    save_image(pixels, tmp_path / "b.png")
    assert np.array_equal(np.asarray(Image.open(tmp_path / "b.png")), array)


@pytest.mark.parametrize(
    "mode, channels",
    [("L", 1), ("LA", 2), ("RGB", 3), ("RGBA", 4), ("1", 1), ("CMYK", 3)],
)
def test_modes_map_to_channels(tmp_path, mode, channels):
    img = Image.new(mode, (16, 12))
    if "A" in mode:  # a non-opaque alpha is kept
        alpha = Image.new("L", (16, 12), 128)
        img.putalpha(alpha)
    ext = "jpg" if mode == "CMYK" else "png"
    path = _save(tmp_path, f"x.{ext}", img)
    assert load_image(path).pixels.shape[1] == channels


def test_opaque_alpha_is_dropped(tmp_path):
    path = _save(tmp_path, "x.png", Image.new("RGBA", (8, 8), (10, 20, 30, 255)))
    assert load_image(path).pixels.shape[1] == 3


def test_palette_with_transparency_becomes_rgba(tmp_path):
    img = Image.new("P", (8, 8), 1)
    img.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    img.putpixel((0, 0), 0)
    path = _save(tmp_path, "p.png", img, transparency=0)
    px = load_image(path).pixels
    assert px.shape[1] == 4 and px[0, 3, 0, 0] == -1 and px[0, 0, 1, 1] == 1


def test_16bit_png_keeps_precision(tmp_path):
    array = (np.arange(64 * 64, dtype=np.uint16).reshape(64, 64) * 16).astype(np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(array).save(path)
    px = load_image(path).pixels
    expected = torch.from_numpy(array.astype(np.float64) / 65535 * 2 - 1).float()
    assert torch.allclose(px[0, 0], expected, atol=1e-6)


def test_exif_rotation_is_applied(tmp_path):
    img = Image.new("RGB", (30, 10), (255, 0, 0))
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise when shown
    path = _save(tmp_path, "r.jpg", img, exif=exif)
    assert load_image(path).pixels.shape[-2:] == (30, 10)


def test_animated_gif_gives_first_frame_and_a_note(tmp_path):
    frames = [Image.new("L", (8, 8), v) for v in (0, 255)]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    loaded = load_image(path)
    assert loaded.pixels.max().item() == -1
    assert "2 frames" in loaded.notes[0]


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p, "no such file"),
        (lambda p: (p.mkdir(), p)[1], "is a directory"),
        (lambda p: (p.write_bytes(b""), p)[1], "is empty"),
        (lambda p: (p.write_text("just text"), p)[1], "is not an image"),
    ],
)
def test_bad_inputs_have_one_line_messages(tmp_path, make, message):
    path = make(tmp_path / "in.png")
    with pytest.raises(ImageError, match=message) as info:
        load_image(path)
    assert "\n" not in str(info.value)


def test_truncated_png(tmp_path):
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(buf, "PNG")
    path = tmp_path / "cut.png"
    path.write_bytes(buf.getvalue()[:-200])
    with pytest.raises(ImageError, match="truncated or corrupt"):
        load_image(path)


def test_decompression_bomb_is_a_sentence(tmp_path, monkeypatch):
    import patchtex.images as images

    monkeypatch.setattr(images, "MAX_PIXELS", 100)
    path = _save(tmp_path, "big.png", Image.new("L", (40, 40)))
    with pytest.raises(ImageError, match="too large to decode safely"):
        load_image(path)


def test_output_checks(tmp_path):
    with pytest.raises(ImageError, match="cannot write '.bmp'"):
        check_output_path(tmp_path / "x.bmp")
    with pytest.raises(ImageError, match="does not exist"):
        check_output_path(tmp_path / "missing" / "x.png")
    src = _save(tmp_path, "in.png", Image.new("RGB", (4, 4)))
    with pytest.raises(ImageError, match="is the input file"):
        check_output_path(src, (src,))


@pytest.mark.parametrize("name", ["o.png", "o.jpg", "o.tif", "o.webp"])
def test_save_formats_atomically(tmp_path, name):
    pixels = torch.rand(1, 4, 9, 7) * 2 - 1
    save_image(pixels, tmp_path / name)
    assert [p.name for p in tmp_path.iterdir()] == [name]
    assert Image.open(tmp_path / name).size == (7, 9)


def test_16bit_colour_tiff(tmp_path):
    pixels = torch.linspace(-1, 1, 3 * 5 * 6).reshape(1, 3, 5, 6)
    save_image(pixels, tmp_path / "deep.tif", bits=16)
    back = load_image(tmp_path / "deep.tif")
    assert back.pixels.shape == (1, 3, 5, 6)
