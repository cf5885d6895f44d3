"""The `patchtex` command: a thin click layer over the library.

This is the only module that prints, parses sizes or picks a device. Errors in user input
become one line on stderr with exit code 2 (usage) or 1 (failure); `--debug` shows the
traceback instead.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from . import __version__
from .config import COARSE_LAYOUTS, MIN_EXEMPLAR, PRECISIONS, TrainConfig
from .runtime import reuse_freed_memory

if TYPE_CHECKING:
    import torch

    from .api import Model

# torch and everything built on it are imported inside the commands that run, so that
# --help, --version and usage errors answer at once (importing torch takes seconds)

MAX_SIDE = 1_048_576  # largest width or height accepted for an output


class OneLineUsageError(click.UsageError):
    """A usage error shown as its one line (exit code 2), without the usage banner."""

    def show(self, file=None) -> None:
        click.echo(f"Error: {self.format_message()}", err=True)


class Group(click.Group):
    """Turns library errors into one-line messages unless --debug is given."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            raise OneLineUsageError(exc.format_message(), exc.ctx) from None
        except (ValueError, OSError) as exc:
            if ctx.meta.get("patchtex.debug"):
                raise
            raise click.ClickException(str(exc)) from None
        except KeyboardInterrupt:
            click.echo(f"interrupted; {_what_was_written(ctx)}", err=True)
            ctx.exit(130)


def _wrote(path: Path, what: str = "") -> None:
    """Say that `path` is written, and remember it for an interruption's message."""
    click.get_current_context().meta.setdefault("patchtex.written", []).append(path)
    click.echo(f"wrote {path}{f' ({what})' if what else ''}", err=True)


def _what_was_written(ctx: click.Context) -> str:
    """The truth about outputs when a command is interrupted: the files it finished, and
    a fit's checkpoint (an unfinished fit in its model file) if it left one."""
    parts = []
    written = ctx.meta.get("patchtex.written", [])
    if written:
        parts.append("finished before that: " + ", ".join(str(p) for p in written))
    checkpoint = ctx.meta.get("patchtex.checkpoint")
    if checkpoint is not None and Path(checkpoint).exists():
        from .checkpoint import ModelFileError, read_header

        try:
            unfinished = "fit_state" in read_header(checkpoint)
        except ModelFileError:
            unfinished = False
        if unfinished:
            parts.append(
                f"the unfinished fit is saved in {checkpoint} (resume with: patchtex fit --resume {checkpoint})"
            )
    if not parts:
        return "nothing was written"
    return "; ".join(parts) + "; nothing else was written"


def parse_size(text: str) -> tuple[int, int]:
    """'2048x1024' -> (2048, 1024); '512' -> (512, 512). ValueError names the problem."""
    match = re.fullmatch(r"\s*(\d+)\s*(?:[xX]\s*(\d+)\s*)?", text)
    if not match:
        raise ValueError(f"size {text!r} is not WIDTHxHEIGHT in whole pixels, e.g. 2048x1024")
    width = int(match.group(1))
    height = int(match.group(2)) if match.group(2) is not None else width
    if width < 1 or height < 1:
        raise ValueError(f"size {text!r} must be at least 1x1")
    if width > MAX_SIDE or height > MAX_SIDE:
        raise ValueError(f"size {text!r} is too large; each side may be at most {MAX_SIDE} px")
    return width, height


def parse_window(text: str) -> tuple[int, int, int, int]:
    """'x,y,w,h' (x and y may be negative) -> (x, y, w, h)."""
    match = re.fullmatch(r"\s*(-?\d+)\s*,\s*(-?\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*", text)
    if not match:
        raise ValueError(f"window {text!r} is not X,Y,WIDTH,HEIGHT in whole pixels, e.g. 8192,0,1024,1024")
    x, y, w, h = (int(g) for g in match.groups())
    parse_size(f"{w}x{h}")
    return x, y, w, h


