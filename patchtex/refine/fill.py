"""Refinement: repair and improve an existing texture image through the pyramid.

The image is placed at the scale of the pyramid whose resolution it has (the finest, or
a coarser one when upscaling), downsampled to an injection scale chosen by `strength` (0
= its own scale, nothing regenerated; 1 = the coarsest) and the finer generators,
trained to add detail to real coarse images, regenerate everything above it with fresh
noise. With a mask only masked pixels change: holes are filled coarse to fine (at the
coarsest scale, pixels near a hole's border are interpolated, so lines go on across a
scratch, and the coarsest generator draws new layout deeper in; every finer scale
regenerates detail from the composite of that and the known pixels, which are put back
at every scale, so the hole's surroundings steer it and nothing is smeared); at every
scale the fill is blended onto the known pixels over a few pixels inside the hole.
Several layouts are drawn (coarse ones, then whole fills), one more fill copies the
image's own known patches (`patches.patch_fill`), and each hole keeps the one whose
patches look most like the known pixels around it. Pixels outside the mask are the
input's, bit for bit; the transition happens inside the mask, where each scale's
generator sees both sides of the border.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..canvas import Canvas, upsample_to
from ..channels import match_channels
from ..config import ModelConfig
from ..layout import detail_hints
from ..model import Pyramid, downsample, halvings, push_pull_fill
from .patches import patch_fill

SMOOTH_BAND = 3  # coarsest-scale pixels from a hole's border that are interpolated


def smooth_fill(image: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """Fill unknown pixels smoothly from known ones, continuing lines across thin gaps.

    Within `SMOOTH_BAND` pixels of a hole's border the fill is biharmonic (skimage's
    `inpaint_biharmonic`): a mortar line or a colour gradient crossing a scratch goes on
    through it. Deeper pixels take the push-pull fill, which serves as the band's inner
    boundary; `coarse_fill` draws new layout over them anyway. So the solve grows with
    the holes' perimeter, not their area (a 300k-pixel biharmonic solve takes ~15 s).

    image: [1,C,H,W]; known: [1,1,H,W] float in {0,1}."""
    from scipy.ndimage import distance_transform_edt
    from skimage.restoration import inpaint_biharmonic

    base = push_pull_fill(image, known)
    hole = known[0, 0].numpy() == 0
    if not hole.any() or hole.all():
        return base
    band = hole & (distance_transform_edt(hole) <= SMOOTH_BAND)
    pixels = base[0].permute(1, 2, 0).double().numpy()
    filled = inpaint_biharmonic(pixels, band, channel_axis=-1)
    return torch.from_numpy(filled).to(image.dtype).permute(2, 0, 1)[None]


def refine_image(
    pyramid: Pyramid,
    image: torch.Tensor,
    mask: torch.Tensor | None,
    *,
    strength: float,
    upscale: int,
    seed: int,
    device: torch.device,
    bf16: bool,
) -> torch.Tensor:
    """Refine `image` ([1,C,H,W] in [-1,1]); mask [1,1,H,W] (1 = damaged) or None.

    The mask may be soft: every pixel above 0 is repaired, and the repair is blended
    over the input by the mask's value there (1 = the repair alone; the soft edge of a
    cut-out hole takes its alpha's share of the input).

    Returns [1,C,H*upscale,W*upscale] float32 in [-1,1]."""
    cfg = pyramid.config
    if upscale not in (1, 2, 4):
        raise ValueError(f"upscale must be 1, 2 or 4, got {upscale}")
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"strength must be between 0 and 1, got {strength}")
    steps_up = int(math.log2(upscale))
    own = cfg.num_scales - 1 - steps_up  # the pyramid scale at the image's resolution
    if own < 0:
        raise ValueError(
            f"this model has {cfg.num_scales} scales; it can upscale by at most {2 ** (cfg.num_scales - 1)}"
        )
    if mask is not None and upscale != 1:
        raise ValueError("a repair (with a mask) and upscaling cannot be combined; repair first, then upscale")
    image = match_channels(image.float(), cfg.image_channels)
    weight, mask = mask, None if mask is None else (mask > 0).float()
    levels = _levels(image, mask, own, cfg.colour_range)

    def canvas(fill_seed: int) -> Canvas:
        return Canvas(pyramid, fill_seed, device=device, bf16=bf16)

    if mask is None:
        return _refine(levels, strength, canvas(seed))
    fills = [_refine(levels, strength, canvas(seed * FILLS + k)) for k in range(FILLS)]
    # and one from the image's own patches: on a lattice's thin scratches it continues
    # the lattice where the model's fills smear it (holes.py, brick wall's scribble: deep
    # 0.034 -> 0.024); elsewhere the model's fills look more like the surroundings
    fills.append(patch_fill(image, mask, seed))
    fill = best_fill_per_hole(fills, mask)
    return blend_soft(image, fill, weight)


def blend_soft(image: torch.Tensor, fill: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """The repair `fill` over `image` by a soft mask `weight` ([1,1,H,W] in [0,1]): weight 0
    is the input bit for bit, 1 the fill, in between (a partly transparent edge) a blend."""
    return torch.where(weight < 1, image + weight * (fill - image), fill)


@dataclass(frozen=True)
class _Levels:
    """The input at each scale up to its own (coarsest first), with its mask and feather
    weights there, and the coarsest image with its holes smooth-filled (None without a
    mask): the same for every fill, so built once."""

    images: list[torch.Tensor]
    masks: list[torch.Tensor] | None
    weights: list[torch.Tensor] | None
    smooth: torch.Tensor | None
    # per channel, the lowest and highest value a repair may hold ([1,C,1,1] each; None:
    # unheld): `repair_range`
    bounds: tuple[torch.Tensor, torch.Tensor] | None = None


def _levels(
    image: torch.Tensor, mask: torch.Tensor | None, own: int, colour_range: tuple[tuple[float, float], ...] = ()
) -> _Levels:
    images = halvings(image, own)
    if mask is None:
        return _Levels(images, None, None, None)
    masks = halvings(mask, own, lambda m: F.max_pool2d(m, 2))  # a coarse pixel is damaged if any of its own are
    weights = [feather_weight(m) for m in masks]
    smooth = smooth_fill(images[0], 1 - masks[0])
    return _Levels(images, masks, weights, smooth, repair_range(image, mask, colour_range))


def repair_range(
    image: torch.Tensor, mask: torch.Tensor, colour_range: tuple[tuple[float, float], ...]
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Per channel, the (lowest, highest) value a repair of `image` ([1,C,H,W]; `mask`
    [1,1,H,W], 1 = damaged) may hold at any scale: the model's `colour_range` (the
    exemplar's) widened to the image's own known pixels, so a brighter photo's repair
    still reaches its own highlights. Each scale's composite is held within it after
    `feather`: the border residual it adds can carry a fill past any colour either has
    (parquet's scribble, where three strokes cross: green 1.15 at the scale before the
    finest, drawn there as a bright yellow fleck; false colour 0.00078 -> 0,
    benchmarks/RESULTS, session 39). None for a model without a range (older files),
    which repairs as before."""
    from ..train import colour_range as own_range

    if not colour_range:
        return None
    if bool((mask == 0).any()):  # the known pixels' range, measured as a fit measures the exemplar's
        colour_range = tuple((min(a, c), max(b, d)) for (a, b), (c, d) in zip(colour_range, own_range(image, 1 - mask)))
    low, high = (torch.tensor(side, dtype=image.dtype).view(1, -1, 1, 1) for side in zip(*colour_range))
    return low, high


