"""Band-by-band writers give the same pixels as the in-memory path."""

import numpy as np
import pytest
import tifffile
import torch
from PIL import Image

from patchtex.images import to_uint8, to_uint16
from patchtex.sample import calm_offsets
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


def test_tiff_stream_matches(tmp_path):
    image = torch.rand(1, 3, 600, 530, generator=torch.Generator().manual_seed(1)) * 2 - 1
    path = tmp_path / "t.tif"
    write_streaming(path, 530, 600, 3, _bands(image, 512))
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