class SizeType(click.ParamType):
    name = "WxH"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        try:
            return parse_size(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


class WindowType(click.ParamType):
    name = "X,Y,W,H"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        try:
            return parse_window(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def pick_device(name: str) -> torch.device:
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise click.BadParameter("CUDA is not available on this machine; use --device cpu", param_hint="--device")
    return torch.device(name)


device_option = click.option(
    "--device",
    type=click.Choice(["auto", "cpu", "cuda"]),
    default="auto",
    show_default=True,
    help="Where to run: the GPU when there is one (auto), or force cpu/cuda.",
)


def _remember_debug(ctx: click.Context, param, value: bool) -> bool:
    ctx.meta["patchtex.debug"] = value  # meta is shared with the group, which reports errors
    return value


debug_option = click.option("--debug", is_flag=True, callback=_remember_debug, help="Show full tracebacks on errors.")
precision_option = click.option(
    "--precision",
    type=click.Choice(PRECISIONS),
    default="auto",
    show_default=True,
    help="auto: bfloat16 where this machine runs it natively (about 2x faster), float32 elsewhere; "
    "the same seed then gives different pixels on machines with and without it. fp32: the same pixels everywhere.",
)


def _train_config(seed: int, steps: int | None, precision: str, **more) -> TrainConfig:
    steps_kw = {"coarse_steps": steps, "fine_steps": steps, "fine_budget_scales": 1} if steps else {}
    return TrainConfig(seed=seed, precision=precision, **steps_kw, **more)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="patchtex")
def main():
    """Learn a texture from one photo, then make as much of it as you want.

    \b
      patchtex fit brick.jpg                          # -> brick.patchtex.safetensors
      patchtex synth brick.patchtex.safetensors --size 2048x1024 --seed 7 -o wall.png
      patchtex synth --size 2048x2048 -o demo.png     # the bundled demo model
      patchtex score brick.jpg wall.png --ref heldout.png
    """
    reuse_freed_memory()  # about 25% faster rendering on Linux (see patchtex/runtime.py)


@main.command("fit")
@click.argument("exemplars", type=click.Path(path_type=Path), nargs=-1, metavar="[EXEMPLAR]...")
@click.option(
    "-o", "--output", type=click.Path(path_type=Path), help="Model file [default: EXEMPLAR-NAME.patchtex.safetensors]."
)
@click.option(
    "--resume", "resume_path", type=click.Path(path_type=Path), help="Continue an interrupted fit from its model file."
)
@click.option(
    "--out-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Fit every EXEMPLAR into DIR/NAME.patchtex.safetensors (a texture library).",
)
@click.option(
    "--workers", type=click.IntRange(1, 1024), help="Fit a library on a local cluster of this many processes."
)
@click.option("--scheduler", metavar="ADDRESS", help="Fit a library on this dask.distributed scheduler.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for every random choice of the fit.")
@click.option(
    "--steps",
    type=click.IntRange(1, 100_000),
    help="Training steps per scale (default: 1000 at a coarsest generator, 700 at every finer scale).",
)
@click.option(
    "--max-side",
    type=click.IntRange(MIN_EXEMPLAR, 4096),
    default=1024,
    show_default=True,
    help="Larger exemplars are downscaled to this many px on the long side (a note says so).",
)
@click.option(
    "--no-downscale", is_flag=True, help="Refuse exemplars larger than --max-side instead of downscaling them."
)
@click.option(
    "--preview",
    type=click.Path(path_type=Path, file_okay=False),
    help="As each scale finishes, write a sheet of samples at that scale (beside the exemplar's level) and a loss plot here.",
)
@click.option(
    "--coarse-layout",
    type=click.Choice(COARSE_LAYOUTS),
    default="quilt",
    show_default=True,
    help="What draws the coarsest image. quilt: blocks of the exemplar's own coarsest level (whole objects, "
    "closed cells; used where the exemplar has no lattice); generator: a small GAN (more novel, looser shapes).",
)
@click.option(
    "--no-rectify",
    is_flag=True,
    help="Fit a lattice photographed at an angle as it is, instead of seen square on (a note says when it was).",
)
@device_option
@precision_option
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@debug_option
def fit_command(
    exemplars: tuple[Path, ...],
    output: Path | None,
    resume_path: Path | None,
    out_dir: Path | None,
    workers: int | None,
    scheduler: str | None,
    seed: int,
    steps: int | None,
    max_side: int,
    no_downscale: bool,
    preview: Path | None,
    coarse_layout: str,
    no_rectify: bool,
    device: str,
    precision: str,
    quiet: bool,
    debug: bool,
):
    """Fit a model to one exemplar image and write one model file.

    Limits: the exemplar needs at least 32 px on each side and may have at most 64
    megapixels; textures of 128-1024 px work best. Training draws random crops at every
    scale, so large exemplars do not take longer per step; exemplars larger than
    --max-side (default 1024 px) are downscaled first, with a note (--no-downscale
    refuses them instead).

    While it runs, the model file holds the unfinished fit, saved every 30 s of work and
    at every scale. Ctrl-C (or SIGTERM) saves it and exits; --resume continues it.

    A default fit takes about 1-3 minutes on a 2-core CPU with AVX-512 BF16 (2-5 scales:
    more for a larger exemplar or larger elements); --steps 100 gives a rough model
    in well under a minute to try things. One bar shows "scale k/N" and the time left for the
    whole fit; as each scale finishes, a line gives its losses: critic (the critic's
    logistic loss; about 1.0-1.4 is a balanced contest), patches (7x7 patch distance to
    the exemplar at that scale; lower is better) and spectrum (distance of log power
    spectra). Each scale is measured against its own level of the exemplar, so the
    figures are not comparable from one scale to the next.

    \b
      patchtex fit examples/cobbles.png -o out/cobbles.safetensors
      patchtex fit brick.jpg
      patchtex fit bark.png -o bark.safetensors --seed 3 --device cuda
      patchtex fit --resume brick.patchtex.safetensors
      patchtex fit photos/*.jpg --out-dir models/ --workers 2

    With several exemplars (or --out-dir), each is fitted into its own model file in
    --out-dir as a separate task: on a local cluster (--workers N), on a running
    dask.distributed scheduler (--scheduler ADDRESS), or one after another. A bad image
    fails its own fit; a lost worker's fit is run again from its checkpoint; running the
    same command again keeps finished models and resumes unfinished ones. A table of
    name, seconds, result and error ends the run; the exit status is 1 if any failed.
    """
    from .api import fit, resume
    from .images import load_image
    from .train import FitInterrupted

    dev = pick_device(device)
    config = _train_config(
        seed, steps, precision, max_side=max_side, coarse_layout=coarse_layout, rectify=not no_rectify
    )
    if len(exemplars) > 1 or out_dir is not None or workers is not None or scheduler is not None:
        _fit_library(exemplars, out_dir, output, resume_path, preview, workers, scheduler, config)
        return
    exemplar = exemplars[0] if exemplars else None
    if (exemplar is None) == (resume_path is None):
        raise click.UsageError("give an EXEMPLAR image to fit, or --resume MODEL to continue a fit (not both)")
    progress = _fit_callback(quiet, preview)
    if resume_path is not None:
        output = resume_path
        run = lambda stop: resume(resume_path, device=dev, callback=progress, stop=stop)  # noqa: E731
    else:
        output = output or Path(f"{exemplar.stem}.patchtex.safetensors")
        check_model_output(output, exemplar, "-o")
        image = load_image(exemplar)  # fail early, before any training
        for note in image.notes:
            click.echo(f"note: {note}", err=True)
        width, height = image.size
        if no_downscale and max(width, height) > max_side:
            raise click.BadParameter(
                f"exemplar is {width}x{height}, larger than --max-side {max_side}; raise --max-side or drop --no-downscale",
                param_hint="EXEMPLAR",
            )

        def run(stop):
            return fit(
                image.pixels,
                config,
                device=dev,
                callback=progress,
                checkpoint_path=output,
                stop=stop,
                name=exemplar.name,
            )

    click.get_current_context().meta["patchtex.checkpoint"] = output
    with _interrupts() as stop:
        try:
            model = run(stop)
        except FitInterrupted as exc:
            state = exc.state
            raise click.ClickException(
                f"interrupted at scale {state.scale + 1}, step {state.step}; progress saved to {output}; "
                f"resume with: patchtex fit --resume {output}"
            ) from None
    for note in model.meta["notes"]:
        click.echo(f"note: {note}", err=True)
    model.save(output)
    _wrote(output, f"{model.config.num_scales} scales, {model.meta['fit_seconds']:.0f} s on {dev.type}")


def check_model_output(path: Path, source: Path, hint: str) -> None:
    """A model file must end in .safetensors, go to an existing directory, and not be
    the input image."""
    if path.suffix != ".safetensors":
        raise click.BadParameter(f"model files end in .safetensors, got '{path.name}'", param_hint=hint)
    if path.exists() and path.resolve() == source.resolve():
        raise click.BadParameter("output is the input image itself; choose another path", param_hint=hint)
    if not path.parent.is_dir():
        raise click.BadParameter(f"directory {path.parent} does not exist; create it first", param_hint=hint)


@contextlib.contextmanager
def _interrupts():
    """Turn the first SIGINT/SIGTERM into a stop request the fit honours between steps
    (it saves and exits); a second one interrupts at once."""
    requested = {"signal": None}

    def handler(signum, frame):
        if requested["signal"] is not None:
            raise KeyboardInterrupt
        requested["signal"] = signum
        click.echo("\nstopping after this step and saving progress...", err=True)

    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    installed = threading.current_thread() is threading.main_thread()
    if installed:
        for sig in previous:
            signal.signal(sig, handler)
    try:
        yield lambda: requested["signal"] is not None
    finally:
        if installed:
            for sig, old in previous.items():
                signal.signal(sig, old)


def _output_names(output: Path, seeds: list[int]) -> list[Path]:
    if len(seeds) == 1:
        return [output]
    return [output.with_name(f"{output.stem}-{seed}{output.suffix}") for seed in seeds]


@main.command("synth")
@click.argument("model_path", required=False, type=click.Path(path_type=Path), metavar="[MODEL]")
@click.option(
    "-s",
    "--size",
    type=SizeType(),
    default="1024x1024",
    show_default=True,
    help="Output size, WIDTHxHEIGHT (or one number for a square).",
)
@click.option(
    "--window", type=WindowType(), help="Render the window X,Y,W,H of the endless plane instead (X, Y may be negative)."
)
@click.option("--seed", type=int, default=0, show_default=True, help="Which endless plane to draw from.")
@click.option(
    "-n",
    "count",
    type=click.IntRange(1, 1000),
    default=1,
    show_default=True,
    help="Number of outputs, seeds SEED, SEED+1, ...",
)
@click.option("--tileable", is_flag=True, help="Make the output wrap around seamlessly.")
@click.option("--preview", is_flag=True, help="With --tileable, also write NAME.preview.EXT: the output repeated 2x2.")
@click.option(
    "--bits",
    type=click.Choice(["8", "16"]),
    default="8",
    show_default=True,
    help="Bits per channel (16 for .png or .tif).",
)
@click.option(
    "--quality",
    type=click.IntRange(1, 100),
    default=95,
    show_default=True,
    help="JPEG/WebP quality (100 = lossless WebP).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    default="texture.png",
    show_default=True,
    help="Output image (.png .jpg .tif .webp) or Zarr store (.zarr); with -n, NAME-SEED.EXT.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 1024),
    help="Render a .zarr output on a local cluster of this many worker processes.",
)
@click.option("--scheduler", metavar="ADDRESS", help="Render a .zarr output on this dask.distributed scheduler.")
@click.option(
    "--chunk", type=click.IntRange(16, 8192), default=512, show_default=True, help="Chunk side of a .zarr output."
)
@click.option("--overwrite", is_flag=True, help="Start a .zarr output over instead of resuming it.")
@click.option(
    "--pyramid",
    is_flag=True,
    help="With a .tif output: a tiled BigTIFF with reduced-resolution levels (via a resumable NAME.tif.zarr beside it).",
)
@device_option
@precision_option
@debug_option
def synth_command(
    model_path: Path | None,
    size,
    window,
    seed: int,
    count: int,
    tileable: bool,
    preview: bool,
    bits: str,
    quality: int,
    output: Path,
    workers: int | None,
    scheduler: str | None,
    chunk: int,
    overwrite: bool,
    pyramid: bool,
    device: str,
    precision: str,
    debug: bool,
):
    """Make textures of any size from a model (the bundled demo model if none is named).

    The output is a window of an endless, non-repeating plane fixed by the seed: the same
    seed always gives the same pixels, and --window renders any part of it exactly.

    Limits: each side at most 1048576 px. PNG and TIFF outputs are rendered and encoded
    in 512-row bands, so memory stays bounded at any size (16384x16384 needs under
    1.5 GB). JPEG and WebP outputs (and tileable ones whose size the model's coarsest grid
    does not divide) are built in memory; sizes that would not fit in the available
    memory are refused up front with the estimate.

    \b
      patchtex synth --size 2048x2048 -o demo.png
      patchtex synth brick.patchtex.safetensors --size 4096x1024 --seed 7 -o wall.png
      patchtex synth brick.patchtex.safetensors --window -512,0,512,512 -o left.png
      patchtex synth brick.patchtex.safetensors --size 1000x600 --tileable -o wrap.png
      patchtex synth brick.patchtex.safetensors --size 65536x65536 -o big.zarr --workers 2

    A .zarr output is a Zarr v3 store with an OME-Zarr pyramid (levels 2x, 4x, ... down to
    one chunk), written chunk by chunk through Dask: in this process, on a local cluster
    (--workers) or on a running scheduler (--scheduler). Run the same command again after
    an interruption and it resumes: finished chunks are kept, the rest are written.
    Chunks render on the CPU of whichever process runs them (--device does not apply);
    --pyramid with a .tif output writes a tiled BigTIFF with the same levels.
    """
    from .api import demo, load
    from .images import load_image, output_format, save_image
    from .streaming import STREAMING_FORMATS

    dev = pick_device(device)
    bits = int(bits)
    if pyramid and output.suffix.lower() not in (".tif", ".tiff"):
        raise click.UsageError("--pyramid writes a tiled pyramidal BigTIFF; give -o NAME.tif")
    if output.suffix.lower() == ".zarr" or pyramid:
        _synth_zarr(
            model_path,
            output,
            size,
            window,
            seed,
            count,
            tileable,
            bits,
            workers,
            scheduler,
            chunk,
            overwrite,
            precision,
        )
        return
    if workers is not None or scheduler is not None:
        raise click.UsageError("--workers and --scheduler render .zarr outputs (or .tif with --pyramid)")
    if window is not None and tileable:
        raise click.UsageError("--window and --tileable cannot be combined")
    if preview and not tileable:
        raise click.UsageError("--preview shows how a --tileable output repeats; add --tileable")
    seeds = list(range(seed, seed + count))
    outputs = _output_names(output, seeds)
    for path in outputs:
        _check_output(path, (model_path,))
    width, height = (window[2], window[3]) if window else size
    streamed = output_format(output) in STREAMING_FORMATS
    if bits == 16 and not streamed:
        raise click.BadParameter("--bits 16 needs a .png or .tif output", param_hint="--bits")
    model: Model = load(model_path, dev, precision) if model_path else demo(dev, precision)
    if not model.streams(output, (width, height), tileable=tileable):
        check_memory(width, height)
    for path, s in zip(outputs, seeds):
        origin = (window[0], window[1]) if window else None
        model.synth_to_file(path, (width, height), s, window=origin, tileable=tileable, bits=bits, quality=quality)
        _wrote(path, f"{width}x{height}, seed {s}")
        if preview:
            preview_path = path.with_name(f"{path.stem}.preview{path.suffix}")
            check_memory(2 * width, 2 * height)
            image = load_image(path).pixels
            save_image(image.repeat(1, 1, 2, 2), preview_path, quality=quality)
            _wrote(preview_path, "2x2 repeat preview")


def _fit_library(exemplars, out_dir, output, resume_path, preview, workers, scheduler, config: TrainConfig):
    """fit with several exemplars: a texture library (see fit's help)."""
    from .render.cluster import client_for
    from .render.library import fit_many

    if out_dir is None:
        raise click.UsageError(
            "several exemplars need --out-dir DIR (each is fitted into DIR/NAME.patchtex.safetensors)"
        )
    if not exemplars:
        raise click.UsageError("give the EXEMPLAR images to fit into --out-dir")
    if output is not None or resume_path is not None or preview is not None:
        raise click.UsageError(
            "-o, --resume and --preview are for one fit; with --out-dir each model is named after its image"
        )
    if workers is not None and scheduler is not None:
        raise click.UsageError("give --workers (a local cluster) or --scheduler (an existing one), not both")

    def on_done(row) -> None:
        detail = row.error if row.result == "failed" else row.model
        click.echo(f"{row.result}: {row.name} ({row.seconds:.0f} s) {detail}", err=True)

    try:
        with client_for(workers, scheduler) as client:
            rows = fit_many([str(e) for e in exemplars], out_dir, config, client=client, on_done=on_done)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="EXEMPLAR") from None
    except OSError as exc:
        raise click.ClickException(f"could not reach the scheduler or write to {out_dir} ({exc})") from None
    width = max(len(r.name) for r in rows)
    click.echo(f"{'name':<{width}}  {'seconds':>7}  {'result':<8}  error")
    for r in rows:
        click.echo(f"{r.name:<{width}}  {r.seconds:7.0f}  {r.result:<8}  {r.error}")
    failed = [r for r in rows if r.result == "failed"]
    if failed:
        raise click.ClickException(f"{len(failed)} of {len(rows)} fits failed: {', '.join(r.name for r in failed)}")


