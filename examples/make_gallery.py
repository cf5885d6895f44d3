"""The README's gallery, made by the tool: one strip per texture.

    exemplar | new texture (seed 1) | a tileable tile, repeated 2x2 | a hole ... refined | a crop ... 2x upscaled

Textures: the bundled demo model (examples/cobbles.png), a procedural diamond plate
(examples/make_diamond_plate.py) and two photos that ship with scikit-image (a brick
wall and gravel, greyscale). Models are fitted with the default settings unless a
model file of that name is already in --models (so reruns are quick); nothing is
picked by hand: every strip uses seed 1, the same hole and the same crop, failures
included. The names match benchmarks/quality.py's, so its models can be reused:
`--models bench-out/quality`. Writes docs/gallery/NAME.jpg (small JPEGs, committed) and prints how long each
fit took.

    python examples/make_gallery.py                  # fits what --models lacks (~3-4 min each, 2 cores)
    python examples/make_gallery.py --models out/gallery-models
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw

import patchtex
from patchtex.images import to_uint8

ROOT = Path(__file__).resolve().parents[1]
PANEL = 192  # px per panel
LABELS = ("exemplar", "new (seed 1)", "tileable, 2x2", "hole", "refined", "crop", "2x upscale")


def exemplars(tmp: Path) -> dict[str, Path]:
    """name -> exemplar image path (made here where the repo does not hold the file)."""
    from skimage import data

    sys.path.insert(0, str(ROOT / "examples"))
    from drawn import to_image
    from make_diamond_plate import diamond_plate

    found = {"cobbles": ROOT / "examples" / "cobbles.png"}
    tmp.mkdir(parents=True, exist_ok=True)
    plate = tmp / "diamond_plate.png"
    to_image(diamond_plate(seed=3)).save(plate)  # as benchmarks/quality.py draws it
    found["diamond_plate"] = plate
    for name, image in (("brick_gray", data.brick()), ("gravel_gray", data.gravel())):
        path = tmp / f"{name}.png"
        # the left half, as ../shared/bench has it (NAME_gray.png): its right half is
        # held out there, so it is never fitted on here either
        Image.fromarray(image[:, :256]).save(path)
        found[name] = path
    return found


def model_for(name: str, exemplar: Path, models: Path) -> tuple[patchtex.Model, str]:
    path = models / f"{name}.patchtex.safetensors"
    if name == "cobbles":  # what a user gets without a model
        model = patchtex.demo()
        return model, "the bundled demo model"
    if path.exists():
        model = patchtex.load(path)
        return model, f"model {path.parent.name}/{path.name}, defaults"
    models.mkdir(parents=True, exist_ok=True)
    clock = time.perf_counter()
    model = patchtex.fit(exemplar, seed=0)
    model.save(path)
    return model, f"fitted in {time.perf_counter() - clock:.0f} s"


def panel(image: torch.Tensor, side: int = PANEL) -> Image.Image:
    """[1,C,H,W] in [-1,1] -> an RGB panel `side` px square (nearest, for 1:1 pixels)."""
    if image.shape[1] == 1:
        image = image.expand(-1, 3, -1, -1)
    image = image[:, :3]
    h, w = image.shape[-2:]
    if (h, w) != (side, side):
        image = F.interpolate(image, size=(side, side), mode="nearest")
    return Image.fromarray(to_uint8(image))


def strip(model: patchtex.Model, exemplar: torch.Tensor) -> list[Image.Image]:
    ex = exemplar[..., :PANEL, :PANEL]
    new = model.synth((PANEL, PANEL), seed=1)
    tile = model.synth((PANEL // 2, PANEL // 2), seed=1, tileable=True).repeat(1, 1, 2, 2)
    # a round hole of a third of the panel's side, cut out of the exemplar
    yy, xx = torch.meshgrid(torch.arange(PANEL), torch.arange(PANEL), indexing="ij")
    r = PANEL / 6
    hole = (((yy - PANEL / 2) ** 2 + (xx - PANEL / 2) ** 2) < r * r).float()[None, None]
    damaged = torch.where(hole > 0, torch.ones_like(ex), ex)
    fixed = model.refine(ex, hole, seed=1)
    crop = exemplar[..., : PANEL // 2, : PANEL // 2]
    up = model.refine(crop, None, upscale=2, seed=1)
    return [panel(ex), panel(new), panel(tile), panel(damaged), panel(fixed), panel(crop), panel(up)]


def compose(panels: list[Image.Image], title: str) -> Image.Image:
    gap, top = 4, 30
    sheet = Image.new("RGB", (len(panels) * (PANEL + gap) - gap, PANEL + top), "white")
    draw = ImageDraw.Draw(sheet)
    draw.text((2, 2), title, fill=(0, 0, 0))
    for i, (p, label) in enumerate(zip(panels, LABELS)):
        x = i * (PANEL + gap)
        sheet.paste(p, (x, top))
        draw.text((x + 2, 16), label, fill=(60, 60, 60))
    return sheet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=Path, default=ROOT / "out" / "gallery-models")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "gallery")
    parser.add_argument("--only", nargs="*")
    args = parser.parse_args()
    torch.set_num_threads(max(1, min(torch.get_num_threads(), 16)))
    args.out.mkdir(parents=True, exist_ok=True)
    for name, path in exemplars(args.models / "exemplars").items():
        if args.only and name not in args.only:
            continue
        model, how = model_for(name, path, args.models)
        exemplar = patchtex.load_image(path).pixels
        panels = strip(model, exemplar)
        info = f"{name}: {exemplar.shape[-1]}x{exemplar.shape[-2]} exemplar, {model.config.num_scales} scales, {how}"
        sheet = compose(panels, info)
        target = args.out / f"{name}.jpg"
        sheet.save(target, quality=85, optimize=True)
        kb = math.ceil(target.stat().st_size / 1024)
        shown = target.resolve().relative_to(ROOT) if target.resolve().is_relative_to(ROOT) else target
        print(f"{info} -> {shown} ({kb} KB)", flush=True)


if __name__ == "__main__":
    main()
