"""The canvas on Dask and in Zarr stores: a real LocalCluster of worker processes on
127.0.0.1 and real stores on disk, read back with plain zarr."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import patchtex
from patchtex.canvas import Canvas
from patchtex.render import canvas_array, write_zarr
from patchtex.render.chunks import to_array
from patchtex.render.cluster import client_for
from patchtex.render.zarr_store import DONE

zarr = pytest.importorskip("zarr")
pytest.importorskip("distributed")


def _single(pyramid, seed, x, y, width, height):
    window = Canvas(pyramid, seed, device=torch.device("cpu"), bf16=False).window(x, y, width, height)
    return to_array(window, "uint8")


@pytest.fixture(scope="module")
def demo():
    return patchtex.demo(precision="fp32")


@pytest.fixture(scope="module")
def cluster_client():
    with client_for(workers=2) as client:
        yield client


def test_dask_canvas_on_a_cluster_equals_a_single_process_render(demo, cluster_client):
    """Chunks of 333 x 517 px straddle the 512 px render tiles; the window starts left of
    the origin. Every byte equals the single-process render."""
    x, y, width, height = -300, 100, 1100, 700
    array = canvas_array(demo.pyramid, width, height, seed=5, x=x, y=y, chunks=(333, 517))
    assert array.shape == (3, height, width) and array.chunksize == (3, 333, 517)
    assert array.numblocks == (1, 3, 3)
    on_cluster = cluster_client.compute(array).result()
    assert np.array_equal(on_cluster, _single(demo.pyramid, 5, x, y, width, height))
    # the threaded scheduler in this process gives the same bytes
    assert np.array_equal(array.compute(scheduler="threads"), on_cluster)
    # and the model went into the graph once, not once per chunk
    models = [k for k in dict(array.__dask_graph__()) if isinstance(k, str) and k.startswith("patchtex-model-")]
    assert len(models) == 1


def test_model_to_dask_is_the_window_rounded(tiny_model):
    array = tiny_model.to_dask(90, 70, seed=2, x=13, y=-9, chunks=32)
    window = tiny_model.synth_window(13, -9, 90, 70, seed=2)
    assert np.array_equal(array.compute(scheduler="sync"), to_array(window, "uint8"))
    wide = tiny_model.to_dask(40, 30, chunks=16, dtype="uint16").compute(scheduler="sync")
    assert wide.dtype == np.uint16 and wide.shape == (3, 30, 40)


def test_zarr_store_reads_back_with_plain_zarr(tmp_path, demo):
    path = tmp_path / "plane.zarr"
    result = write_zarr(demo.pyramid, path, 700, 450, seed=3, chunk=128)
    assert result.levels == 4 and result.written == result.total and result.skipped == 0
    group = zarr.open_group(str(path), mode="r")
    level0 = group["0"]
    assert level0.shape == (3, 450, 700) and level0.dtype == np.uint8 and level0.chunks == (3, 128, 128)
    assert np.array_equal(level0[:], _single(demo.pyramid, 3, 0, 0, 700, 450))
    multiscale = group.attrs["ome"]["multiscales"][0]
    assert [a["name"] for a in multiscale["axes"]] == ["c", "y", "x"]
    assert [d["path"] for d in multiscale["datasets"]] == ["0", "1", "2", "3"]
    assert multiscale["datasets"][2]["coordinateTransformations"][0]["scale"] == [1.0, 4.0, 4.0]
    full = level0[:].astype(np.float64)
    for k in (1, 2, 3):
        level = group[str(k)][:]
        f = 2**k
        h, w = 450 // f, 700 // f
        assert level.shape == (3, h, w)
        box = full[:, : h * f, : w * f].reshape(3, h, f, w, f).mean(axis=(2, 4))
        assert np.abs(level - box).max() <= 0.5 * k  # at most half a level of rounding per level
    assert max(group["3"].shape[1:]) <= 128  # down to one chunk


def test_a_zarr_store_of_another_render_is_refused(tmp_path, tiny_model):
    path = tmp_path / "a.zarr"
    tiny_model.write_zarr(path, (64, 64), seed=1, chunk=32)
    with pytest.raises(ValueError, match="seed differ"):
        tiny_model.write_zarr(path, (64, 64), seed=2, chunk=32)
    again = tiny_model.write_zarr(path, (64, 64), seed=2, chunk=32, overwrite=True)
    assert again.skipped == 0


def _markers(path: Path) -> int:
    return sum(1 for _ in (path / DONE).rglob("*.*"))


def _default_sigint() -> None:
    """In the child, before it runs: SIGINT back to its default. A job a shell starts in
    the background has SIGINT ignored, and Python keeps an ignored SIGINT ignored, so
    under such a launcher the CLI never saw the test's SIGINT and wrote the whole store."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.slow  # end-to-end fault test, 20-30 s
