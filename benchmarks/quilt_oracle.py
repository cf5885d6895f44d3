"""How much of a quilted model's miss is its quilt's, and how much its finer scales'.

For each model (fitted by `quality.py`), renders at full size with each seed's noise:

- `quilt`: from the quilt, as `synth` does, scored against the held-out half (the ratio
  `quality.py` reports);
- `own level`: with the exemplar's own coarsest level injected in the quilt's place
  (reflected past its border), scored against the held-out half: a perfect quilt, but one
  whose layout the finer scales trained on (their real coarse pairs are cut from it);
- `held-out level`: with the held-out half's coarsest level injected, scored against the
  exemplar (floor: the held-out half against the exemplar). The finer scales never saw
  that level, so this is what they make of a real layout that is new to them: 1.0 is
  the held-out half itself; what it scores above 1 is lost in the finer scales whatever
  the quilt does.

Each as patch SWD ratio and, where its weights are installed (`deep_structure.py`), the
VGG ratio, each the mean over the seeds.

    python benchmarks/quilt_oracle.py bench-out/quality/*.patchtex.safetensors
        [--bench ../shared/bench] [--seeds 1 2]

Session 27, bricks (seed-0 model): patch SWD 1.12 / 1.13 from its own level, 1.61 / 2.02
from its quilt (seeds 1 / 2). Session 28 found most of that gap is where the quilt puts
the lattice in the frame, not how it draws it: the real level holds the exemplar's own
phase, and the same model's quilt at that phase scores 1.11 (RESULTS, session 28;
`calibrate.py --offsets`: the exemplar itself half a course lower scores 1.82). Session
50: from the held-out level the finer scales score VGG 1.16-1.51 (leaves the most).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

import patchtex
from patchtex.canvas import KeyedSource
from patchtex.images import load_image
from patchtex.model import halvings
from patchtex.quality import level_ratio, patch_swd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from quality import DEFAULT_BENCH, _has_deep, bench_files  # noqa: E402  (benchmarks/quality.py)


def reflected(level: torch.Tensor, margin: int):
    """rect -> the level's pixels there, reflected past its border by up to `margin`."""
    padded = F.pad(level, (margin,) * 4, mode="reflect")

    def crop(rect: tuple[int, int, int, int]) -> torch.Tensor:
        x0, y0, w, h = rect
        return padded[..., y0 + margin : y0 + margin + h, x0 + margin : x0 + margin + w]

    return crop


class Against:
    """Scores against one `target`, each as a ratio to what `floor_image` scores against
    it (the floors worked out once, not per render)."""

    def __init__(self, target: torch.Tensor, floor_image: torch.Tensor, deep: bool):
        self.target, self.deep = target, deep
        self.swd_floor = patch_swd(floor_image, target)
        self.deep_floor = self._deep(floor_image) if deep else []

    def _deep(self, image: torch.Tensor) -> list[float]:
        from deep_structure import deep_distances

        return deep_distances(image, self.target)

    def __call__(self, image: torch.Tensor) -> tuple[float, float]:
        """(patch SWD ratio, VGG ratio or nan) of `image`."""
        swd = patch_swd(image, self.target) / self.swd_floor
        return swd, level_ratio(self._deep(image), self.deep_floor) if self.deep else float("nan")


def oracle_rows(
    model: patchtex.Model, files: tuple[Path, Path], seeds: list[int], deep: bool
) -> dict[str, tuple[float, float]]:
    """{'quilt' | 'own level' | 'held-out level': (patch SWD ratio, VGG ratio)} of a
    quilted `model`, means over `seeds`; `files` are its exemplar and held-out half."""
    pyramid = model.pyramid
    exemplar, held_out = (load_image(f).pixels for f in files)
    top = pyramid.config.num_scales - 1
    own = pyramid.generators[0].level.float()
    unseen = halvings(held_out, top)[0]
    layouts = {  # what each row injects in the quilt's place (None: the quilt itself)
        "quilt": None,
        "own level": (0, reflected(own, min(own.shape[-2:]) - 1)),
        "held-out level": (0, reflected(unseen, min(unseen.shape[-2:]) - 1)),
    }
    to_held_out = Against(held_out, exemplar, deep)
    judges = {"quilt": to_held_out, "own level": to_held_out, "held-out level": Against(exemplar, held_out, deep)}
    # the held-out half is the exemplar's size on the bench, so one rect serves all three
    rect = (0, 0, held_out.shape[-1], held_out.shape[-2])
    rows: dict[str, list[tuple[float, float]]] = {name: [] for name in layouts}
    for seed in seeds:
        source = KeyedSource(pyramid, seed, torch.device("cpu"))
        for name, inject in layouts.items():
            with torch.no_grad():
                image = pyramid.render(top, rect, source, inject=inject).clamp(-1, 1)
            rows[name].append(judges[name](image))
    return {k: (statistics.mean(s for s, _ in v), statistics.mean(d for _, d in v)) for k, v in rows.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("--bench", type=Path, default=DEFAULT_BENCH)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    torch.set_num_threads(2)
    deep = _has_deep()
    columns = ("quilt", "own level", "held-out level")
    print(f"{'model':<14} {'quilted':>7} " + " ".join(f"{c + ' SWD / VGG':>26}" for c in columns))
    for path in args.models:
        model = patchtex.load(path)
        files = bench_files(path.name.split(".")[0], args.bench, (path.parent,))
        if not model.pyramid.config.layout_size or files is None:
            print(f"{path.name}: not a quilted model, or its exemplar is not found")
            continue
        rows = oracle_rows(model, files, args.seeds, deep)
        factor = model.pyramid.config.factor(0)
        cells = " ".join(f"{rows[c][0]:>15.2f} / {rows[c][1]:>4.2f}" for c in columns)
        print(f"{path.name.split('.')[0]:<14} {'1/' + str(factor):>7} {cells}", flush=True)


if __name__ == "__main__":
    main()
