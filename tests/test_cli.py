"""The command line, through click's CliRunner in an isolated directory."""

import json
import re

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

import patchtex
from patchtex.cli import main, parse_size

from .conftest import stripes


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def exemplar_png(tmp_path):
    array = ((stripes(48)[0].permute(1, 2, 0).numpy() + 1) * 127.5).round().astype(np.uint8)
    path = tmp_path / "stripes.png"
    Image.fromarray(array).save(path)
    return path


@pytest.mark.parametrize("text, size", [("2048x1024", (2048, 1024)), ("512", (512, 512)), (" 7 X 9 ", (7, 9))])
def test_parse_size(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["0x0", "-5x5", "12x", "abc", "1e9x1e9", "10x0", "99999999x2"])
def test_bad_sizes_exit_2_with_message(runner, text):
    result = runner.invoke(main, ["synth", "--size", text])
    assert result.exit_code == 2, result.output
    assert "--size" in result.output and "Traceback" not in result.output


def test_fit_then_synth_then_score(runner, exemplar_png, tmp_path):
    model = tmp_path / "m.safetensors"
    result = runner.invoke(main, ["fit", str(exemplar_png), "-o", str(model), "--steps", "2", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert model.exists() and "wrote" in result.output
    out = tmp_path / "t.png"
    result = runner.invoke(main, ["synth", str(model), "--size", "40x30", "--seed", "3", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert Image.open(out).size == (40, 30)
    result = runner.invoke(main, ["synth", str(model), "--size", "40x30", "-n", "2", "-o", str(tmp_path / "s.png")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "s-0.png").exists() and (tmp_path / "s-1.png").exists()
    result = runner.invoke(
        main, ["score", str(exemplar_png), str(tmp_path / "s-0.png"), str(tmp_path / "s-1.png"), "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert len(data["rows"]) == 3 and data["diversity"] > 0
    assert data["rows"][0]["image"] == "baseline: exemplar halves" and "seam" not in data["rows"][1]
    result = runner.invoke(main, ["score", str(exemplar_png), str(out), "--ref", str(exemplar_png)])
    assert result.exit_code == 0 and "swd_ref" in result.output and f"baseline: {exemplar_png}" in result.output


def test_score_baseline_is_real_texture_against_real_texture(runner, tmp_path):
    """Without --ref the baseline row is one half of the exemplar scored against the
    other; a tileable output gets a seam column."""
    from patchtex.quality import patch_swd, seam_ratio

    pixels = stripes(96)
    exemplar = tmp_path / "ex.png"
    patchtex.save_image(pixels, exemplar)
    pixels = patchtex.load_image(exemplar).pixels
    out = tmp_path / "out.png"
    patchtex.save_image(pixels.roll(17, dims=-1), out)
    result = runner.invoke(main, ["score", str(exemplar), str(out), "--tileable", "--json"])
    assert result.exit_code == 0, result.output
    base, row = json.loads(result.output)["rows"]
    assert base["swd"] == pytest.approx(patch_swd(pixels[..., 48:], pixels[..., :48]))
    assert base["seam"] is None and row["seam"] == pytest.approx(seam_ratio(pixels.roll(17, dims=-1)))


def test_fit_progress_names_every_scale_of_the_whole_fit(runner, exemplar_png, tmp_path):
    model = tmp_path / "m.safetensors"
    # every scale trained (a quilted coarsest scale has nothing to train: next test)
    result = runner.invoke(
        main, ["fit", str(exemplar_png), "-o", str(model), "--steps", "3", "--coarse-layout", "generator"]
    )
    assert result.exit_code == 0, result.output
    n = patchtex.load(model).config.num_scales
    for k in range(1, n + 1):
        assert f"scale {k}/{n} done: 3 steps in " in result.output
    assert "critic " in result.output and "patches " in result.output and "left" in result.output


def test_fit_quilts_the_coarsest_scale_unless_asked_for_the_generator(runner, tmp_path):
    generator = torch.Generator().manual_seed(0)
    blobs = torch.nn.functional.interpolate(
        torch.randn(1, 3, 12, 12, generator=generator), size=(96, 96), mode="bicubic"
    )
    path = tmp_path / "blobs.png"
    Image.fromarray(((torch.tanh(blobs)[0].permute(1, 2, 0).numpy() + 1) * 127.5).round().astype(np.uint8)).save(path)
    quilted, plain = tmp_path / "q.safetensors", tmp_path / "g.safetensors"
    result = runner.invoke(main, ["fit", str(path), "-o", str(quilted), "--steps", "2"])
    assert result.exit_code == 0, result.output
    n = patchtex.load(quilted).config.num_scales
    assert f"scale 1/{n}: quilted from the exemplar's own coarsest level" in result.output
    assert patchtex.load(quilted).config.layout_size
    info = runner.invoke(main, ["info", str(quilted)])
    # a 96x96 exemplar is small (under small_exemplar_px): its quilt has 12 px cells
    assert info.exit_code == 0 and "quilt of this level's own blocks, 12 px cells" in info.output, info.output
    result = runner.invoke(main, ["fit", str(path), "-o", str(plain), "--steps", "2", "--coarse-layout", "generator"])
    assert result.exit_code == 0, result.output
    assert not patchtex.load(plain).config.layout_size and "quilted" not in result.output
    result = runner.invoke(main, ["fit", str(path), "--coarse-layout", "patches"])
    assert result.exit_code == 2 and "--coarse-layout" in result.output and "Traceback" not in result.output


def test_refine_without_model_says_it_fits_first(runner, exemplar_png, tmp_path):
    model = tmp_path / "m.safetensors"
    out = tmp_path / "r.png"
    result = runner.invoke(
        main, ["refine", str(exemplar_png), "--steps", "1", "-q", "-o", str(out), "--save-model", str(model)]
    )
    assert result.exit_code == 0, result.output
    n = patchtex.load(model).config.num_scales
    scales = f"{n} scale{'s' if n > 1 else ''}"
    assert f"a model is fitted on this image's undamaged pixels first ({scales}, about 1 min" in result.output


def test_fit_estimate_counts_the_scales_of_the_downscaled_exemplar():
    from patchtex.cli import _fit_estimate

    # a 4000x3000 photo is fitted at 1024x768 (at full size its structure would ask 5 scales)
    assert _fit_estimate(4000, 3000, None, period=192.0) == _fit_estimate(1024, 768, None, period=192.0)
    assert _fit_estimate(1024, 768, None, period=192.0).startswith("3 scales")
    # a quilt leaves at most two GAN scales (`quilt_finer_scales`; 5 by `layout_side`
    # alone), unless the structure already holds the level finer than `layout_side` would
    assert _fit_estimate(1024, 768, None).startswith("3 scales")
    assert _fit_estimate(1024, 768, None, period=96.0).startswith("4 scales")
    assert _fit_estimate(256, 256, None).startswith("3 scales")


def test_synth_window_matches_whole(runner, model_file, tmp_path):
    whole, part = tmp_path / "whole.png", tmp_path / "part.png"
    assert runner.invoke(main, ["synth", str(model_file), "--size", "60x40", "-o", str(whole)]).exit_code == 0
    result = runner.invoke(main, ["synth", str(model_file), "--window", "20,10,30,25", "-o", str(part)])
    assert result.exit_code == 0, result.output
    assert np.array_equal(np.asarray(Image.open(whole))[10:35, 20:50], np.asarray(Image.open(part)))


def test_bundled_demo_model(runner, tmp_path):
    out = tmp_path / "demo.png"
    result = runner.invoke(main, ["synth", "--size", "96x64", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert Image.open(out).size == (96, 64)


def test_bad_model_file_is_one_line_exit_1(runner, tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_text("not a model")
    result = runner.invoke(main, ["synth", str(bad), "--size", "8x8", "-o", str(tmp_path / "o.png")])
    assert result.exit_code == 1
    assert "is not a patchtex model file" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "o.png").exists()


def test_fit_refuses_tiny_exemplar(runner, tmp_path):
    path = tmp_path / "tiny.png"
    Image.new("RGB", (20, 50)).save(path)
    result = runner.invoke(main, ["fit", str(path), "-o", str(tmp_path / "m.safetensors")])
    assert result.exit_code == 1
    assert "at least 32 px" in result.output
    assert not (tmp_path / "m.safetensors").exists()


def test_output_equal_to_input_is_refused(runner, model_file):
    before = model_file.read_bytes()
    result = runner.invoke(main, ["synth", str(model_file), "--size", "8x8", "-o", str(model_file)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert model_file.read_bytes() == before


def test_missing_input_one_line(runner, tmp_path):
    result = runner.invoke(main, ["fit", str(tmp_path / "nope.png")])
    assert result.exit_code == 1
    assert "no such file" in result.output and len(result.output.strip().splitlines()) == 1


def test_cuda_on_cpu_machine(runner, exemplar_png, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    result = runner.invoke(main, ["fit", str(exemplar_png), "--device", "cuda"])
    assert result.exit_code == 2 and "CUDA is not available" in result.output


@pytest.mark.parametrize("size", ["32x24", "33x27"])  # 33x27: the coarse grid does not divide it
def test_16bit_tileable_colour_png(runner, model_file, tmp_path, size):
    out = tmp_path / "deep.png"
    result = runner.invoke(
        main, ["synth", str(model_file), "--size", size, "--bits", "16", "--tileable", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert Image.open(out).size == tuple(int(v) for v in size.split("x"))


def test_precision_is_a_choice(runner, model_file, tmp_path):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    for path in (a, b):
        args = ["synth", str(model_file), "--size", "40x30", "--precision", "fp32", "-o", str(path)]
        assert runner.invoke(main, args).exit_code == 0
    assert a.read_bytes() == b.read_bytes()
    result = runner.invoke(main, ["synth", str(model_file), "--precision", "fp16", "-o", str(a)])
    assert result.exit_code == 2 and "fp16" in result.output


def test_interrupted_synth_says_what_was_written(runner, model_file, tmp_path, monkeypatch):
    from patchtex.api import Model

    real = Model.synth_to_file
    calls = []

    def second_call_interrupted(self, path, *args, **kwargs):
        calls.append(path)
        if len(calls) == 2:
            raise KeyboardInterrupt  # Ctrl-C while the second output renders
        return real(self, path, *args, **kwargs)

    monkeypatch.setattr(Model, "synth_to_file", second_call_interrupted)
    result = runner.invoke(
        main, ["synth", str(model_file), "--size", "16x16", "-n", "3", "-o", str(tmp_path / "s.png")]
    )
    assert result.exit_code == 130
    assert "nothing was written" not in result.output
    assert f"finished before that: {tmp_path / 's-0.png'}; nothing else was written" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s-0.png"]


def test_interrupted_fit_names_its_checkpoint(runner, exemplar_png, tmp_path, monkeypatch):
    import patchtex.cli

    def progress():
        def callback(scale, step, steps, losses):
            if step == 1:  # the checkpoint at the start of the scale is on disk
                raise KeyboardInterrupt

        return callback

    monkeypatch.setattr(patchtex.cli, "_progress_bar", progress)
    model = tmp_path / "m.safetensors"
    result = runner.invoke(main, ["fit", str(exemplar_png), "-o", str(model), "--steps", "2"])
    assert result.exit_code == 130
    assert f"the unfinished fit is saved in {model} (resume with: patchtex fit --resume {model})" in result.output
    assert "nothing was written" not in result.output


def test_help_and_version_answer_without_importing_torch():
    """--help and --version answer at once: torch (seconds to import) is imported only by
    a command that runs."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from patchtex.cli import main\n"
        "for args in (['--help'], ['--version'], ['fit', '--help'], ['synth', '--help'], ['refine', '--help']):\n"
        "    result = CliRunner().invoke(main, args)\n"
        "    assert result.exit_code == 0, (args, result.output)\n"
        "print('torch' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_info_reports_what_the_model_holds(runner, tmp_path):
    exemplar = tmp_path / "ex.png"
    patchtex.save_image(stripes(80), exemplar)
    model_file = tmp_path / "m.safetensors"
    fit = ["fit", str(exemplar), "-o", str(model_file), "--steps", "2", "-q", "--coarse-layout", "generator"]
    assert runner.invoke(main, fit).exit_code == 0
    result = runner.invoke(main, ["info", str(model_file), "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    model = patchtex.load(model_file)
    cfg = model.config
    assert info["status"] == "finished" and info["num_scales"] == cfg.num_scales
    assert info["parameters"] == sum(p.numel() for p in model.pyramid.parameters())
    assert [s["parameters"] for s in info["scales"]] == [
        sum(p.numel() for p in g.parameters()) for g in model.pyramid.generators
    ]
    finest, coarsest = info["scales"][-1], info["scales"][0]
    assert finest["sees_px"] == 2 * cfg.layers[-1] + 1 == finest["sees_exemplar_px"]
    assert coarsest["sees_exemplar_px"] == (2 * cfg.layers[0] + 1) * 2 ** (cfg.num_scales - 1)
    ex = model.meta["exemplar"]
    assert finest["exemplar_size"] == f"{ex['fitted_width']}x{ex['fitted_height']}"
    assert info["exemplar"]["sha256"] == ex["sha256"] and info["format_version"] >= 1
    assert info["train_config"]["coarse_steps"] == 2 and info["fit_seconds"] > 0 and "swd" in info["losses"]
    assert info["fine_noise"] == cfg.fine_noise == info["train_config"]["fine_noise"] == 0.1
    assert info["draw_noise"] == cfg.draw_noise
    text = runner.invoke(main, ["info", str(model_file)])
    assert text.exit_code == 0 and f"{cfg.num_scales} scales" in text.output and "sees px" in text.output
    drawn = " and drawn" if cfg.draw_noise == 1 else f", drawn at {cfg.draw_noise:g}x that"
    assert f"finer scales at 0.1 of the coarsest's spread as trained{drawn}" in text.output, text.output
    # the stripes' 8 px period is 4 px at the coarser of 2 scales: it feeds both
    assert cfg.num_scales == 2 and [w["scales"] for w in info["waves"]] == [[0, 1]]
    assert re.search(r"period 8(\.0\d)? px at 90 deg \(scales 0-1\)", text.output), text.output
    # by default the stripes are a lattice quilt's: no scale is fed the wave, the quilt keeps it
    quilted = tmp_path / "q.safetensors"
    assert runner.invoke(main, fit[:3] + [str(quilted), "--steps", "2", "-q"]).exit_code == 0
    info = json.loads(runner.invoke(main, ["info", str(quilted), "--json"]).output)
    assert info["scales"][0]["kind"] == "quilt" and [w["scales"] for w in info["waves"]] == [[]]
    # quilted at 1/2: detail hints by default (`TrainConfig.hint_factor`); none without a quilt
    assert info["hint_channels"] == 2 and cfg.hint_channels == 0
    quilted_info = runner.invoke(main, ["info", str(quilted)]).output
    assert "quilt of this level's own blocks, 12 px cells (24), with detail hints" in quilted_info, quilted_info
    assert re.search(r"period 8(\.0\d)? px at 90 deg \(the quilt's lattice\)", quilted_info), quilted_info


def test_info_of_an_unfinished_fit_says_where_it_stopped(runner, exemplar_png, tmp_path, monkeypatch):
    import patchtex.cli

    def progress():
        def callback(scale, step, steps, losses):
            if step == 1:
                raise KeyboardInterrupt

        return callback

    monkeypatch.setattr(patchtex.cli, "_progress_bar", progress)
    model = tmp_path / "m.safetensors"
    # stopped at the first step of the coarsest generator (a quilt would have none)
    runner.invoke(main, ["fit", str(exemplar_png), "-o", str(model), "--steps", "2", "--coarse-layout", "generator"])
    info = json.loads(runner.invoke(main, ["info", str(model), "--json"]).output)
    assert info["status"] == "unfinished" and info["stopped_at"] == {"scale": 1, "step": 0}
    text = runner.invoke(main, ["info", str(model)]).output
    assert f"finish it with: patchtex fit --resume {model}" in text


def test_info_of_a_foreign_file_is_one_line(runner, tmp_path):
    bad = tmp_path / "x.safetensors"
    bad.write_bytes(b"not a model at all")
    result = runner.invoke(main, ["info", str(bad)])
    assert result.exit_code == 1 and "not a patchtex model file" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


def test_fit_preview_must_be_a_folder(runner, exemplar_png, tmp_path):
    clash = tmp_path / "prev.png"
    clash.write_bytes(b"keep me")
    result = runner.invoke(
        main, ["fit", str(exemplar_png), "-o", str(tmp_path / "m.safetensors"), "--preview", str(clash)]
    )
    assert result.exit_code == 2 and "'--preview'" in result.output and "is a file" in result.output
    assert clash.read_bytes() == b"keep me" and not (tmp_path / "m.safetensors").exists()