def _synth_zarr(
    model_path, output, size, window, seed, count, tileable, bits, workers, scheduler, chunk, overwrite, precision
):
    """synth to a Zarr store, or through one to a pyramidal BigTIFF (see synth's help)."""
    import shutil

    from .api import demo, load
    from .render.cluster import client_for

    if tileable:
        raise click.UsageError("a .zarr output is a window of the endless plane; --tileable is not supported there")
    if count != 1:
        raise click.UsageError("-n writes one image per seed; give one .zarr output per seed instead")
    if workers is not None and scheduler is not None:
        raise click.UsageError("give --workers (a local cluster) or --scheduler (an existing one), not both")
    if model_path is not None and output.resolve() == model_path.resolve():
        raise click.BadParameter("the output would overwrite the model", param_hint="-o")
    if not output.parent.is_dir():
        raise click.BadParameter(f"folder {output.parent} does not exist; create it first", param_hint="-o")
    width, height = (window[2], window[3]) if window else size
    origin = (window[0], window[1]) if window else (0, 0)
    model = load(model_path, "cpu", precision) if model_path else demo("cpu", precision)
    tiff, store = None, output
    if output.suffix.lower() != ".zarr":
        tiff, store = output, output.with_name(output.name + ".zarr")
    from tqdm import tqdm

    bar = tqdm(total=0, unit="chunk", leave=False, disable=None)

    def on_chunk(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    try:
        with client_for(workers, scheduler) as client:
            if client is None:
                # in this process: one chunk per core at once, each on one torch thread, so
                # rendering, compression and writing overlap (benchmarks/cluster.py: 1.7x
                # faster than one chunk at a time on two torch threads)
                import torch

                torch.set_num_threads(1)
            result = model.write_zarr(
                store,
                (width, height),
                seed,
                origin=origin,
                chunk=chunk,
                dtype="uint16" if bits == 16 else "uint8",
                client=client,
                scheduler="threads",
                overwrite=overwrite,
                on_chunk=on_chunk,
            )
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="-o") from None
    except OSError as exc:
        raise click.ClickException(f"could not reach the scheduler or write {output} ({exc})") from None
    finally:
        bar.close()
    resumed = f"; resumed, {result.skipped} chunks were already written" if result.skipped else ""
    detail = f"{width}x{height}, seed {seed}, {result.levels} levels, {result.written} chunks written{resumed}"
    if tiff is not None:
        from .render.tiff import zarr_to_tiff

        zarr_to_tiff(store, tiff)
        shutil.rmtree(store)
    _wrote(output, detail)


