"""Fit previews: as each scale of a fit finishes, a sheet of samples at that scale beside
the exemplar's own level there, and a plot of the losses so far.

A fit cannot be judged by its losses alone (a GAN's losses do not fall steadily); the
sheets show where structure appears or is lost. Written with Pillow only."""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw

from .canvas import Canvas
from .images import atomic_path, save_image
from .model import Pyramid

PANEL = 192  # side of each sheet panel, in finest pixels at most
SERIES = (("d", "critic", (200, 60, 60)), ("swd", "patches", (40, 110, 200)), ("spec", "spectrum", (40, 150, 70)))


def scale_sheet(
    pyramid: Pyramid, level: torch.Tensor, scale: int, *, device: torch.device, bf16: bool, seeds=(1, 2, 3)
) -> torch.Tensor:
    """The exemplar's `level` at `scale` ([1,C,h,w]) | one sample of the plane at that
    scale per seed, each panel magnified (nearest) to the exemplar's finest pixels:
    [1,C,H,W] in [-1,1]."""
    factor = pyramid.config.factor(scale)
    height, width = level.shape[-2:]
    n_w, n_h = max(1, min(width, PANEL // factor)), max(1, min(height, PANEL // factor))
    panels = [level[..., :n_h, :n_w].cpu()]
    for seed in seeds:
        panels.append(Canvas(pyramid, seed, device=device, bf16=bf16).level(scale, 0, 0, n_w, n_h))
    gap = torch.ones(1, level.shape[1], n_h, max(1, 4 // factor))
    row = torch.cat([p for panel in panels for p in (panel, gap)][:-1], dim=3)
    return F.interpolate(row, scale_factor=factor, mode="nearest")


def loss_plot(history: list[tuple[int, dict[str, float]]], path: str | Path, size=(720, 260)) -> None:
    """The losses of every step so far (scale, losses), one panel per loss (log scale,
    smoothed over 25 steps within each scale), scale boundaries as grey lines; PNG at
    `path`, written atomically."""
    width, height = size
    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    steps = len(history)
    if steps >= 2:
        panel_h = (height - 20) // len(SERIES)
        left, right = 70, width - 10
        xs = [left + (right - left) * j / (steps - 1) for j in range(steps)]
        boundaries = [j for j in range(1, steps) if history[j][0] != history[j - 1][0]]
        first, start = [], 0  # each step's smoothing window starts here: it restarts with each scale
        for j in range(steps):
            start = j if j in boundaries else start
            first.append(max(start, j - 24))
        for i, (key, label, colour) in enumerate(SERIES):
            top = 10 + i * panel_h
            logs = [math.log10(max(1e-6, abs(losses.get(key, 0.0)))) for _, losses in history]
            smooth = [sum(logs[first[j] : j + 1]) / (j + 1 - first[j]) for j in range(steps)]
            lo, hi = min(smooth), max(smooth)
            hi = hi if hi > lo else lo + 1
            for j in boundaries:
                draw.line([(xs[j], top), (xs[j], top + panel_h - 6)], fill=(190, 190, 190))
            points = [(xs[j], top + (panel_h - 8) * (1 - (smooth[j] - lo) / (hi - lo))) for j in range(steps)]
            draw.line(points, fill=colour, width=2)
            draw.text((4, top + 2), label, fill=colour)
            draw.text((4, top + 14), f"{10 ** smooth[-1]:.3g}", fill=(80, 80, 80))
            draw.rectangle([left, top, right, top + panel_h - 6], outline=(220, 220, 220))
        draw.text((left, height - 12), f"{steps} steps; grey lines: a new scale starts; log scale", fill=(80, 80, 80))
    with atomic_path(path) as tmp:
        img.save(tmp, format="PNG")


class FitPreview:
    """A fit callback writing `scale-K.png` (`scale_sheet`) and `losses.png` (`loss_plot`)
    into `folder` as each scale finishes."""

    def __init__(self, folder: str | Path, *, seeds=(1, 2, 3)):
        self.folder = Path(folder)
        self.seeds = seeds
        self.history: list[tuple[int, dict[str, float]]] = []

    def __call__(self, scale: int, step: int, steps: int, losses: dict[str, float]) -> None:
        self.history.append((scale, dict(losses)))

    def scale_done(self, scale: int, pyramid: Pyramid, level: torch.Tensor, device: torch.device, bf16: bool) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        sheet = scale_sheet(pyramid, level, scale, device=device, bf16=bf16, seeds=self.seeds)
        save_image(sheet, self.folder / f"scale-{scale + 1}.png")
        loss_plot(self.history, self.folder / "losses.png")