def test_an_interrupted_zarr_write_resumes_without_rendering_again(tmp_path):
    """SIGINT the CLI in the middle of a write, run it again: the finished chunks are not
    rendered again (counted) and the store equals one written without interruption."""
    path = tmp_path / "big.zarr"
    command = [sys.executable, "-m", "patchtex.cli", "synth", "--size", "1024x768", "--chunk", "128", "-o", str(path)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=_default_sigint
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not (path / DONE).exists() or _markers(path) < 12):
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode != 0, err
    before = _markers(path)
    total = 48 + 12 + 4 + 1  # chunks on levels 0-3 (1024x768 down to 128x96)
    assert 12 <= before < total
    resumed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{total - before} chunks written; resumed, {before} chunks were already written" in resumed.stderr
    fresh = tmp_path / "fresh.zarr"
    write_zarr(patchtex.demo().pyramid, fresh, 1024, 768, chunk=128, bf16=_bf16())  # as the CLI renders
    a, b = zarr.open_group(str(path), mode="r"), zarr.open_group(str(fresh), mode="r")
    for k in range(4):
        assert np.array_equal(a[str(k)][:], b[str(k)][:]), k


def _bf16() -> bool:
    from patchtex.runtime import use_bf16

    return use_bf16("auto", torch.device("cpu"))


@pytest.mark.slow  # end-to-end fault test, 20-30 s
def test_a_worker_killed_mid_render_changes_nothing(tmp_path, demo):
    """SIGKILL one of two worker processes while a store is written: the scheduler runs
    its tasks again elsewhere and the store equals an undisturbed write."""
    with client_for(workers=2) as client:
        pids = list(client.run(os.getpid).values())
        path = tmp_path / "killed.zarr"
        import threading

        box = {}
        thread = threading.Thread(
            target=lambda: box.setdefault("result", write_zarr(demo.pyramid, path, 768, 512, chunk=128, client=client))
        )
        thread.start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and (not (path / DONE).exists() or _markers(path) < 6):
            time.sleep(0.02)
        os.kill(pids[0], signal.SIGKILL)
        thread.join(timeout=300)
    assert box["result"].written == box["result"].total
    fresh = tmp_path / "fresh.zarr"
    write_zarr(demo.pyramid, fresh, 768, 512, chunk=128)
    a, b = zarr.open_group(str(path), mode="r"), zarr.open_group(str(fresh), mode="r")
    for k in range(box["result"].levels):
        assert np.array_equal(a[str(k)][:], b[str(k)][:]), k


def _png(path: Path, size: int = 64, seed: int = 0) -> Path:
    from PIL import Image

    from patchtex.images import to_uint8

    from .conftest import stripes

    Image.fromarray(to_uint8(stripes(size, seed=seed))).save(path)
    return path