# whole fills drawn per repair; each hole keeps the one whose patches look most like the
# known pixels around it. 4 -> 8 took the large-hole benchmark's mean fill SWD over its 16
# cases from 20.5 to 19.2 and cracked_paint's scribble from 19.4 to 17.6 (benchmarks/RESULTS,
# session 15)
FILLS = 8
RING = 16  # known pixels this far around a hole give the patch statistics its fill must match
PATCH_SIDE = 7  # `train.random_directions` draws 7x7 projections
PROJECTIONS = 32


def best_fill_per_hole(fills: list[torch.Tensor], mask: torch.Tensor) -> torch.Tensor:
    """Composite `fills` ([1,C,H,W] each, identical outside `mask`) hole by hole: each
    connected hole takes the fill whose patches are closest in distribution to the known
    patches around it (`patch_costs`). Choosing by the step along each hole's border (what
    this did before session 15) prefers smooth fills, whose border steps are small: with
    more fills to choose from it made bark's scribble worse (fill SWD 29 -> 41 from 8 to
    12 fills); by patch statistics every large-hole case improved."""
    from scipy.ndimage import label

    hole = mask[0, 0] > 0
    components, count = label(hole.numpy())
    components = torch.from_numpy(components)
    best = patch_costs(fills, components, count).argmin(dim=0)  # per component (0: outside, unused)
    out = fills[0].clone()
    for k in range(1, len(fills)):
        take = (best[components] == k) & hole
        out[..., take] = fills[k][..., take]
    return out


