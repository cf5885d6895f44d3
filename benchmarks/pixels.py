"""Pixel fingerprints of every output path, to show a refactor leaves the bytes alone.

For the bundled demo model and any model files given, writes synth, window, tileable (a
size the coarse grids divide and one they do not), streamed PNG, 16-bit PNG and a masked
refine through the public API and prints the SHA-256 of each file's bytes. Run it before
and after a change and compare the tables.

    python benchmarks/pixels.py [MODEL ...]
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
from pathlib import Path

import torch

import patchtex


def cases(model: patchtex.Model, out: Path):
    yield "synth 300x200", lambda: model.synth_to_file(out / "a.jpg", (300, 200), 3, quality=100)
    yield (
        "window -700,90,600,300",
        lambda: model.synth_to_file(out / "b.webp", (600, 300), 3, window=(-700, 90), quality=100),
    )
    yield "tileable 256x192", lambda: model.synth_to_file(out / "c.webp", (256, 192), 5, tileable=True, quality=100)
    yield "tileable 251x190", lambda: model.synth_to_file(out / "d.webp", (251, 190), 5, tileable=True, quality=100)
    yield "streamed png 1100x700", lambda: model.synth_to_file(out / "e.png", (1100, 700), 9)
    yield "16-bit png 520x300", lambda: model.synth_to_file(out / "f.png", (520, 300), 9, bits=16)
    yield "16-bit tif 520x300", lambda: model.synth_to_file(out / "j.tif", (520, 300), 9, bits=16)
    yield "tileable png 256x192", lambda: model.synth_to_file(out / "g.png", (256, 192), 5, tileable=True)
    yield "16-bit tileable 251x190", lambda: model.synth_to_file(out / "i.png", (251, 190), 5, tileable=True, bits=16)

    def refine():
        image = model.synth((160, 128), seed=11)
        mask = torch.zeros(1, 1, 128, 160)
        mask[..., 40:70, 50:90] = 1
        mask[..., 100:103, 10:150] = 1
        return patchtex.save_image(model.refine(image, mask, seed=2), out / "h.png")

    yield "masked refine 160x128", refine


def main(paths: list[str]) -> None:
    patchtex.reuse_freed_memory()
    torch.set_num_threads(2)
    models = [("demo", patchtex.demo())] + [(Path(p).name.split(".")[0], patchtex.load(p)) for p in paths]
    print(f"{'model':<8} {'output':<24} sha256")
    for name, model in models:
        with tempfile.TemporaryDirectory() as tmp:
            for label, render in cases(model, Path(tmp)):
                try:
                    digest = hashlib.sha256(Path(render()).read_bytes()).hexdigest()[:16]
                except Exception as exc:  # a table row, not a crash: the point is to compare
                    digest = f"error: {type(exc).__name__}: {str(exc)[:60]}"
                print(f"{name:<8} {label:<24} {digest}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
