"""Model files: round trip, and every kind of bad file rejected with one sentence."""

import json
import pickle
import struct

import pytest
import torch
from safetensors.torch import save_file

import patchtex
from patchtex.checkpoint import FORMAT_VERSION, ModelFileError, load_model


def test_round_trip_equal_tensors_and_samples(tiny_model, model_file):
    loaded = patchtex.load(model_file)
    saved, back = tiny_model.pyramid.state_dict(), loaded.pyramid.state_dict()
    assert list(saved) == list(back)
    for name in saved:
        assert torch.equal(saved[name], back[name]), name
    assert loaded.config == tiny_model.config
    assert torch.equal(loaded.synth((40, 24), seed=9), tiny_model.synth((40, 24), seed=9))
    assert loaded.meta["seed"] == 0


def _rewrite_header(src, dst, edit):
    data = src.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    edit(header)
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    dst.write_bytes(struct.pack("<Q", len(raw)) + raw + data[8 + length :])


def test_foreign_safetensors_rejected(tmp_path):
    path = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(3)}, str(path), metadata={"format": "pt"})
    with pytest.raises(ModelFileError, match="is not a patchtex model file"):
        load_model(path)


def test_truncated_file_rejected(model_file, tmp_path):
    path = tmp_path / "cut.safetensors"
    path.write_bytes(model_file.read_bytes()[:-100])
    with pytest.raises(ModelFileError, match="truncated"):
        load_model(path)


def test_pickle_renamed_rejected_without_running_it(tmp_path):
    path = tmp_path / "evil.safetensors"
    marker = tmp_path / "ran"
    payload = pickle.dumps(eval, protocol=2)  # loading this with pickle would be the mistake
    path.write_bytes(payload + marker.as_posix().encode())
    with pytest.raises(ModelFileError, match="is not a patchtex model file"):
        load_model(path)
    assert not marker.exists()


def test_newer_version_rejected(model_file, tmp_path):
    path = tmp_path / "newer.safetensors"
    _rewrite_header(model_file, path, lambda h: h["__metadata__"].update(format_version=str(FORMAT_VERSION + 1)))
    with pytest.raises(ModelFileError, match="newer than this patchtex reads"):
        load_model(path)


def test_altered_metadata_rejected(model_file, tmp_path):
    path = tmp_path / "altered.safetensors"

    def edit(h):
        cfg = json.loads(h["__metadata__"]["model_config"])
        cfg["channels"] = [c * 2 for c in cfg["channels"]]
        h["__metadata__"]["model_config"] = json.dumps(cfg)

    _rewrite_header(model_file, path, edit)
    with pytest.raises(ModelFileError, match="altered"):
        load_model(path)


@pytest.mark.parametrize("content", [b"", b"\x00" * 4, b"hello world, not a model"])
def test_garbage_rejected(tmp_path, content):
    path = tmp_path / "junk.safetensors"
    path.write_bytes(content)
    with pytest.raises(ModelFileError):
        load_model(path)


def test_missing_file_rejected(tmp_path):
    with pytest.raises(ModelFileError, match="no such model file"):
        load_model(tmp_path / "nope.safetensors")


def test_save_is_atomic_and_leaves_no_temp_files(tiny_model, tmp_path):
    path = tmp_path / "m.safetensors"
    tiny_model.save(path)
    tiny_model.save(path)  # overwrite an existing model in place
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]


def test_a_train_record_without_the_newer_fields_reads_as_the_fit_that_ran():
    """A fit saved before a training option existed resumes as it ran (one coarse critic,
    no averaging, the same R1 everywhere), not with today's defaults."""
    import json

    from patchtex.config import TrainConfig

    old = json.loads(TrainConfig(r1_gamma=0.7, spectral_weight=0.6, swd_weight=0.8).to_json())
    names = (
        "coarse_critics",
        "fine_critics",
        "ema_half_life",
        "sr_weight",
        "coarse_r1_gamma",
        "coarse_spectral_weight",
        "coarse_swd_weight",
        "grad_clip",
        "coarse_rec_weight",
        "init",
        "fine_layers",
        "coarse_disc_layers",
        "layout_element_px",
        "fine_budget_scales",
        "small_exemplar_px",
        "layout_channels",
    )
    old["disc_layers"] = 4
    for name in names:
        del old[name]
    config = TrainConfig.from_json(json.dumps(old))
    assert (config.coarse_critics, config.fine_critics, config.ema_half_life, config.sr_weight) == (1, 1, 0.0, 0.0)
    assert (config.coarse_r1_gamma, config.coarse_spectral_weight) == (0.7, 0.6)
    assert (config.swd_weight, config.coarse_swd_weight) == (0.8, 0.8)  # one weight for every scale
    assert config.grad_clip == 0.0  # fits before the clip ran unclipped
    assert config.init == "uniform"  # and drew their weights from PyTorch's default
    assert config.coarse_rec_weight == 0.0
    assert config.layout_element_px == 0.0  # the quilted level by layout_side alone
    assert config.scale_steps(2, 512 * 512) == (1000, 700)  # fine_steps at every finer scale
    assert config.small_exemplar_px == 0
    assert config.layout_channels is False  # lattice quilts fed their finer scales no channels
    # one critic depth for every scale, 5-layer finer generators
    assert (config.disc_layers, config.coarse_disc_layers, config.fine_layers) == (4, 4, 5)
    del old["disc_layers"]
    config = TrainConfig.from_json(json.dumps(old))
    assert (config.disc_layers, config.coarse_disc_layers) == (5, 5)
    assert TrainConfig.from_json(TrainConfig().to_json()) == TrainConfig()
    # a record from sessions 24-25 shared the budget out at any size
    session25 = json.loads(TrainConfig().to_json())
    del session25["small_exemplar_px"]
    assert TrainConfig.from_json(json.dumps(session25)).scale_steps(2, 192 * 96) == (1000, 1400)
    # session 26 wrote the threshold as fine_budget_min_px
    session26 = json.loads(TrainConfig().to_json())
    session26["fine_budget_min_px"] = session26.pop("small_exemplar_px") + 1
    assert TrainConfig.from_json(json.dumps(session26)).small_exemplar_px == TrainConfig().small_exemplar_px + 1