@main.command("refine")
@click.argument("image_path", type=click.Path(path_type=Path), metavar="IMAGE")
@click.option(
    "--mask",
    "mask_arg",
    help="Damage mask image, same size: white or any clear colour = damaged, black = kept (JPEG is fine). Or 'auto'. Default: the pixels of an RGBA input that are not fully opaque (partly transparent ones are blended back by their alpha); none = improve the whole image.",
)
@click.option(
    "--mask-invert",
    is_flag=True,
    help="Read the mask the other way round: black = damaged, white = kept (image editors' layer masks).",
)
@click.option(
    "--model",
    "model_path",
    type=click.Path(path_type=Path),
    help="A fitted model of this texture. Default: fit one on the image's undamaged pixels first.",
)
@click.option(
    "--strength",
    type=click.FloatRange(0, 1),
    default=0.5,
    show_default=True,
    help="Without a mask: how coarse a scale is regenerated, 0 keeps the image, 1 regenerates from the coarsest scale (masked holes are always filled from the coarsest).",
)
@click.option(
    "--upscale",
    type=click.Choice(["1", "2", "4"]),
    default="1",
    show_default=True,
    help="Return a 2x or 4x larger image with new fine detail.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for the regenerated detail (and the fit).")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="Output image [default: IMAGE-refined.png beside the input].",
)
@click.option(
    "--save-model", type=click.Path(path_type=Path), help="Keep the model fitted on the image here (.safetensors)."
)
@click.option("--steps", type=click.IntRange(1, 100_000), help="Training steps per scale when fitting on the image.")
@device_option
@precision_option
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@debug_option
def refine_command(
    image_path,
    mask_arg,
    mask_invert,
    model_path,
    strength,
    upscale,
    seed,
    output,
    save_model,
    steps,
    device,
    precision,
    quiet,
    debug,
):
    """Repair and improve an existing texture image (holes, scratches, blur, JPEG
    blocks, repetition, low resolution).

    The image is injected at a coarse scale of the generator pyramid and the finer scales
    regenerate detail. With a mask only masked pixels change, and every other pixel is
    byte-identical to the input.

    \b
      patchtex refine damaged.png                     # fits on the image itself first
      patchtex refine damaged.png --mask holes.png    # white (or any colour) = damaged
      patchtex refine damaged.png --mask layer.png --mask-invert   # black = damaged
      patchtex refine damaged.png --mask auto         # flat-filled holes, saturated scribbles
      patchtex refine photo.jpg --model brick.patchtex.safetensors --strength 0.6
      patchtex refine small.png --upscale 2
    """
    from .api import fit, load, prepare_exemplar
    from .images import load_image, save_image
    from .layout import structure_period
    from .refine import read_damage

    dev = pick_device(device)
    output = output or image_path.with_name(f"{image_path.stem}-refined.png")
    _check_output(output, (image_path, model_path))
    if save_model is not None:
        check_model_output(save_model, image_path, "--save-model")
    loaded = load_image(image_path)
    try:
        damage = read_damage(loaded.pixels, mask_arg, invert=mask_invert, self_fit=model_path is None)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--mask") from None
    for note in loaded.notes + list(damage.notes):
        click.echo(f"note: {note}", err=True)
    for warning in damage.warnings:
        click.echo(f"warning: {warning}", err=True)
    if upscale != "1" and damage.mask is not None:
        raise click.UsageError(
            "--upscale cannot be combined with a mask (or transparent holes); repair first, then upscale"
        )
    if model_path is not None:
        model = load(model_path, dev, precision)
    else:
        width, height = loaded.size
        # the model refines this image as photographed: not seen square on (`perspective`)
        config = _train_config(seed, steps, precision, rectify=False)
        period = None  # measured on the exemplar as fit prepares it (a 12 MP photo's own FFT took 2.4 s)
        if damage.hole is None:
            period = structure_period(prepare_exemplar(damage.pixels, config.max_side)[0])
        click.echo(
            f"note: no --model given, so a model is fitted on this image's undamaged pixels first "
            f"({_fit_estimate(width, height, steps, period)}); --model MODEL skips this, --save-model keeps it",
            err=True,
        )
        valid = None if damage.hole is None else 1 - damage.hole
        progress = None if quiet else _progress_bar()
        model = fit(damage.pixels, config, device=dev, callback=progress, valid=valid, name=image_path.name)
        if save_model is not None:
            model.save(save_model)
            _wrote(save_model)
    result = model.refine(damage.pixels, damage.mask, strength=strength, upscale=int(upscale), seed=seed)
    save_image(result, output)
    _wrote(output, f"{result.shape[-1]}x{result.shape[-2]}")


