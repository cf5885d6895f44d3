"""Band-by-band writers give the same pixels as the in-memory path."""

import struct
import zlib

import numpy as np
import pytest
import tifffile
import torch
from PIL import Image

from patchtex.canvas import calm_offsets
from patchtex.images import to_uint8, to_uint16
from patchtex.streaming import write_streaming


def _bands(image: torch.Tensor, rows: int):
    for top in range(0, image.shape[-2], rows):
        yield image[..., top : top + rows, :]


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_png_stream_matches_in_memory_pixels(tmp_path, channels):
    image = torch.rand(1, channels, 37, 29, generator=torch.Generator().manual_seed(channels)) * 2 - 1
    path = tmp_path / "s.png"
    write_streaming(path, 29, 37, channels, _bands(image, 8))
    back = np.asarray(Image.open(path))
    expected = to_uint8(image)
    assert np.array_equal(back.reshape(expected.shape), expected)
    assert [p.name for p in tmp_path.iterdir()] == ["s.png"]


def test_png_stream_16bit(tmp_path):
    image = torch.rand(1, 1, 10, 12, generator=torch.Generator().manual_seed(0)) * 2 - 1
    path = tmp_path / "d.png"
    write_streaming(path, 12, 10, 1, _bands(image, 3), bits=16)
    back = np.asarray(Image.open(path)).astype(np.uint16)
    assert np.array_equal(back, to_uint16(image)[..., 0])


@pytest.mark.parametrize("rows", [512, 100])  # a tileable output's bands start at its origin row
def test_tiff_stream_matches(tmp_path, rows):
    image = torch.rand(1, 3, 600, 530, generator=torch.Generator().manual_seed(1)) * 2 - 1
    path = tmp_path / "t.tif"
    write_streaming(path, 530, 600, 3, _bands(image, rows))
    assert np.array_equal(tifffile.imread(path), to_uint8(image))


def test_failed_render_leaves_nothing(tmp_path):
    def broken():
        yield torch.zeros(1, 3, 4, 8)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_streaming(tmp_path / "x.png", 8, 8, 3, broken())
    assert list(tmp_path.iterdir()) == []


def test_streamed_synth_equals_in_memory(tiny_model, tmp_path):
    tiny_model.synth_to_file(tmp_path / "a.png", (70, 530), seed=2)
    expected = to_uint8(tiny_model.synth((70, 530), seed=2))
    assert np.array_equal(np.asarray(Image.open(tmp_path / "a.png")), expected)
    tiny_model.synth_to_file(tmp_path / "w.png", (20, 10), seed=2, window=(-5, 3))
    expected = to_uint8(tiny_model.synth_window(-5, 3, 20, 10, seed=2))
    assert np.array_equal(np.asarray(Image.open(tmp_path / "w.png")), expected)


def test_streamed_tileable_equals_in_memory(tiny_model, tmp_path):
    tiny_model.synth_to_file(tmp_path / "t.png", (70, 530), seed=3, tileable=True)
    expected = to_uint8(tiny_model.synth((70, 530), seed=3, tileable=True))
    assert np.array_equal(np.asarray(Image.open(tmp_path / "t.png")), expected)


def test_calm_offsets_same_from_bands_as_whole():
    image = torch.rand(1, 3, 37, 29, generator=torch.Generator().manual_seed(5))
    image[..., 20, :] = 0.5  # rows 20 and 21 nearly equal: the calm row edge is 21
    image[..., 21, :] = 0.5
    image[..., :, 11] = image[..., :, 10]
    whole = calm_offsets([image])
    assert whole == (11, 21)
    for rows in (1, 5, 8, 36):
        assert calm_offsets(_bands(image, rows)) == whole


def test_streams_only_where_bands_are_possible(tiny_model):
    step = tiny_model.config.factor(0)  # the coarsest grid
    assert tiny_model.streams("a.png", (7 * step + 1, 5))
    assert tiny_model.streams("a.tif", (7 * step, 5 * step), tileable=True)
    assert not tiny_model.streams("a.png", (7 * step + 1, 5 * step), tileable=True)  # resampled whole
    assert not tiny_model.streams("a.jpg", (7 * step, 5 * step))


def _read_our_png(path) -> np.ndarray:
    """Decode a PNG written by `write_png_stream` (Sub-filtered rows), 8 or 16 bits, any
    channel count: Pillow reads 16-bit colour PNGs as 8-bit, so it cannot check them."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        header = body if kind == b"IHDR" else header
        idat += body if kind == b"IDAT" else b""
        pos += 12 + length
    width, height, bits, colour = struct.unpack(">IIBB", header[:10])
    channels = {0: 1, 4: 2, 2: 3, 6: 4}[colour]
    bpp = channels * bits // 8
    raw = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(height, 1 + width * bpp)
    assert set(raw[:, 0]) <= {1}
    rows = raw[:, 1:].reshape(height, width, bpp).astype(np.uint8)
    rows = np.cumsum(rows, axis=1, dtype=np.uint8)  # undo Sub: each byte adds the one bpp before
    if bits == 16:
        return rows.view(">u2").reshape(height, width, channels).astype(np.uint16)
    return rows.reshape(height, width, channels)


@pytest.mark.parametrize("size, tileable", [((40, 30), False), ((32, 24), True), ((33, 27), True)])
@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16bit_colour_output_for_every_size_and_mode(tiny_model, tmp_path, size, tileable, suffix):
    path = tiny_model.synth_to_file(tmp_path / f"deep{suffix}", size, seed=3, tileable=tileable, bits=16)
    back = _read_our_png(path) if suffix == ".png" else tifffile.imread(path)
    assert back.dtype == np.uint16
    assert np.array_equal(back, to_uint16(tiny_model.synth(size, seed=3, tileable=tileable)))