def test_a_library_fit_on_a_cluster_survives_a_corrupt_file(tmp_path):
    """Two good exemplars and one corrupt file on a 2-process local cluster: both models
    are written and load, the summary names the bad file with its error, exit status 1."""
    from click.testing import CliRunner

    from patchtex.cli import main

    good = [_png(tmp_path / "a.png"), _png(tmp_path / "b.png", seed=1)]
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n this is not the rest of a PNG")
    out = tmp_path / "models"
    args = ["fit", *map(str, good), str(bad), "--out-dir", str(out), "--steps", "2", "--workers", "2"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output
    assert "1 of 3 fits failed: bad.png" in result.output
    table = [line for line in result.output.splitlines() if line.startswith("bad.png ")]
    assert table and "failed" in table[0] and "is not an image Pillow can read" in table[0]
    for image in good:
        model = patchtex.load(out / f"{image.stem}.patchtex.safetensors")
        assert model.meta["exemplar"]["name"] == image.name
    assert not (out / "bad.patchtex.safetensors").exists()


def test_a_library_fit_run_again_resumes_its_checkpoint_and_keeps_finished_models(tmp_path):
    """What a retried task finds: an unfinished fit is resumed to exactly the model an
    uninterrupted fit gives; a finished model is kept untouched."""
    from patchtex.config import TrainConfig
    from patchtex.render.library import fit_many, model_path_for
    from patchtex.train import FitInterrupted

    config = TrainConfig(steps=(4, 4), batch_size=2, crop_size=16, seed=2, coarse_layout="generator")
    image = _png(tmp_path / "wall.png", size=80)
    whole = patchtex.fit(image, config)
    out = tmp_path / "models"
    out.mkdir()
    path = model_path_for(image, out)
    polls = {"n": 0}
    with pytest.raises(FitInterrupted):
        patchtex.fit(
            image,
            config,
            checkpoint_path=path,
            stop=lambda: (polls.__setitem__("n", polls["n"] + 1), polls["n"] > 5)[1],
        )
    [row] = fit_many([image], out, config)
    assert row.result == "resumed"
    resumed = patchtex.load(path)
    for key, value in whole.pyramid.state_dict().items():
        assert torch.equal(value, resumed.pyramid.state_dict()[key]), key
    stamp = path.stat().st_mtime_ns
    [again] = fit_many([image], out, config)
    assert again.result == "kept" and path.stat().st_mtime_ns == stamp


def test_a_pyramidal_tiff_holds_every_level_of_the_store(tmp_path, model_file):
    """synth -o X.tif --pyramid: a tiled BigTIFF whose main image is the render and whose
    SubIFDs are the store's levels; the temporary store beside it is gone."""
    import tifffile
    from click.testing import CliRunner

    from patchtex.cli import main

    out = tmp_path / "plane.tif"
    args = ["synth", str(model_file), "--size", "700x300", "--chunk", "128", "--pyramid", "-o", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "plane.tif.zarr").exists()
    reference = tmp_path / "ref.zarr"
    patchtex.load(model_file).write_zarr(reference, (700, 300), chunk=128)
    levels = zarr.open_group(str(reference), mode="r")
    with tifffile.TiffFile(out) as tif:
        page = tif.pages[0]
        assert tif.is_bigtiff and page.is_tiled and page.tilewidth == 512
        assert np.array_equal(page.asarray(), levels["0"][:].transpose(1, 2, 0))
        assert len(page.subifds) == len(levels.attrs["ome"]["multiscales"][0]["datasets"]) - 1 == 3
        pyramid = tif.series[0].levels
        assert len(pyramid) == 4
        for k in range(1, 4):
            assert np.array_equal(pyramid[k].asarray(), levels[str(k)][:].transpose(1, 2, 0))


@pytest.mark.slow  # end-to-end fault test, 20-30 s
def test_a_worker_killed_mid_library_fit_is_retried_from_its_checkpoint(tmp_path):
    """SIGKILL the worker running a fit once its checkpoint exists: the scheduler runs the
    task again on the other worker, which resumes the checkpoint, and the model equals
    an uninterrupted fit of the same exemplar."""
    import threading

    from patchtex.config import TrainConfig
    from patchtex.render.library import fit_many, model_path_for

    config = TrainConfig(steps=(60, 300), batch_size=2, crop_size=16, seed=4)
    image = _png(tmp_path / "slab.png", size=96)
    out = tmp_path / "models"
    path = model_path_for(image, out)
    rows = {}
    with client_for(workers=2) as client:
        pids = client.run(os.getpid)
        thread = threading.Thread(target=lambda: rows.setdefault("rows", fit_many([image], out, config, client=client)))
        thread.start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not path.exists():
            time.sleep(0.05)
        assert path.exists()
        busy = [a for a, tasks in client.processing().items() if tasks]
        os.kill(pids[busy[0]], signal.SIGKILL)
        thread.join(timeout=300)
    [row] = rows["rows"]
    assert row.result == "resumed", row
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the workers fit
    try:
        whole = patchtex.fit(image, config)
    finally:
        torch.set_num_threads(threads)
    resumed = patchtex.load(path)
    for key, value in whole.pyramid.state_dict().items():
        assert torch.equal(value, resumed.pyramid.state_dict()[key]), key


def test_synth_on_an_existing_scheduler_by_address(tmp_path, model_file, cluster_client):
    """--scheduler ADDRESS: the CLI connects to a running scheduler (the module's local
    cluster) and writes the same store as a render in this process."""
    from click.testing import CliRunner

    from patchtex.cli import main

    address = cluster_client.scheduler.address
    out = tmp_path / "remote.zarr"
    args = ["synth", str(model_file), "--size", "300x200", "--chunk", "64", "-o", str(out), "--scheduler", address]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    local = tmp_path / "local.zarr"
    patchtex.load(model_file).write_zarr(local, (300, 200), chunk=64)
    a, b = zarr.open_group(str(out), mode="r"), zarr.open_group(str(local), mode="r")
    assert np.array_equal(a["0"][:], b["0"][:]) and np.array_equal(a["2"][:], b["2"][:])
    bad = CliRunner().invoke(main, ["synth", "-o", str(tmp_path / "x.zarr"), "--workers", "2", "--scheduler", address])
    assert bad.exit_code == 2 and "not both" in bad.output