def _check_output(path: Path, inputs: tuple[Path | None, ...]) -> None:
    from .images import check_output_path

    try:
        check_output_path(path, tuple(p for p in inputs if p is not None))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="-o") from None


# Relative cost of one training step at the coarsest scale against one at a finer scale
# (2-core CPU, bf16, batch 4: a coarse step 40-57 ms, a finer one 55-80 ms); it only shapes
# the whole-fit estimate before the finer scales have been timed.
COARSE_STEP_COST = 0.65
FINE_STEP_SECONDS_CPU = 0.06  # one finer-scale step on a 2-core CPU, for the up-front estimate


class _FitBar:
    """One tqdm bar over the whole fit on stderr: "scale k/N", the share of the fit's work
    done and one estimate of the time left, and a line with readable losses as each scale
    finishes (each scale has its own losses, so they jump between scales by design)."""

    def __init__(self):
        self.bar = None
        self.steps: tuple[int, ...] = ()
        self.scale_clock = 0.0

    def work(self, scale: int, step: int) -> float:
        """The fit's work before `step` of `scale`, in finer-scale steps."""
        weight = [COARSE_STEP_COST] + [1.0] * (len(self.steps) - 1)
        return sum(w * n for w, n in zip(weight[:scale], self.steps)) + weight[scale] * step

    def begin(self, steps: tuple[int, ...], scale: int, step: int) -> None:
        from tqdm import tqdm

        self.steps = steps
        self.bar = tqdm(
            total=round(self.work(len(steps) - 1, steps[-1])),
            initial=round(self.work(scale, step)),
            desc=f"scale {scale + 1}/{len(steps)}",
            file=sys.stderr,
            bar_format="{desc} {percentage:3.0f}%|{bar:24}| {elapsed}<{remaining} left{postfix}",
            leave=False,
        )
        self.scale_clock = time.monotonic()
        if scale == 0 and step == 0 and steps and steps[0] == 0:
            self.bar.write(f"scale 1/{len(steps)}: quilted from the exemplar's own coarsest level, nothing to train")

    def __call__(self, scale: int, step: int, total: int, losses: dict[str, float]) -> None:
        if self.bar is None:  # a caller that did not announce the plan
            self.begin(tuple([total] * (scale + 1)), scale, step)
        bar = self.bar
        bar.set_description_str(f"scale {scale + 1}/{len(self.steps)}", refresh=False)
        bar.update(round(self.work(scale, step + 1)) - bar.n)
        if step % 25 == 0:
            bar.set_postfix_str(_losses_text(losses), refresh=False)
        if step == total - 1:
            seconds = time.monotonic() - self.scale_clock
            bar.write(
                f"scale {scale + 1}/{len(self.steps)} done: {total} steps in {seconds:.0f} s; {_losses_text(losses)}",
                file=sys.stderr,
            )
            self.scale_clock = time.monotonic()
            if scale == len(self.steps) - 1:
                bar.close()
                self.bar = None


