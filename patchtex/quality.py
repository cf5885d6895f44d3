"""Texture quality metrics that need no pretrained network.

All take [1,C,H,W] float tensors in [-1,1] (as `images.load_image` gives) and are
deterministic: every random choice uses a fixed seed.

- `patch_swd`: multi-scale patch sliced Wasserstein distance. A Gaussian pyramid (down to
  32 px), 7x7 patches at every level, 128 fixed random projections; per projection the mean
  absolute difference of quantiles, averaged over projections and levels. Lower = closer
  patch statistics. Colour, contrast, sharpness and local structure all move it. With
  `where`, only the output's patches centred on a mask (a repaired scratch) are scored.
- `copy_fraction`: fraction of 48x48 output patches (on a 48 px grid) whose nearest
  exemplar patch (every position) reproduces them within RMSE <= 0.1 x the patch's own
  standard deviation: near-verbatim copies.
- `spectral_distance`: mean absolute difference of log power spectra, each a Welch average
  over Hann-windowed luminance tiles (128 px, 64 px for small images; 50% overlap),
  normalised to unit power without DC. Catches lost periodicity and melted structure that
  7x7 patches cannot see.
- `seam_ratio`: mean absolute luminance step across the wrap-around edges (last column to
  first, last row to first) over the mean step between neighbours inside. ~1.0 = tiles
  seamlessly; much more = a visible seam.
- `diversity`: per-pixel standard deviation across several outputs, averaged, over the
  exemplar's standard deviation. ~1 for independent samples; 0 = all identical.
- `structure_distances`: distance at the scale of objects. A fixed random CNN (4 levels of
  64 random 3x3 filters, ReLU, a 2x average pool between levels: receptive fields of
  3, 8, 18 and 38 px) turns each image into feature maps; per level, the sliced
  Wasserstein distance of the two images' feature vectors (128 fixed projections) over
  the target's feature spread. `structure_ratio` divides each level by what the
  exemplar scores against the same target and takes the geometric mean, so every level
  (edges to whole objects) counts alike. Calibrated in `benchmarks/calibrate.py`.
- `false_colour_share`: share of output pixels whose colour the exemplar never has: RGB
  (or grey) quantised to 16 levels a channel, the exemplar's occupied bins dilated by one
  bin in every direction, and an output pixel counted when its bin is outside them. A
  real held-out crop of the same photo scores ~0; magenta flecks on cyan water do not.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .channels import colour_mean, comparable

PATCH = 7
PROJECTIONS = 128
MAX_PATCHES = 16384
COPY_PATCH = 48
COPY_RELATIVE_RMSE = 0.1
COLOUR_LEVELS = 16


def _unit(image: torch.Tensor) -> torch.Tensor:
    return (image.double().clamp(-1, 1) + 1) / 2


def luminance(image: torch.Tensor) -> torch.Tensor:
    """[1,C,H,W] -> [H,W] float64 in [0,1] (alpha ignored)."""
    return colour_mean(_unit(image))[0]


def _gaussian_reduce(x: torch.Tensor) -> torch.Tensor:
    k = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0], dtype=x.dtype) / 16
    kernel = (k[:, None] * k[None, :]).expand(x.shape[1], 1, 5, 5)
    x = F.conv2d(F.pad(x, (2, 2, 2, 2), mode="reflect"), kernel, groups=x.shape[1])
    return x[..., ::2, ::2]


def _pyramid(x: torch.Tensor, min_side: int = 32) -> list[torch.Tensor]:
    levels = [x]
    while min(levels[-1].shape[-2:]) // 2 >= min_side:
        levels.append(_gaussian_reduce(levels[-1]))
    return levels


def _projected_patches(
    x: torch.Tensor, directions: torch.Tensor, generator: torch.Generator, where: torch.Tensor | None = None
) -> torch.Tensor:
    proj = F.conv2d(x, directions).flatten(2)[0]  # [P, N]
    if where is not None:  # only these patches ([H-6,W-6] bool, one per patch position)
        proj = proj[:, where.flatten()]
    if proj.shape[1] > MAX_PATCHES:
        idx = torch.randperm(proj.shape[1], generator=generator)[:MAX_PATCHES]
        proj = proj[:, idx]
    return proj.sort(dim=1).values


def _quantiles(sorted_proj: torch.Tensor, count: int) -> torch.Tensor:
    n = sorted_proj.shape[1]
    idx = ((torch.arange(count, dtype=torch.float64) + 0.5) * n / count).long().clamp(max=n - 1)
    return sorted_proj[:, idx]


def patch_swd(output: torch.Tensor, target: torch.Tensor, where: torch.Tensor | None = None) -> float:
    """Multi-scale 7x7 patch sliced Wasserstein distance (x1000, lower is closer).

    where: optional [1,1,H,W] mask of `output`; only the output's patches centred on it
    (at each level, on the pixels it touches) are compared with all of the target's.
    This scores a thin repaired region (a scratch) in its context."""
    a, b = comparable(_unit(output), _unit(target))
    mask = None if where is None else where.double()
    generator = torch.Generator().manual_seed(0)
    directions = torch.randn(PROJECTIONS, a.shape[1] * PATCH * PATCH, generator=generator, dtype=torch.float64)
    directions = (directions / directions.norm(dim=1, keepdim=True)).reshape(PROJECTIONS, a.shape[1], PATCH, PATCH)
    total, levels = 0.0, 0
    for la, lb in zip(_pyramid(a), _pyramid(b)):
        if min(la.shape[-2:]) < PATCH or min(lb.shape[-2:]) < PATCH:
            break
        centres = None
        if mask is not None:  # the patch positions whose centre the mask touches
            r = PATCH // 2
            centres = (F.adaptive_max_pool2d(mask, la.shape[-2:])[0, 0] > 0)[r:-r, r:-r]
            if not bool(centres.any()):
                break
        pa = _projected_patches(la, directions, generator, centres)
        pb = _projected_patches(lb, directions, generator)
        count = min(pa.shape[1], pb.shape[1], 4096)
        total += (_quantiles(pa, count) - _quantiles(pb, count)).abs().mean().item()
        levels += 1
    return 1000.0 * total / max(levels, 1)


def copy_fraction(output: torch.Tensor, exemplar: torch.Tensor, max_queries: int = 256) -> float:
    """Fraction of 48x48 output patches that are near-verbatim copies of an exemplar patch."""
    a, b = comparable(_unit(output), _unit(exemplar))
    size = COPY_PATCH
    if min(a.shape[-2:]) < size or min(b.shape[-2:]) < size:
        return 0.0
    patches = F.unfold(a, size, stride=size).transpose(1, 2)[0]  # [N, C*size*size]
    if patches.shape[0] > max_queries:
        idx = torch.randperm(patches.shape[0], generator=torch.Generator().manual_seed(0))[:max_queries]
        patches = patches[idx]
    weight = patches.reshape(-1, a.shape[1], size, size)
    ex = b.float()
    dots = F.conv2d(ex, weight.float())[0].double()  # [N, H', W']
    ex_sq = F.avg_pool2d(ex.pow(2).sum(1, keepdim=True), size, stride=1)[0, 0].double() * size * size
    p_sq = patches.pow(2).sum(1)
    dist = (p_sq[:, None, None] + ex_sq[None] - 2 * dots).clamp(min=0)
    nearest_mse = dist.flatten(1).min(dim=1).values / patches.shape[1]
    variance = patches.var(dim=1)
    copied = nearest_mse <= (COPY_RELATIVE_RMSE**2) * variance
    return copied.double().mean().item()


def mean_power(tiles: torch.Tensor) -> torch.Tensor:
    """Mean power spectrum of square tiles [N,n,n], each Hann-windowed after removing its
    mean, without DC and normalised to unit sum: [n,n]. Differentiable (the training
    spectral loss uses it on generated crops)."""
    n = tiles.shape[-1]
    window = torch.hann_window(n, periodic=False, dtype=tiles.dtype, device=tiles.device)
    window = window[:, None] * window[None, :]
    tiles = tiles - tiles.mean(dim=(1, 2), keepdim=True)
    power = torch.fft.fft2(tiles * window).abs().pow(2).mean(0)
    power[0, 0] = 0
    return power / power.sum().clamp(min=1e-20)


def _welch_log_spectrum(lum: torch.Tensor, tile: int) -> torch.Tensor:
    tiles = lum.unfold(0, tile, tile // 2).unfold(1, tile, tile // 2).reshape(-1, tile, tile)
    return torch.log10(mean_power(tiles) + 1e-10)


def spectral_tile(*images: torch.Tensor) -> int:
    side = min(min(x.shape[-2:]) for x in images)
    return 128 if side >= 256 else 64 if side >= 64 else 2 ** int(math.log2(max(side, 8)))


def spectral_distance(output: torch.Tensor, target: torch.Tensor, tile: int | None = None) -> float:
    """Mean |log10 power spectrum difference| of Welch-averaged luminance spectra."""
    tile = tile or spectral_tile(output, target)
    sa = _welch_log_spectrum(luminance(output), tile)
    sb = _welch_log_spectrum(luminance(target), tile)
    mask = torch.ones_like(sa, dtype=torch.bool)
    mask[0, 0] = False
    return (sa - sb).abs()[mask].mean().item()


def seam_ratio(output: torch.Tensor) -> float:
    """Step across the wrap-around edges / mean step between neighbours inside."""
    lum = luminance(output)
    inside = torch.cat([(lum[:, 1:] - lum[:, :-1]).abs().flatten(), (lum[1:] - lum[:-1]).abs().flatten()]).mean()
    across = torch.cat([(lum[:, 0] - lum[:, -1]).abs(), (lum[0] - lum[-1]).abs()]).mean()
    return (across / inside.clamp(min=1e-12)).item()


def diversity(outputs: list[torch.Tensor], exemplar: torch.Tensor) -> float:
    """Mean per-pixel std across outputs (cropped to a common size) / exemplar std."""
    height = min(o.shape[-2] for o in outputs)
    width = min(o.shape[-1] for o in outputs)
    stack = torch.stack([_unit(o)[0, :, :height, :width] for o in outputs])
    spread = stack.std(dim=0).mean()
    return (spread / _unit(exemplar).std(dim=(0, 2, 3)).mean().clamp(min=1e-12)).item()


STRUCTURE_WIDTH = 64
STRUCTURE_LEVELS = 4


def _structure_filters(channels: int) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    filters, fan_in = [], channels
    for _ in range(STRUCTURE_LEVELS):
        w = torch.randn(STRUCTURE_WIDTH, fan_in, 3, 3, generator=generator) / math.sqrt(fan_in * 9)
        filters.append(w)
        fan_in = STRUCTURE_WIDTH
    return filters


def _structure_features(image: torch.Tensor, filters: list[torch.Tensor]) -> list[torch.Tensor]:
    x = image.float() * 2 - 1
    levels = []
    for i, w in enumerate(filters):
        if i:
            x = F.avg_pool2d(x, 2)
        if min(x.shape[-2:]) < 3:
            break
        x = F.relu(F.conv2d(x, w))
        levels.append(x[0].flatten(1))  # [width, positions]
    return levels


def _sorted_sample(proj: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """[P, N] projections -> at most MAX_PATCHES of their columns, sorted per row, float64."""
    if proj.shape[1] > MAX_PATCHES:
        proj = proj[:, torch.randperm(proj.shape[1], generator=generator)[:MAX_PATCHES]]
    return proj.double().sort(dim=1).values


def feature_swd(features: torch.Tensor, target: torch.Tensor, generator: torch.Generator) -> float:
    """Sliced Wasserstein distance between two sets of feature vectors ([K, N] and
    [K, M]: K channels, one column per position) over 128 random unit projections from
    `generator`, divided by the spread of the target's projections."""
    directions = torch.randn(features.shape[0], PROJECTIONS, generator=generator)
    directions = directions / directions.norm(dim=0, keepdim=True)
    pa, pb = (_sorted_sample(directions.T @ f, generator) for f in (features, target))
    count = min(pa.shape[1], pb.shape[1], 4096)
    spread = pb.std().item() + 1e-9
    return (_quantiles(pa, count) - _quantiles(pb, count)).abs().mean().item() / spread