def patch_costs(fills: list[torch.Tensor], components: torch.Tensor, count: int) -> torch.Tensor:
    """[F, count + 1]: per fill and hole (connected component `index` of `components`,
    [H,W] with 0 outside the holes), the sliced Wasserstein distance between the 7x7
    patches centred in the hole and the patches within `RING` pixels of it that hold no
    hole pixel, at the image's resolution and 2x box-downsampled, summed (fixed random
    projections: a repair stays deterministic per seed)."""
    from scipy.ndimage import find_objects

    from ..train import random_directions

    directions = random_directions(PROJECTIONS, fills[0].shape[1], torch.Generator().manual_seed(0), "cpu")
    costs = torch.zeros(len(fills), count + 1, dtype=torch.float64)
    height, width = components.shape
    r = PATCH_SIDE // 2
    for index, box in enumerate(find_objects(components.numpy()), start=1):
        if box is None:
            continue
        ys, xs = _grown(box, RING, height, width)
        own = (components[ys, xs] == index).float()[None, None]
        damaged = (components[ys, xs] > 0).float()[None, None]
        images = [fill[..., ys, xs].float() for fill in fills]
        for _ in range(2):  # the box, then its 2x downsampling
            if min(own.shape[-2:]) < PATCH_SIDE:
                break
            centres = _spread((own[0, 0, r:-r, r:-r] > 0).flatten().nonzero()[:, 0])
            known = _spread((F.max_pool2d(damaged, PATCH_SIDE, stride=1)[0, 0] == 0).flatten().nonzero()[:, 0])
            count_q = min(len(centres), len(known), 1024)
            if count_q > 0:
                q = (torch.arange(count_q) + 0.5) / count_q
                for k, image in enumerate(images):
                    projected = F.conv2d(image, directions)[0].flatten(1)
                    inside = projected[:, centres].sort(dim=1).values
                    around = projected[:, known].sort(dim=1).values
                    gap = inside[:, (q * inside.shape[1]).long()] - around[:, (q * around.shape[1]).long()]
                    costs[k, index] += gap.abs().mean().item()
            own, damaged = F.max_pool2d(own, 2), F.max_pool2d(damaged, 2)
            images = [F.avg_pool2d(image, 2) for image in images]
    return costs