def _span(scales: list[int]) -> str:
    """[1, 2, 3] -> '1-3'; [0] -> '0'; [0, 2] -> '0, 2'."""
    if not scales:
        return "none"
    if len(scales) > 1 and scales == list(range(scales[0], scales[-1] + 1)):
        return f"{scales[0]}-{scales[-1]}"
    return ", ".join(str(s) for s in scales)


def _losses_text(losses: dict[str, float]) -> str:
    return f"critic {losses['d']:.2f}  patches {losses['swd']:.4f}  spectrum {losses['spec']:.2f}"


def _progress_bar() -> _FitBar:
    """A fit callback drawing the fit's progress on stderr."""
    return _FitBar()


class _Callbacks:
    """Several fit callbacks as one: each gets the calls and hooks it has."""

    def __init__(self, *parts):
        self.parts = parts

    def __call__(self, *args) -> None:
        for part in self.parts:
            part(*args)

    def begin(self, *args) -> None:
        for part in self.parts:
            if hasattr(part, "begin"):
                part.begin(*args)

    def scale_done(self, *args) -> None:
        for part in self.parts:
            if hasattr(part, "scale_done"):
                part.scale_done(*args)


def _fit_callback(quiet: bool, preview: Path | None):
    """The progress bar (unless quiet) and the previews (with --preview) of a fit."""
    parts = [] if quiet else [_progress_bar()]
    if preview is not None:
        from .preview import FitPreview

        parts.append(FitPreview(preview))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else _Callbacks(*parts)