def level_ratio(ours: list[float], floor: list[float]) -> float:
    """Geometric mean over levels of ours[i] / floor[i] (the levels both have)."""
    levels = min(len(ours), len(floor))
    logs = [math.log(max(ours[i], 1e-12) / max(floor[i], 1e-12)) for i in range(levels)]
    return math.exp(sum(logs) / max(levels, 1))


def structure_distances(output: torch.Tensor, target: torch.Tensor) -> list[float]:
    """Per level of a fixed random CNN (fine to coarse), `feature_swd` of the two
    images' feature vectors."""
    a, b = comparable(_unit(output), _unit(target))
    filters = _structure_filters(a.shape[1])
    generator = torch.Generator().manual_seed(1)
    return [
        feature_swd(fa, fb, generator)
        for fa, fb in zip(_structure_features(a, filters), _structure_features(b, filters))
    ]


def structure_ratio(output: torch.Tensor, target: torch.Tensor, exemplar: torch.Tensor) -> float:
    """Geometric mean over levels of structure_distances(output, target) over
    structure_distances(exemplar, target): ~1 for a real unseen crop of the same texture
    (the exemplar against its held-out half), more for broken structure or lost detail."""
    return level_ratio(structure_distances(output, target), structure_distances(exemplar, target))


def _colour_bins(image: torch.Tensor) -> tuple[torch.Tensor, int]:
    """[1,C,H,W] -> (flat bin index per pixel, number of channels quantised)."""
    levels = (_unit(image) * COLOUR_LEVELS).floor().clamp(0, COLOUR_LEVELS - 1).long()[0]  # [c,H,W]
    index = torch.zeros_like(levels[0])
    for channel in levels:
        index = index * COLOUR_LEVELS + channel
    return index.flatten(), levels.shape[0]


def false_colour_share(output: torch.Tensor, exemplar: torch.Tensor) -> float:
    """Share of `output` pixels whose quantised colour is not within one bin (per channel)
    of a colour the exemplar has (alpha ignored; grey against colour compared as grey)."""
    a, b = comparable(output, exemplar)
    out_bins, channels = _colour_bins(a)
    ex_bins, _ = _colour_bins(b)
    shape = (COLOUR_LEVELS,) * channels
    occupied = torch.zeros(COLOUR_LEVELS**channels)
    occupied[ex_bins] = 1
    grid = occupied.reshape(1, 1, *shape)
    pool = {1: F.max_pool1d, 3: F.max_pool3d}[channels]
    allowed = pool(grid, 3, stride=1, padding=1).flatten() > 0
    return (~allowed[out_bins]).double().mean().item()