def _refine(levels: _Levels, strength: float, canvas: Canvas) -> torch.Tensor:
    cfg = canvas.pyramid.config
    images, masks = levels.images, levels.masks
    own = len(images) - 1
    image, mask = images[own], None if masks is None else masks[own]
    height, width = image.shape[-2:]
    # a quilted model's finer scales are fed guide channels (`ModelConfig.hint_channels`):
    # here the image's own detail hints at its coarsest level, and in a hole those of the
    # layout placed there (`coarse_fill`); lifted a scale at a time as the image is
    guide, guide_scale = None, 0
    if cfg.hint_channels and cfg.layout_size:
        guide = image_hints(image, cfg, own)
    if mask is None:
        # any strength above 0 regenerates at least the finest scale: a model of two
        # scales (most exemplars quilted at 1/2) rounded 0.5 x 1 to none and returned
        # the image as it was
        start = own - (min(own, max(1, round(strength * own))) if strength > 0 else 0)
        while start < own and min(images[start].shape[-2:]) < 2 * max(cfg.layers) + 2:
            start += 1  # reflect halos need a few pixels more than the receptive field
        x = images[start]
    else:
        # holes get new layout from the coarsest generator (noise and periodic channels);
        # known pixels replace it wherever they exist, at this and every finer scale
        start = 0
        x = levels.smooth
        if own > 0 and min(x.shape[-2:]) > cfg.layers[0]:
            x, (dx, dy), guide = coarse_fill(x, masks[0], canvas, guide)
            # finer scales fed periodic channels must draw the lattice where the placed
            # layout has it, not where the plane has it: move their waves by the largest
            # hole's placement (a periodic image's holes all agree on it, up to a period)
            canvas.move_waves(dx * cfg.factor(0), dy * cfg.factor(0))
    for scale in range(start + 1, cfg.num_scales):
        if scale <= own:
            size = images[scale].shape[-2:]
        else:
            size = (height * 2 ** (scale - own), width * 2 ** (scale - own))
        if guide is not None:
            guide = guide_at(guide, scale - 1 - guide_scale, tuple(size))
            guide_scale = scale
        # the image's own range
        prev, x = x, canvas.finite_step(scale, x, tuple(size), bounded=False, guide=guide)
        if scale > own:
            # upscaling: the new detail must average back to what it refines (one step
            # of back-projection), so the layout of the input cannot drift
            x = x + upsample_to(prev - downsample(x), *size)
        if mask is not None:  # a repair runs at the image's own resolution: scale <= own
            x = feather(x, images[scale], masks[scale], levels.weights[scale])
            if levels.bounds is not None:
                x = torch.maximum(torch.minimum(x, levels.bounds[1]), levels.bounds[0])
    x = x.clamp(-1, 1)
    if mask is not None:
        x = torch.where(mask > 0, x, image)  # outside the mask: the input, bit for bit
    return x


FEATHER = 4  # pixels inside a hole over which the fill is blended onto its border


def feather_weight(mask: torch.Tensor) -> torch.Tensor:
    """[1,1,H,W] mask -> how much of the border residual each hole pixel takes: 1 on the
    first ring inside the hole, fading to 0 at `FEATHER` + 1 pixels deep."""
    from scipy.ndimage import distance_transform_edt

    depth = torch.from_numpy(distance_transform_edt(mask[0, 0].numpy() > 0)).float()
    return (1 - (depth - 1) / FEATHER).clamp(0, 1)