def _fit_estimate(width: int, height: int, steps: int | None, period: float | None = None) -> str:
    """How long a default fit of an exemplar this size takes, roughly, on a 2-core CPU;
    `period` is the `layout.structure_period` of the exemplar as fit prepares it
    (`api.prepare_exemplar`), where it would be quilted (no damage)."""
    from .config import num_scales_for
    from .layout import quilt_plan

    train = _train_config(0, steps, "auto")
    scale = min(1.0, train.max_side / max(width, height))  # as fit downscales it
    width, height = round(width * scale), round(height * scale)
    n = num_scales_for(min(width, height), train.coarse_side)
    quilted = None
    if train.coarse_layout == "quilt":
        plan = quilt_plan(
            height,
            width,
            train.coarse_side,
            train.layout_side,
            period,
            train.layout_element_px,
            train.layout_finer,
            most=train.quilt_finer_scales,
        )
        quilted = None if plan is None else plan[0]
    coarse, *fine = train.scale_steps(n if quilted is None else quilted, width * height)
    if quilted is not None:
        n, coarse = quilted, 0  # a quilted coarsest scale (`train.config_for`) has nothing to train
    seconds = FINE_STEP_SECONDS_CPU * (COARSE_STEP_COST * coarse + sum(fine))
    # an H200 fitted the bench in 18-37 s where 2 cores took 28-62 s (RESULTS, session 24)
    return f"{n} scale{'s' if n > 1 else ''}, about {max(1, round(seconds / 60))} min on a 2-core CPU, about half that on a GPU"


def check_memory(width: int, height: int) -> None:
    """Refuse outputs whose in-memory image would not fit, with the estimate."""
    need = width * height * 4 * 4 * 2  # float32 RGBA image plus its uint8/encode copy, with slack
    try:
        import os

        avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return
    if need > avail:
        raise click.UsageError(
            f"a {width}x{height} output needs about {need / 2**30:.1f} GiB of memory and "
            f"{avail / 2**30:.1f} GiB is available; write .png or .tif (streamed to disk) or use --window"
        )


