"""The bad-input battery: every case gets one clear line, the right exit code, no
traceback and no output file. Plus fuzzing of the size parser and the model-file reader."""

import io
import json
import struct

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import example, given, settings
from hypothesis import strategies as st
from PIL import Image

from patchtex.checkpoint import ModelFileError, load_model, read_header
from patchtex.cli import main, parse_size, parse_window


def _check(result, code, message):
    assert result.exit_code == code, result.output
    assert message in result.output, result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output


def _fit(tmp_path, image_path, *extra):
    out = tmp_path / "m.safetensors"
    result = CliRunner().invoke(main, ["fit", str(image_path), "-o", str(out), "--steps", "1", "-q", *extra])
    return result, out


def _write(tmp_path, name, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _png_bytes(img: Image.Image, fmt="PNG") -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt)
    return buf.getvalue()


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda t: t / "missing.png", "no such file"),
        (lambda t: (t / "dir.png").mkdir() or t / "dir.png", "is a directory"),
        (lambda t: _write(t, "empty.png", b""), "is empty"),
        (lambda t: _write(t, "text.png", b"hello, I am text"), "is not an image"),
        (lambda t: _write(t, "cut.png", _png_bytes(Image.effect_noise((64, 64), 50))[:-300]), "truncated or corrupt"),
        (
            lambda t: _write(t, "cut.jpg", _png_bytes(Image.effect_noise((64, 64), 50).convert("RGB"), "JPEG")[:200]),
            "truncated or corrupt",
        ),
        (lambda t: _write(t, "small.png", _png_bytes(Image.new("RGB", (31, 80)))), "needs at least 32 px"),
        (lambda t: _write(t, "one.png", _png_bytes(Image.new("RGB", (1, 1)))), "needs at least 32 px"),
    ],
)
def test_fit_bad_inputs(tmp_path, make, message):
    result, out = _fit(tmp_path, make(tmp_path))
    _check(result, 1, message)
    assert not out.exists()


@pytest.mark.parametrize(
    "img",
    [
        Image.fromarray(np.arange(48 * 48, dtype=np.uint16).reshape(48, 48) * 20),  # 16-bit
        Image.new("CMYK", (48, 48), (10, 20, 30, 40)),
        Image.new("LA", (48, 48), (100, 128)),
        Image.new("RGBA", (48, 48), (1, 2, 3, 128)),
    ],
    ids=["16bit", "cmyk", "la", "rgba"],
)
def test_fit_accepts_unusual_pixel_formats(tmp_path, img):
    path = tmp_path / ("x.jpg" if img.mode == "CMYK" else "x.png")
    img.save(path)
    result, out = _fit(tmp_path, path)
    assert result.exit_code == 0, result.output
    assert out.exists()


def test_animated_gif_note(tmp_path):
    frames = [Image.effect_noise((48, 48), 40 + 10 * i) for i in range(3)]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    result, out = _fit(tmp_path, path)
    assert result.exit_code == 0 and "has 3 frames; using the first" in result.output


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["--size", "0x0"], 2, "at least 1x1"),
        (["--size", "-5x5"], 2, "is not WIDTHxHEIGHT"),
        (["--size", "12x"], 2, "is not WIDTHxHEIGHT"),
        (["--size", "abc"], 2, "is not WIDTHxHEIGHT"),
        (["--size", "1e9x1e9"], 2, "is not WIDTHxHEIGHT"),
        (["--size", "900000x900000", "-o", "x.jpg"], 2, "GiB of memory"),
        (["--size", "900001x900000", "--tileable", "-o", "x.png"], 2, "GiB of memory"),
        (["--size", "8x8", "-o", "x.bmp"], 2, "cannot write '.bmp'"),
        (["--size", "8x8", "-o", "nodir/x.png"], 2, "does not exist"),
        (["--window", "1,2,3"], 2, "is not X,Y,WIDTH,HEIGHT"),
        (["--size", "8x8", "--preview"], 2, "add --tileable"),
        (["--size", "8x8", "--bits", "16", "-o", "x.jpg"], 2, "needs a .png or .tif"),
    ],
)
def test_synth_bad_arguments(tmp_path, monkeypatch, args, code, message):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["synth", *args])
    _check(result, code, message)
    assert list(tmp_path.iterdir()) == []  # no output, no half-written file, no directory


def test_unwritable_output_directory(tmp_path, model_file):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        import os

        if os.access(locked, os.W_OK):
            pytest.skip("running as a user who can write anywhere")
        result = CliRunner().invoke(main, ["synth", str(model_file), "--size", "8x8", "-o", str(locked / "x.png")])
        _check(result, 2, "is not writable")
    finally:
        locked.chmod(0o700)


def test_refine_mask_of_other_size(tmp_path, model_file):
    Image.effect_noise((48, 48), 40).convert("RGB").save(tmp_path / "img.png")
    Image.new("L", (20, 20), 255).save(tmp_path / "mask.png")
    result = CliRunner().invoke(
        main, ["refine", str(tmp_path / "img.png"), "--mask", str(tmp_path / "mask.png"), "--model", str(model_file)]
    )
    _check(result, 2, "they must be the same size")
    assert not (tmp_path / "img-refined.png").exists()


def test_debug_shows_traceback(tmp_path):
    result = CliRunner().invoke(main, ["fit", str(tmp_path / "nope.png"), "--debug"])
    assert result.exit_code != 0 and isinstance(result.exception, ValueError)


@given(st.text(max_size=30))
@settings(max_examples=300, deadline=None)
def test_parse_size_never_crashes(text):
    try:
        width, height = parse_size(text)
    except ValueError as exc:
        assert "\n" not in str(exc)
    else:
        assert width >= 1 and height >= 1


@given(st.integers(-(10**6), 10**6), st.integers(-(10**6), 10**6), st.integers(1, 10**5), st.integers(1, 10**5))
@settings(max_examples=100, deadline=None)
def test_parse_window_round_trip(x, y, w, h):
    assert parse_window(f"{x},{y},{w},{h}") == (x, y, w, h)


@given(st.binary(max_size=200))
@settings(max_examples=200, deadline=None)
def test_header_reader_rejects_arbitrary_bytes(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "f.safetensors"
    path.write_bytes(data)
    with pytest.raises(ModelFileError):
        read_header(path)


@given(st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=5), st.text(max_size=8))
@example(metadata={}, version="1")  # a header that passes every check of its own
@example(metadata={"model_config": "{}"}, version="0")
@settings(max_examples=200, deadline=None)
def test_header_reader_rejects_foreign_metadata(tmp_path_factory, metadata, version):
    header = {"__metadata__": {**metadata, "format": "patchtex-model", "format_version": version}}
    raw = json.dumps(header).encode()
    path = tmp_path_factory.mktemp("fuzz") / "f.safetensors"
    path.write_bytes(struct.pack("<Q", len(raw)) + raw)
    # whatever the header says, no model comes out of it: one sentence, raised by the
    # header check or by the loader that reads what the header promises
    with pytest.raises(ModelFileError) as info:
        read_header(path)
        load_model(path)
    assert "\n" not in str(info.value)


def test_no_downscale_refuses_large_exemplar(tmp_path):
    path = tmp_path / "big.png"
    Image.effect_noise((300, 120), 40).save(path)
    result, out = _fit(tmp_path, path, "--max-side", "256", "--no-downscale")
    _check(result, 2, "larger than --max-side 256")
    assert not out.exists()