def feather(generated: torch.Tensor, image: torch.Tensor, mask: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Composite: the input outside `mask`, the generated image inside it, with the step
    at the border blended away over `FEATHER` pixels inside the mask (`weight` is
    `feather_weight(mask)`).

    Where the generator regenerated the known pixels next to a hole, it missed them by a
    residual (input - generated); that residual, extended smoothly into the hole and
    faded with depth, corrects the fill next to the border, so colour and lines meet
    the known pixels without a step while the fill keeps its own detail deeper in."""
    known = 1 - mask
    residual = push_pull_fill((image - generated) * known, known)
    return torch.where(mask > 0, generated + weight * residual, image)


CONTEXT = 4  # coarsest-scale pixels around a hole whose known values its new layout must match
SEARCH = 128  # side of the coarse sample searched for each hole's layout (`coarse_fill`)


def image_hints(image: torch.Tensor, cfg: ModelConfig, own: int) -> torch.Tensor:
    """A hinted model's guide for refining `image` (`ModelConfig.hint_channels`, at its
    quilted level): `detail_hints` as a fit reads them, over `cfg.factor(0)` pixels of
    the model's finest resolution. An image at a coarser scale (`own`, an upscale) is
    first upsampled to that resolution (bicubic): read at its own resolution, a hint
    averages one pixel's gradient where the model learned an average of four, reads
    fully coherent everywhere, and a hinted rust's 2x upscale scored 6.4 on refine.py's
    patch SWD against 0.9 unhinted; from the bicubic upsampling, the hints of bench
    held-out halves downscaled 2x come 20-30% nearer those of the full-size halves
    (benchmarks/RESULTS, session 58)."""
    finer = cfg.num_scales - 1 - own
    if finer > 0:
        image = F.interpolate(image.float(), scale_factor=2**finer, mode="bicubic", align_corners=False)
    return detail_hints(image, cfg.factor(0), cfg.hint_channels)


def guide_at(guide: torch.Tensor, steps: int, size: tuple[int, int]) -> torch.Tensor:
    """`guide` lifted `steps` + 1 scales finer as refine lifts its image (`upsample_to`),
    the last to `size` (height, width)."""
    for _ in range(steps):
        guide = upsample_to(guide, guide.shape[-2] * 2, guide.shape[-1] * 2)
    return upsample_to(guide, *size)


def coarse_fill(
    smooth: torch.Tensor, mask: torch.Tensor, canvas: Canvas, guide: torch.Tensor | None = None
) -> tuple[torch.Tensor, tuple[int, int], torch.Tensor | None]:
    """New layout for the holes at the coarsest scale, and (dx, dy): where the largest
    hole's layout came from in the sample, relative to where it went ((0, 0) without holes).

    smooth: [1,C,h,w] the coarse image with holes filled by `smooth_fill`; mask: [1,1,h,w].
    The coarsest generator draws a sample of new texture (the canvas's seed decides it)
    larger than the largest hole (at least `SEARCH` px a side, `SEARCH` / 2 px beyond the
    hole's box, at most 3x it). For each hole (connected component),
    every placement of the hole's box in that sample is scored by how far the sample's
    pixels are from the known pixels within `CONTEXT` of the hole (a masked sum of
    squares, computed for all placements at once as two convolutions), and the hole
    takes the best placement's pixels. So a brick course, a plank or a row of tiles that
    runs into the hole goes on at the right phase, and an object cut by the border is
    continued by one drawn around the same place. A large hole's layout then takes the
    known pixels' colour (`colour_offset`, `recolour_weight`): a model fitted on another
    part of the photo draws it in that part's light (bark's 128 px disc came out as a dark
    olive blot: fill SWD 119 -> 83, benchmarks/RESULTS session 13). Pixels near the hole's border blend
    from the smooth fill to that layout with their depth: a scribble a pixel or two wide
    at this scale keeps the colours on both its sides."""
    from scipy.ndimage import binary_dilation, distance_transform_edt, find_objects, label

    height, width = smooth.shape[-2:]
    hole = mask[0, 0].numpy() > 0
    components, count = label(hole)
    if count == 0:
        return smooth, (0, 0), guide
    boxes = [_grown(box, CONTEXT, height, width) for box in find_objects(components)]
    largest = max(max(ys.stop - ys.start, xs.stop - xs.start) for ys, xs in boxes)
    # room for SEARCH / 2 more placements a side, at most 3x the hole: a long scribble's box
    # at a finely quilted level (rust's at 1/2) spans most of the image, and a 3x sample
    # of it cost seconds of quilt per fill
    side = max(SEARCH, min(3 * largest, largest + SEARCH // 2))
    sample = canvas.step(0, None, (0, 0, side, side)).float()
    sample_guide = None if guide is None else canvas.source.hints(0, (0, 0, side, side)).cpu().float()
    guided = None if guide is None else guide.clone()
    squares = sample.pow(2).sum(1, keepdim=True)
    chosen = smooth.clone()
    biggest, shift = 0, (0, 0)  # the largest hole's area, and where its layout came from
    for index, box in enumerate(boxes, start=1):
        own = components[box] == index
        ring = binary_dilation(own, iterations=CONTEXT) & (components[box] == 0)
        weight = torch.from_numpy(ring)[None, None].float()
        target = smooth[(..., *box)].float()
        y = x = 0
        if bool(weight.any()):
            cost = correlate(squares, weight) - 2 * correlate(sample, weight * target)
            y, x = divmod(int(cost.flatten().argmin()), cost.shape[-1])
        bh, bw = target.shape[-2:]
        inside = torch.from_numpy(own)
        placed = sample[..., y : y + bh, x : x + bw]
        if bool(weight.any()):
            placed = placed + recolour_weight(own) * colour_offset(target, placed, weight)
        chosen[(..., *box)] = torch.where(inside, placed, chosen[(..., *box)])
        if guided is not None:  # the hole's detail hints are the placed layout's
            guided[(..., *box)] = torch.where(inside, sample_guide[..., y : y + bh, x : x + bw], guided[(..., *box)])
        area = int(own.sum())
        if area > biggest:
            biggest, shift = area, (x - box[1].start, y - box[0].start)
    depth = torch.from_numpy(distance_transform_edt(hole)).float()
    blend = ((depth - 0.5) / 2).clamp(0, 1)
    return torch.where(mask > 0, smooth + blend * (chosen - smooth), smooth), shift, guided


def correlate(image: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """`F.conv2d(image, kernel)` for one kernel ([1,C,H,W], [1,C,h,w] -> [1,1,H-h+1,W-w+1]),
    through the FFT in float64: a hole's box is a kernel of tens of pixels, which a direct
    convolution on a CPU takes ~50x longer to apply (a refine's placement search was most
    of its time)."""
    height, width = image.shape[-2:]
    h, w = kernel.shape[-2:]
    flipped = kernel.double().flip(-2, -1)  # a product of spectra convolves; flipped, it correlates
    spectrum = torch.fft.rfft2(image.double(), s=(height, width)) * torch.fft.rfft2(flipped, s=(height, width))
    full = torch.fft.irfft2(spectrum.sum(1, keepdim=True), s=(height, width))
    return full[..., h - 1 :, w - 1 :].to(image.dtype)


def colour_offset(target: torch.Tensor, placed: torch.Tensor, ring: torch.Tensor) -> torch.Tensor:
    """The mean colour of the known pixels `target` minus that of the placed layout over
    the `ring` around a hole ([1,C,1,1]): a model fitted on other pixels (another half of
    the photo, another light) draws a layout whose colour is off by this much here."""
    return ((target - placed) * ring).sum(dim=(2, 3), keepdim=True) / ring.sum()


def recolour_weight(own) -> torch.Tensor:
    """How much of `colour_offset` a hole's pixels take ([1,1,h,w] from its boolean
    mask): none within `SMOOTH_BAND` of its border, where the smooth fill already carries
    the known colours and a thin scratch is all border, rising to all of it 2 pixels
    deeper, where the fill is the model's layout alone."""
    from scipy.ndimage import distance_transform_edt

    depth = torch.from_numpy(distance_transform_edt(own)).float()[None, None]
    return ((depth - SMOOTH_BAND) / 2).clamp(0, 1)


def _spread(indices: torch.Tensor, most: int = 4096) -> torch.Tensor:
    """At most `most` of `indices`, evenly spaced among them (a deterministic sample)."""
    if len(indices) <= most:
        return indices
    return indices[torch.linspace(0, len(indices) - 1, most).long()]


def _grown(box: tuple[slice, slice], margin: int, height: int, width: int) -> tuple[slice, slice]:
    """A (rows, columns) box grown by `margin` on every side, within the image."""
    ys, xs = box
    rows = slice(max(0, ys.start - margin), min(height, ys.stop + margin))
    return rows, slice(max(0, xs.start - margin), min(width, xs.stop + margin))