@main.command("info")
@click.argument("model_path", type=click.Path(path_type=Path), metavar="MODEL", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@debug_option
def info_command(model_path: Path | None, as_json: bool, debug: bool):
    """What a model file holds: exemplar, scales, waves, parameters, fit time, losses.

    Without MODEL, the bundled demo model. Per scale, "sees" is how far that scale's own
    convolutions look: in its pixels and in the exemplar's (elements larger than what the
    coarsest scale sees cannot come out whole). Reads the header only, no weights.

    \b
      patchtex info cobbles.patchtex.safetensors
      patchtex info --json
    """
    from .api import demo_model_path
    from .checkpoint import describe

    info = describe(model_path or demo_model_path())
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    ex, fit_s = info["exemplar"], info["fit_seconds"]
    kinds = {1: "grey", 2: "grey+alpha", 3: "RGB", 4: "RGBA"}
    click.echo(
        f"{info['file']}: {info['status']} model, {info['num_scales']} scales, {info['parameters']:,} parameters, "
        f"{info['file_bytes'] / 1e6:.1f} MB, format {info['format_version']}, patchtex {info['patchtex_version']}"
    )
    if ex:
        fitted = f" (fitted at {ex['fitted_width']}x{ex['fitted_height']})" if ex["fitted_width"] != ex["width"] else ""
        click.echo(
            f"exemplar  {ex['name']}, {ex['width']}x{ex['height']} {kinds.get(ex['channels'], '')}{fitted}, "
            f"sha256 {ex['sha256'][:16]}"
        )
    if "stopped_at" in info:
        at = info["stopped_at"]
        click.echo(
            f"stopped   at scale {at['scale']}, step {at['step']}; finish it with: patchtex fit --resume {info['file']}"
        )
    if fit_s is not None:
        losses = f"; final losses: {_losses_text(info['losses'])}" if info["losses"] else ""
        click.echo(f"fit       {fit_s:.0f} s on {info['fitted_on']}, seed {info['seed']}{losses}")
    waves = ", ".join(
        f"period {w['period_px']:g} px at {w['angle_deg']:g} deg "
        + ("(the quilt's lattice)" if w["quilt_lattice"] else f"(scales {_span(w['scales'])})")
        for w in info["waves"]
    )
    click.echo(f"waves     {waves or 'none (no periodic layout found)'}")
    if info["num_scales"] > 1:
        drawn = info.get("draw_noise", 1.0)
        click.echo(
            f"noise     finer scales at {info['fine_noise']:g} of the coarsest's spread as trained"
            + (f", drawn at {drawn:g}x that (picked by the exemplar's spectrum)" if drawn != 1.0 else " and drawn")
        )
    click.echo("scale  exemplar    width  layers  parameters  sees px (exemplar px)")
    for sc in info["scales"]:
        if sc.get("kind") == "quilt":
            click.echo(
                f"{sc['scale']:>5}  {sc['exemplar_size'] or '?':<10}  quilt of this level's own blocks, "
                f"{sc['sees_px']} px cells ({sc['sees_exemplar_px']})"
                + (", with detail hints for the finer scales" if info.get("hint_channels") else "")
            )
            continue
        click.echo(
            f"{sc['scale']:>5}  {sc['exemplar_size'] or '?':<10}  {sc['channels']:>5}  {sc['layers']:>6}  "
            f"{sc['parameters']:>10,}  {sc['sees_px']:>7} ({sc['sees_exemplar_px']})"
        )
    for note in info["notes"]:
        click.echo(f"note      {note}")


@main.command("score")
@click.argument("exemplar", type=click.Path(path_type=Path))
@click.argument("outputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--ref", type=click.Path(path_type=Path), help="A held-out image of the same texture to score against too."
)
@click.option("--tileable", is_flag=True, help="The outputs were made with --tileable: also score their wrap seam.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@debug_option
def score_command(
    exemplar: Path, outputs: tuple[Path, ...], ref: Path | None, tileable: bool, as_json: bool, debug: bool
):
    """Score outputs against the exemplar (and a held-out image with --ref).

    The first row is the baseline, what real texture scores: with --ref, the held-out
    image itself; without, one half of the exemplar against the other (its left and right
    halves, or top and bottom if it is taller than wide). An output near the baseline
    is as close to the exemplar as another real piece of it. Halves hold half the
    exemplar's patches, which raises their swd a little: an output with more pixels can
    score below that baseline without being better than real texture; --ref is the
    sharper baseline.

    \b
    Columns (lower is better unless said):
      swd        multi-scale 7x7 patch sliced Wasserstein distance to the exemplar
                 (Gaussian pyramid, 128 fixed random projections, x1000)
      swd_ref    the same against --ref
      spec       structure distance: mean |difference| of Welch-averaged log power
                 spectra of luminance (Hann-windowed tiles); catches lost periodicity
                 and melted structure that small patches miss
      spec_ref   the same against --ref
      copy       fraction of 48x48 output patches that near-verbatim copy an exemplar
                 patch (nearest-patch RMSE <= 0.1 x the patch's std)
      false      share of pixels whose colour the exemplar never has (RGB in 16
                 levels a channel, the exemplar's colours widened by one level);
                 a real photo of the same texture scores about 0
      seam       (--tileable) wrap-around seam ratio: luminance step across the wrap
                 edges over the step inside (about 1.0 = tiles seamlessly)
      diversity  (two or more outputs) per-pixel std across outputs / exemplar std;
                 higher = more different (about 1.0 for independent samples)
    """
    from . import quality
    from .images import load_image

    ex = load_image(exemplar).pixels
    held = load_image(ref).pixels if ref else None
    if held is not None:
        base_name, base, against = f"baseline: {ref}", held, ex
    else:
        base_name, (against, base) = "baseline: exemplar halves", _halves(ex)
    images = [load_image(path).pixels for path in outputs]
    rows = []
    for name, img in zip([base_name, *map(str, outputs)], [base, *images]):
        reference = against if name == base_name else ex
        row = {"image": name, "swd": quality.patch_swd(img, reference)}
        if held is not None:
            row["swd_ref"] = math.nan if img is held else quality.patch_swd(img, held)
        row["spec"] = quality.spectral_distance(img, reference)
        if held is not None:
            row["spec_ref"] = math.nan if img is held else quality.spectral_distance(img, held)
        row["copy"] = quality.copy_fraction(img, reference)
        row["false"] = quality.false_colour_share(img, reference)
        if tileable:
            row["seam"] = math.nan if name == base_name else quality.seam_ratio(img)
        rows.append(row)
    result = {"rows": rows}
    if len(images) >= 2:
        result["diversity"] = quality.diversity(images, ex)
    if as_json:
        clean = [
            {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in r.items()} for r in rows
        ]
        click.echo(json.dumps({**result, "rows": clean}, indent=2))
        return
    keys = [k for k in rows[0] if k != "image"]
    width = max(len(r["image"]) for r in rows)
    click.echo(f"{'image':<{width}}  " + "  ".join(f"{k:>8}" for k in keys))
    for r in rows:
        click.echo(f"{r['image']:<{width}}  " + "  ".join(_fmt(r[k]) for k in keys))
    if "diversity" in result:
        click.echo(f"diversity across {len(images)} outputs: {result['diversity']:.3f}")


def _halves(image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """An image's two halves along its longer side."""
    height, width = image.shape[-2:]
    if width >= height:
        return image[..., : width // 2], image[..., width // 2 : 2 * (width // 2)]
    return image[..., : height // 2, :], image[..., height // 2 : 2 * (height // 2), :]


def _fmt(value: float) -> str:
    return f"{value:8.3f}" if math.isfinite(value) else f"{'-':>8}"


if __name__ == "__main__":
    main()
