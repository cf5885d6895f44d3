"""Generator pyramid and PatchGAN discriminator (imports only torch).

Geometry, shared by training, synthesis and refinement:
- Scale 0 is the coarsest. One pixel of scale s covers 2x2 pixels of scale s+1; pixel i
  of scale s is centred on pixel 2i + 0.5 of scale s+1 (the grid of 2x2 box averaging).
- Every conv is 3x3 without padding, so a scale with L layers needs a halo of L pixels.
  Nothing in the network knows where an image border is: output is stationary, and a
  window of the endless plane is computed from exactly the inputs around it.
- Upsampling is the fixed bilinear 2x kernel (weights 3/4, 1/4) applied only where both
  neighbours exist ("valid" upsampling), so it needs one coarse pixel of halo.
Rects are (x0, y0, w, h) in the pixel grid of their scale, in global coordinates.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfig, check_init

Rect = tuple[int, int, int, int]
# source(scale, rect) -> conditioning channels [B, noise + periodic, h, w] for that rect
Source = Callable[[int, Rect], torch.Tensor]
# coarse(rect) -> image [B, C, h, w] at the next coarser scale
CoarseFn = Callable[[Rect], torch.Tensor]


def upsample_valid(coarse: torch.Tensor) -> torch.Tensor:
    """Bilinear 2x upsampling without border handling: [B,C,h,w] -> [B,C,2h-2,2w-2].

    Output pixel 0 is fine pixel 2*c0 + 1, where c0 is the coarse rect's first pixel.
    """
    left, right = coarse[..., :-1], coarse[..., 1:]
    cols = torch.stack([0.75 * left + 0.25 * right, 0.25 * left + 0.75 * right], dim=-1)
    cols = cols.flatten(-2)
    top, bottom = cols[..., :-1, :], cols[..., 1:, :]
    rows = torch.stack([0.75 * top + 0.25 * bottom, 0.25 * top + 0.75 * bottom], dim=-2)
    return rows.flatten(-3, -2)


def downsample(image: torch.Tensor) -> torch.Tensor:
    """2x2 box average, the grid that `upsample_valid` inverts: [B,C,h,w] -> [B,C,h//2,w//2]."""
    return F.avg_pool2d(image, 2)


def halvings(
    image: torch.Tensor, count: int, reduce: Callable[[torch.Tensor], torch.Tensor] = downsample
) -> list[torch.Tensor]:
    """`image` and `count` successive reductions of it (2x2 box averages by default),
    coarsest first: the scales of a pyramid, for images and masks alike."""
    levels = [image]
    for _ in range(count):
        levels.insert(0, reduce(levels[0]))
    return levels


def push_pull_fill(image: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """Fill unknown pixels smoothly from known ones (push-pull pyramid).

    image: [1,C,H,W]; known: [1,1,H,W] float in {0,1}."""
    if bool(known.min() > 0):
        return image
    height, width = image.shape[-2:]
    if known.sum() == 0:
        return torch.zeros_like(image)
    if min(height, width) <= 2:
        mean = (image * known).sum(dim=(2, 3), keepdim=True) / known.sum()
        return torch.where(known > 0, image, mean.expand_as(image))
    weight = F.avg_pool2d(known, 2, ceil_mode=True)
    coarse = F.avg_pool2d(image * known, 2, ceil_mode=True) / weight.clamp(min=1e-8)
    coarse = push_pull_fill(coarse, (weight > 0).float())
    up = F.interpolate(coarse, scale_factor=2, mode="bilinear", align_corners=False)[..., :height, :width]
    return torch.where(known > 0, image, up)


def coarse_rect(rect: Rect) -> Rect:
    """The coarse rect whose valid upsampling covers `rect` of the next finer scale."""
    x0, y0, w, h = rect
    cx0, cy0 = (x0 - 1) // 2, (y0 - 1) // 2
    cx1, cy1 = (x0 + w - 2) // 2 + 2, (y0 + h - 2) // 2 + 2
    return cx0, cy0, cx1 - cx0, cy1 - cy0


def upsample_into(coarse: torch.Tensor, crect: Rect, rect: Rect) -> torch.Tensor:
    """Upsample `coarse` (covering `crect`) and crop it to the finer `rect`."""
    up = upsample_valid(coarse)
    ox, oy = rect[0] - (2 * crect[0] + 1), rect[1] - (2 * crect[1] + 1)
    return up[..., oy : oy + rect[3], ox : ox + rect[2]]


def cond_channels(config: ModelConfig, scale: int) -> int:
    """Noise channels at every scale; the periodic channels of the waves that feed this
    scale (`ModelConfig.waves_at`): a wave enters where the scale resolves its period,
    and with the default reach stays on at every finer scale."""
    hints = config.hint_channels if scale > 0 and config.layout_size else 0
    return config.noise_channels + config.periodic_channels(scale) + hints


def lifted(read: Callable[[Rect], torch.Tensor], scale: int, rect: Rect) -> torch.Tensor:
    """`rect` of `scale` from a field of the coarsest scale (`read(rect)`), upsampled 2x a
    scale as images are (`upsample_into`): exact on any window."""
    if scale == 0:
        return read(rect)
    crect = coarse_rect(rect)
    return upsample_into(lifted(read, scale - 1, crect), crect, rect)


def hinted(
    cond: torch.Tensor, source, config: ModelConfig, scale: int, rin: Rect, guide: torch.Tensor | None = None
) -> torch.Tensor:
    """`cond` for generator `scale` on `rin`, and after it a quilted model's guide channels
    (`ModelConfig.hint_channels`): `guide` when given (refine's, on `rin`), else
    `source.hints(scale, rin)`. Unchanged for any other model or the coarsest scale."""
    if scale == 0 or not (config.hint_channels and config.layout_size):
        return cond
    hints = source.hints(scale, rin) if guide is None else guide
    return torch.cat([cond, hints.to(cond.device, cond.dtype)], dim=1)


def grow(rect: Rect, margin: int) -> Rect:
    x0, y0, w, h = rect
    return x0 - margin, y0 - margin, w + 2 * margin, h + 2 * margin


LEAKY_SLOPE = 0.2  # the negative slope of every hidden activation


def init_weights(module: nn.Module, generator: torch.Generator, scheme: str = "kaiming") -> None:
    """Re-draw every conv's weights from `generator`, so a fit depends on its seed and
    nothing else. A conv marked `identity_init` (a residual tail) starts near zero.

    "kaiming": normal with std gain / sqrt(fan_in), biases zero; the gain keeps the
    activations' spread through the leaky ReLUs (a conv marked `linear_output`, followed
    by none, has gain 1). "uniform" (PyTorch's default, every fit before session 17):
    uniform in +-1/sqrt(fan_in), which shrinks the spread ~2.4x a layer, so a 7-layer
    coarsest generator's last hidden layer carried 1/20 of its first's (benchmarks/README,
    session 17)."""
    check_init(scheme)
    for conv in module.modules():
        if isinstance(conv, nn.Conv2d):
            fan_in = conv.in_channels * conv.kernel_size[0] * conv.kernel_size[1]
            identity = getattr(conv, "identity_init", False)
            with torch.no_grad():
                if scheme == "uniform" or identity:
                    bound = 1e-3 if identity else 1.0 / fan_in**0.5
                    w = torch.rand(conv.weight.shape, generator=generator) * 2 - 1
                    conv.weight.copy_(w * bound)
                    if conv.bias is not None:
                        b = torch.rand(conv.bias.shape, generator=generator) * 2 - 1
                        conv.bias.copy_(b * (0.0 if identity else bound))
                    continue
                gain = 1.0 if getattr(conv, "linear_output", False) else (2.0 / (1 + LEAKY_SLOPE**2)) ** 0.5
                conv.weight.copy_(torch.randn(conv.weight.shape, generator=generator) * (gain / fan_in**0.5))
                if conv.bias is not None:
                    conv.bias.zero_()


class ScaleGenerator(nn.Module):
    """One scale: (upsampled coarser image, noise, periodic channels) -> image.

    The coarsest scale maps noise to an image through tanh; finer scales add a residual
    of detail to the upsampled coarser image.
    """

    def __init__(
        self,
        image_channels: int,
        cond_channels: int,
        hidden: int,
        layers: int,
        coarsest: bool,
        gamut: bool = False,
        bounds: tuple[tuple[float, float], ...] = (),
    ):
        super().__init__()
        self.coarsest = coarsest
        self.gamut = gamut  # `ModelConfig.residual_in_gamut`
        # a finer scale's output is held within `ModelConfig.colour_range` (not saved:
        # the model file's config holds it)
        self.bounded = bool(bounds) and not coarsest
        low, high = zip(*bounds) if bounds else ((), ())
        self.register_buffer("low", torch.tensor(low, dtype=torch.float32).reshape(1, -1, 1, 1), persistent=False)
        self.register_buffer("high", torch.tensor(high, dtype=torch.float32).reshape(1, -1, 1, 1), persistent=False)
        self.halo = layers
        in_ch = cond_channels + (0 if coarsest else image_channels)
        widths = [in_ch] + [hidden] * (layers - 1)
        self.body = nn.ModuleList(nn.Conv2d(a, b, 3) for a, b in zip(widths[:-1], widths[1:]))
        self.tail = nn.Conv2d(hidden, image_channels, 3)
        # finer scales start as the identity: output = upsampled coarser image
        self.tail.identity_init = not coarsest
        self.tail.linear_output = True

    def forward(self, prev: torch.Tensor | None, cond: torch.Tensor, bounded: bool = True) -> torch.Tensor:
        """prev: [B,C,h+2L,w+2L] or None; cond: [B,K,h+2L,w+2L] -> [B,C,h,w] float32.
        A finer scale's output is held, channel by channel, within the exemplar's range
        (`ModelConfig.colour_range`) unless `bounded` is False (refine, on an image whose
        range is its own)."""
        out = self.tail_output(prev, cond)
        if prev is None:
            return torch.tanh(out)
        halo = self.halo
        base = prev[..., halo:-halo, halo:-halo].float()
        image = base + (in_gamut(base, out) * out if self.gamut else out)
        if self.bounded and bounded:
            image = torch.maximum(torch.minimum(image, self.high), self.low)
        return image

    def tail_output(self, prev: torch.Tensor | None, cond: torch.Tensor) -> torch.Tensor:
        """The last conv's output, float32: the coarsest scale's image before its tanh
        (training watches it, `train.saturation_loss`), a finer scale's residual."""
        x = cond if prev is None else torch.cat([prev, cond.to(prev.dtype)], dim=1)
        x = x.contiguous(memory_format=torch.channels_last)
        for conv in self.body:
            # in place: the conv output is fresh, and a new activation tensor per layer
            # costs as much as the conv itself (large allocations are fresh pages)
            x = F.leaky_relu(conv(x), LEAKY_SLOPE, inplace=not torch.is_grad_enabled())
        return self.tail(x).float()


def in_gamut(base: torch.Tensor, residual: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Per pixel, the largest t in [0, 1] for which base + t * residual keeps every
    channel within [-1, 1]: [B,1,h,w], outside the autograd graph. Scaling the whole
    residual keeps the pixel's colour on the line the scale drew it along; a clamp per
    channel afterwards cuts the channels apart and makes colours the exemplar never has
    (bright cusps turned white where red alone was left under 1). A base already out of
    range takes none of the residual."""
    with torch.no_grad():
        up = torch.where(residual > eps, (1 - base) / residual.clamp(min=eps), 1.0)
        down = torch.where(residual < -eps, (-1 - base) / residual.clamp(max=-eps), 1.0)
        return torch.minimum(up, down).amin(dim=1, keepdim=True).clamp_(0, 1)


class LayoutScale(nn.Module):
    """The coarsest scale as a quilt of the exemplar's coarsest level (`layout.Quilt`):
    it holds that level ([1,C,H,W], `ModelConfig.layout_size`) and nothing to train. The
    source it is drawn through (`KeyedSource.layout`, `TrainingSource.layout`) decides
    the seed and the period."""

    halo = 0

    def __init__(self, image_channels: int, size: tuple[int, ...], hint_channels: int = 0):
        super().__init__()
        self.register_buffer("level", torch.zeros(1, image_channels, *size))
        # the exemplar's detail hints at this level (`ModelConfig.hint_channels`)
        self.register_buffer("hints", torch.zeros(1, hint_channels, *size) if hint_channels else None)


class Pyramid(nn.Module):
    """The multi-scale generator: one `ScaleGenerator` per scale, coarse to fine (the
    coarsest a `LayoutScale` when `config.layout_size` is set)."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.generators = nn.ModuleList(
            LayoutScale(config.image_channels, config.layout_size, config.hint_channels)
            if s == 0 and config.layout_size
            else ScaleGenerator(
                config.image_channels,
                cond_channels(config, s),
                config.channels[s],
                config.layers[s],
                s == 0,
                config.residual_in_gamut,
                config.colour_range,
            )
            for s in range(config.num_scales)
        )
        self.register_buffer("waves", torch.tensor(config.waves, dtype=torch.float32).reshape(-1, 2))

    def step(
        self, scale: int, rect: Rect, source: Source, coarse: CoarseFn | None, upsampled: CoarseFn | None = None
    ) -> torch.Tensor:
        """Output of `scale` on `rect`, given a way to get the coarser image (or, with
        `upsampled`, its upsampling to this scale's grid directly): [B,C,h,w]."""
        gen = self.generators[scale]
        if isinstance(gen, LayoutScale):
            return source.layout(gen.level, rect)
        rin = grow(rect, gen.halo)
        cond = source(scale, rin)
        prev = None
        if upsampled is not None:
            prev = upsampled(rin)
        elif scale > 0:
            crect = coarse_rect(rin)
            prev = upsample_into(coarse(crect), crect, rin)
        return gen(prev, hinted(cond, source, self.config, scale, rin))

    def render(
        self,
        scale: int,
        rect: Rect,
        source: Source,
        inject: tuple[int, CoarseFn] | None = None,
        upsampled: tuple[int, CoarseFn] | None = None,
    ) -> torch.Tensor:
        """Render `rect` of the plane at `scale`, running every coarser scale on the rect
        (plus halos) it needs. `inject = (s, image_fn)` replaces the output of scale s by
        `image_fn(rect)`: refinement and training feed real images in this way.
        `upsampled = (s, image_fn)` gives scale s its input (the coarser image, already
        upsampled to scale s's grid) as `image_fn(rect)`: tileable outputs whose size
        the coarse grids do not divide come in this way."""
        if inject is not None and inject[0] == scale:
            return inject[1](rect)
        if upsampled is not None and upsampled[0] == scale:
            return self.step(scale, rect, source, None, upsampled[1])
        if scale == 0:
            return self.step(scale, rect, source, None)

        def coarse(r: Rect) -> torch.Tensor:
            return self.render(scale - 1, r, source, inject, upsampled)

        return self.step(scale, rect, source, coarse)


class Discriminator(nn.Module):
    """PatchGAN critic: valid 3x3 convs, one score per patch."""

    def __init__(self, image_channels: int, hidden: int, layers: int):
        super().__init__()
        widths = [image_channels] + [hidden] * (layers - 1)
        self.body = nn.ModuleList(nn.Conv2d(a, b, 3) for a, b in zip(widths[:-1], widths[1:]))
        self.tail = nn.Conv2d(hidden, 1, 3)
        self.tail.linear_output = True

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """image: [B,C,h,w] in about [-1,1] -> scores [B,1,h-2L,w-2L]."""
        x = image.contiguous(memory_format=torch.channels_last)
        for conv in self.body:
            x = F.leaky_relu(conv(x), LEAKY_SLOPE, inplace=not torch.is_grad_enabled())
        return self.tail(x).float()


class MultiCritic(nn.Module):
    """Critics of one image at several resolutions: critic k sees the image 2^k-times box
    downsampled, so a small critic at a coarse level also judges whole objects and how
    they are arranged (a critic at several scales)."""

    def __init__(self, image_channels: int, hidden: int, layers: int, count: int = 1):
        super().__init__()
        self.critics = nn.ModuleList(Discriminator(image_channels, hidden, layers) for _ in range(count))
        self.min_side = 2 * layers + 1

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        """image [B,C,h,w] -> one score map per critic whose input is large enough."""
        scores = []
        for critic in self.critics:
            if min(image.shape[-2:]) < self.min_side:
                break
            scores.append(critic(image))
            image = downsample(image)
        return scores
