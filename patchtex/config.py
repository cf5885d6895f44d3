"""Frozen configuration dataclasses.

`ModelConfig` is everything needed to rebuild the generator pyramid; it is stored as JSON
inside every model file. `TrainConfig` steers a fit and is stored beside it for the record.
Derived quantities (scale sizes, halos) are pure functions of these and never written back.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass

MIN_EXEMPLAR = 32  # shortest side a fit accepts, in pixels
MIN_COARSE_SIDE = 24  # the coarsest scale of the exemplar is never smaller than this
PRECISIONS = ("auto", "bf16", "fp32")  # what each means: `runtime.use_bf16`
INIT_SCHEMES = ("kaiming", "uniform")  # how fresh weights are drawn: `model.init_weights`
# what draws the coarsest image: "generator" (a GAN, as every fit before session 19) or
# "quilt" (blocks of the exemplar's own coarsest level, `layout.Quilt`, placed whole
# lattice steps apart where the exemplar has a lattice; only where it has no damage,
# else the generator)
COARSE_LAYOUTS = ("generator", "quilt")
# a wave enters the pyramid at the coarsest scale where its period is at least this many
# of that scale's pixels. Sampled at about 2 px a period (lego's and wicker's 16 px stud
# and weave periods at a coarsest scale of 8x: 2.02 px) its sin and cos are a +-1
# checkerboard whose phase drifts over 1 / (0.5 - 1/period) px (200 px there): useless to a
# generator that sees 15 px. At 2.25 px that beat is 18 px; the diamond plate's 10 px
# ridge harmonic (2.49 px at its coarsest scale) is still needed there to place its
# ridges in the cell (moved one scale finer, its ridges merged into long lines)
MIN_WAVE_PERIOD = 2.25
# which scales a wave's periodic channels feed: "coarsest" (every wave at scale 0, as
# before session 13), "entry" (each wave at its entry scale), "finer" (there and at every
# finer scale, so fine scales keep the lattice too)
WAVE_REACHES = ("coarsest", "entry", "finer")


def check_wave_reach(reach: str) -> str:
    """`reach` if it is one of `WAVE_REACHES`; ValueError naming it otherwise."""
    if reach not in WAVE_REACHES:
        raise ValueError(f"wave_reach must be one of {', '.join(WAVE_REACHES)}, got {reach!r}")
    return reach


def check_init(scheme: str) -> str:
    """`scheme` if it is one of `INIT_SCHEMES`; ValueError naming it otherwise."""
    if scheme not in INIT_SCHEMES:
        raise ValueError(f"init must be one of {', '.join(INIT_SCHEMES)}, got {scheme!r}")
    return scheme


def check_coarse_layout(layout: str) -> str:
    """`layout` if it is one of `COARSE_LAYOUTS`; ValueError naming it otherwise."""
    if layout not in COARSE_LAYOUTS:
        raise ValueError(f"coarse_layout must be one of {', '.join(COARSE_LAYOUTS)}, got {layout!r}")
    return layout


def check_precision(precision: str) -> str:
    """`precision` if it is one of `PRECISIONS`; ValueError naming it otherwise."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    return precision


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of the multi-scale generator.

    Scale 0 is the coarsest; scale `num_scales - 1` works at the exemplar's resolution.
    Neighbouring scales differ by exactly 2x, so every scale's pixel grid is aligned with
    the next and any window of the plane can be rendered exactly.
    """

    image_channels: int = 3  # 1 (L), 2 (LA), 3 (RGB) or 4 (RGBA)
    num_scales: int = 4
    channels: tuple[int, ...] = (64, 48, 32, 32)  # hidden width per scale, coarse to fine
    layers: tuple[int, ...] = (7, 5, 5, 5)  # 3x3 valid convs per scale = halo in pixels
    noise_channels: int = 4  # i.i.d. Gaussian channels fed to every scale
    # Periodic (PSGAN-style) channels: wave vectors in cycles per finest pixel, found in the
    # exemplar's power spectrum. Empty for textures without a dominant period.
    waves: tuple[tuple[float, float], ...] = ()
    # per wave, the scales whose generator is fed its channels; empty = every wave at the
    # coarsest scale only (every model file written before this field existed)
    wave_scales: tuple[tuple[int, ...], ...] = ()
    # (height, width) of the exemplar's coarsest level when the coarsest scale is a quilt
    # of it (`layout.Quilt`; the model file holds that level); empty = a generator
    layout_size: tuple[int, ...] = ()
    # flips and turns (`symmetry.TRANSFORMS` names) the quilt's blocks may also take: those
    # the exemplar's statistics do not change under (`symmetry.symmetries`)
    layout_transforms: tuple[str, ...] = ()
    # per channel, what the quilt adds to every pixel so that its expected colour is the
    # level's (`layout.quilt_offset`); empty = nothing (every model file written before
    # this field existed, whose pixels stay as they were). Measured on the quilts the
    # model draws (renders, refine fills) since session 46; before, on those it trained on
    layout_offset: tuple[float, ...] = ()
    # per channel, what the quilts a fit's finer scales train on add instead
    # (`train.training_quilt_options`), where those quilts drift otherwise than the ones
    # the model draws: they take no variance credit and lay no cells along a wave, and
    # lego's aligned quilts drift 0.054 brighter than its square-celled ones
    # (benchmarks/RESULTS, session 46). Empty = `layout_offset` (every model file written
    # before this field existed, and every fit whose two kinds of quilt are the same)
    layout_train_offset: tuple[float, ...] = ()
    # the quilt's cell side in coarsest pixels (`layout.CELL` for every model file written
    # before this field existed)
    layout_cell: int = 16
    # guide channels fed to every finer scale of a quilted model: the finest exemplar's
    # local orientation (two channels, times its coherence) and detail energy, box-averaged
    # to the quilted level and read through the quilt's own blocks and cuts
    # (`Quilt.guide`), then upsampled; 0 = none (every model file written before this field)
    hint_channels: int = 0
    # the spread of the i.i.d. noise channels at every finer scale (the coarsest keeps 1):
    # a finer scale adds detail to a coarser image, and noise of the image's own spread
    # there starts it drawing grain where the exemplar is flat (lego's fur)
    fine_noise: float = 1.0
    # where the model draws (renders, refine fills), its finer scales' noise spread is
    # `fine_noise` times this: the multiple whose renders' spectrum is nearest the
    # exemplar's, picked as a fit ends (`train.pick_draw_noise`); a fit itself always
    # trains at `fine_noise`. 1 for every model file written before this field existed
    draw_noise: float = 1.0
    # of a white quilt cell's candidates, how many continue a neighbour's block
    # (`layout.Quilt`); 0 for every model file written before this field existed
    layout_coherent: int = 0
    # the share of the block across a quilt cut mixed into the pixel after it
    # (`layout.Quilt`); 0 (hard cuts) for every model file written before this field existed
    layout_feather: float = 0.0
    # whether a finer scale's residual is scaled back, per pixel, to keep every channel of
    # the pixel within [-1, 1] (`model.in_gamut`) rather than cut channel by channel at the
    # end; False for every model file written before this field existed
    residual_in_gamut: bool = False
    # the share of a white quilt cell's candidate's own variance over its margins taken off
    # its cost (`layout.Quilt`) where the model draws (renders, refine); its finer scales
    # trained on quilts without it (`train.training_quilt_options`). 0 (agreement alone)
    # for every model file written before this field existed
    layout_variance_credit: float = 0.0
    # per channel, the (lowest, highest) value of the exemplar: each finer scale's output
    # is held within it (`model.ScaleGenerator`), as it trains and as it draws; empty =
    # held within [-1, 1] at the end only (every model file written before this field
    # existed)
    colour_range: tuple[tuple[float, float], ...] = ()
    # whether a quilt's cuts are weighed by its blocks' own colour steps (`layout.seam_costs`),
    # so that they follow outlines; False (squared difference alone) for every model file
    # written before this field existed
    layout_edge_seams: bool = False
    # whether a lattice quilt lays its cells along a lattice wave that runs nearly along an
    # axis, one period apart, with their edges where the exemplar's rows
    # at one phase of that wave agree best (`layout.aligned_axes`); False (square cells of
    # `layout_cell`) for every model file written before this field existed
    layout_aligned: bool = False

    def __post_init__(self) -> None:
        from .symmetry import TRANSFORMS

        if not 0.0 <= self.layout_feather <= 1.0:
            raise ValueError(f"layout_feather must be 0-1, got {self.layout_feather}")
        if self.layout_feather and not self.layout_size:
            raise ValueError("layout_feather needs a quilted coarsest scale (layout_size)")

        if self.colour_range and (
            len(self.colour_range) != self.image_channels or any(not -1 <= a <= b <= 1 for a, b in self.colour_range)
        ):
            raise ValueError(f"colour_range must be (low, high) within [-1, 1] per channel, got {self.colour_range}")
        if not 0.0 <= self.layout_variance_credit <= 1.0:
            raise ValueError(f"layout_variance_credit must be 0-1, got {self.layout_variance_credit}")
        if self.layout_variance_credit and not self.layout_size:
            raise ValueError("layout_variance_credit needs a quilted coarsest scale (layout_size)")
        if self.layout_edge_seams and not self.layout_size:
            raise ValueError("layout_edge_seams needs a quilted coarsest scale (layout_size)")
        if self.layout_aligned and not self.layout_size:
            raise ValueError("layout_aligned needs a quilted coarsest scale (layout_size)")
        if not 0 <= self.layout_coherent <= 4:
            raise ValueError(f"layout_coherent must be 0-4, got {self.layout_coherent}")
        if self.layout_coherent and not self.layout_size:
            raise ValueError("layout_coherent needs a quilted coarsest scale (layout_size)")
        if any(name not in TRANSFORMS for name in self.layout_transforms):
            raise ValueError(f"layout_transforms must name {sorted(TRANSFORMS)}, got {self.layout_transforms}")
        if self.layout_transforms and not self.layout_size:
            raise ValueError("layout_transforms needs a quilted coarsest scale (layout_size)")
        if self.layout_transforms and self.waves:
            raise ValueError("layout_transforms would break a lattice quilt's lattice (waves)")
        if self.layout_offset and (not self.layout_size or len(self.layout_offset) != self.image_channels):
            raise ValueError("layout_offset needs a quilted coarsest scale and one value per image channel")
        if self.layout_train_offset and (
            not self.layout_offset or len(self.layout_train_offset) != self.image_channels
        ):
            raise ValueError("layout_train_offset needs a layout_offset and one value per image channel")
        if not 0.0 <= self.fine_noise <= 10.0:
            raise ValueError(f"fine_noise must be between 0 and 10, got {self.fine_noise}")
        if not 0.0 <= self.draw_noise <= 10.0:
            raise ValueError(f"draw_noise must be between 0 and 10, got {self.draw_noise}")
        if self.layout_cell < 4:
            raise ValueError(f"layout_cell must be at least 4, got {self.layout_cell}")
        if self.layout_size and (len(self.layout_size) != 2 or min(self.layout_size) < 1):
            raise ValueError(f"layout_size must be (height, width), got {self.layout_size}")
        if self.image_channels not in (1, 2, 3, 4):
            raise ValueError(f"image_channels must be 1-4, got {self.image_channels}")
        if not (len(self.channels) == len(self.layers) == self.num_scales):
            raise ValueError("channels and layers need one entry per scale")
        if min(self.layers) < 2:
            raise ValueError("every scale needs at least 2 conv layers")
        if self.wave_scales:
            if len(self.wave_scales) != len(self.waves):
                raise ValueError("wave_scales needs one entry per wave")
            if any(not 0 <= s < self.num_scales for scales in self.wave_scales for s in scales):
                raise ValueError(f"wave_scales must name scales 0-{self.num_scales - 1}")

    @property
    def phased_layout(self) -> bool:
        """Whether this is a lattice quilt whose finer scales are fed periodic channels at
        the phase each seed's quilt sets (`layout.lattice_phases`); its quilt then holds
        every wave, however short at the quilted level. Model files before session 26 feed
        none (their waves are at the quilt only) and keep their pixels."""
        return bool(self.layout_size and self.waves and any(s > 0 for scales in self.wave_scales for s in scales))

    def waves_at(self, scale: int) -> tuple[int, ...]:
        """Indices of the waves whose periodic channels the generator of `scale` is fed."""
        if not self.wave_scales:
            return tuple(range(len(self.waves))) if scale == 0 else ()
        return tuple(i for i, scales in enumerate(self.wave_scales) if scale in scales)

    def noise_spread(self, scale: int, drawing: bool = False) -> float:
        """The spread of the i.i.d. noise channels the generator of `scale` is fed: 1 at the
        coarsest, `fine_noise` at every finer scale as it trains, and that times
        `draw_noise` where the model draws (`drawing`: renders, refine fills)."""
        if scale == 0:
            return 1.0
        return self.fine_noise * self.draw_noise if drawing else self.fine_noise

    def periodic_channels(self, scale: int) -> int:
        """Periodic input channels (sin and cos of each wave) of the generator of `scale`."""
        return 2 * len(self.waves_at(scale))

    def factor(self, scale: int) -> int:
        """Size of one pixel of `scale` in finest pixels."""
        return 2 ** (self.num_scales - 1 - scale)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ModelConfig:
        raw = json.loads(text)
        return cls(
            image_channels=int(raw["image_channels"]),
            num_scales=int(raw["num_scales"]),
            channels=tuple(int(c) for c in raw["channels"]),
            layers=tuple(int(n) for n in raw["layers"]),
            noise_channels=int(raw["noise_channels"]),
            waves=tuple((float(a), float(b)) for a, b in raw["waves"]),
            wave_scales=tuple(tuple(int(s) for s in scales) for scales in raw.get("wave_scales", ())),
            layout_size=tuple(int(n) for n in raw.get("layout_size", ())),
            layout_transforms=tuple(str(name) for name in raw.get("layout_transforms", ())),
            layout_offset=tuple(float(v) for v in raw.get("layout_offset", ())),
            layout_train_offset=tuple(float(v) for v in raw.get("layout_train_offset", ())),
            layout_cell=int(raw.get("layout_cell", 16)),
            hint_channels=int(raw.get("hint_channels", 0)),
            fine_noise=float(raw.get("fine_noise", 1.0)),
            draw_noise=float(raw.get("draw_noise", 1.0)),
            layout_coherent=int(raw.get("layout_coherent", 0)),
            layout_feather=float(raw.get("layout_feather", 0.0)),
            residual_in_gamut=bool(raw.get("residual_in_gamut", False)),
            layout_variance_credit=float(raw.get("layout_variance_credit", 0.0)),
            colour_range=tuple((float(a), float(b)) for a, b in raw.get("colour_range", ())),
            layout_edge_seams=bool(raw.get("layout_edge_seams", False)),
            layout_aligned=bool(raw.get("layout_aligned", False)),
        )


@dataclass(frozen=True)
class TrainConfig:
    """How a fit runs. Defaults are tuned for 1-3 minutes on a 2-core CPU."""

    seed: int = 0
    steps: tuple[int, ...] = ()  # steps per scale, coarse to fine; empty = the two below
    coarse_steps: int = 1000  # the coarsest scale decides the layout and is cheap per step
    # each finer scale starts as the identity and adds detail. Finer scales were short of
    # steps, not of pixels per step: twice the steps took leaves and tomatoes to their
    # best scores yet, twice the coarsest scale's alone did nothing; half the batch costs
    # 0.55-0.6 of a step there, so 700 steps of 4 crops fit where 400 of 8 did
    # (gravel_gray VGG 2.93 -> 2.04, leaves 2.97 -> 2.42; benchmarks/RESULTS, session 12)
    fine_steps: int = 700
    # the finer scales of a fit train at least as many steps in all as this many finer
    # scales of `fine_steps` would: a fit with one finer scale (an exemplar quilted at 1/2,
    # nine of the bench's 16 since session 23) trains it for 2 x 700, as a 3-scale fit
    # trains its two; 1 (or 0) = `fine_steps` each, whatever their number.
    # Those fits take ~60 s instead of ~30 s. VGG ratio over three seeds
    # (benchmarks/RESULTS, session 24): gravel_gray 1.99 / 1.84 / 1.83 -> 1.49 / 1.49 /
    # 1.51 (crisp angular stones where they were soft and round), bricks 2.32 / 2.47 /
    # 2.54 -> 2.06 / 2.35 / 2.18, rust 1.30 / 1.34 / 1.27 -> 1.03 / 1.21 / 1.18, knots
    # 1.32 / 1.31 / 1.35 -> 1.26 / 1.29 / 1.26; hammered worse, 1.17 / 1.27 / 1.22 -> 1.35 /
    # 1.26 / 1.40 (SWD 1.34-1.40 -> 1.48-1.56), and knots' SWD 2.02-2.09 -> 2.14-2.29
    fine_budget_scales: int = 2
    # An exemplar under this many pixels (as fitted) is small (`is_small`): its finer
    # scales keep `fine_steps` instead of sharing out `fine_budget_scales`, and its quilt's
    # cells are `small_layout_cell` coarsest pixels instead of `layout.CELL` (16). Both
    # for one reason: a 96x48 level holds few blocks, and its finer critics see the same
    # few crops over and over. The bench's two 192x96 exemplars, over three seeds
    # (benchmarks/RESULTS, session 26): at 700 steps instead of 1400, hammered VGG ratio
    # 1.39 / 1.31 / 1.35 -> 1.14 / 1.20 / 1.33, SWD 1.60 / 1.41 / 1.47 -> 1.43 / 1.38 /
    # 1.43; knots SWD 1.69 / 1.88 / 1.89 -> 1.64 / 1.58 / 1.77, VGG 1.17 / 1.24 / 1.22 ->
    # 1.24 / 1.26 / 1.36; 35 s fits instead of 65-70 s. Then 12 px cells (large 22 px
    # blocks merge knots' holes into dark patches): SWD ratio hammered 1.43 / 1.38 / 1.43
    # -> 0.73 / 0.71 / 0.72, knots 1.64 / 1.58 / 1.77 -> 1.09 / 0.97 / 1.01; VGG ratio
    # hammered 1.14 / 1.20 / 1.33 -> 1.31 / 1.27 / 1.22, knots 1.24 / 1.26 / 1.36 -> 1.25 /
    # 1.30 / 1.37 (level). The bench's next smallest is 52,735 px (bricks, which gains
    # from the doubled budget). Session 26 records call this `fine_budget_min_px`.
    small_exemplar_px: int = 32768
    small_layout_cell: int = 12
    batch_size: int = 4
    # discriminator crop at the finer scales, in that scale's pixels. 48 instead of 64: a
    # finer-scale step costs ~0.7 as much and the bench's fits took 81-148 s instead of
    # 97-199 s, with the same quality over two seeds (VGG median 1.775 / 1.975 -> 1.805 /
    # 2.010, SWD median 1.145 / 1.315 -> 1.215 / 1.315) but for one collapse: diamond_plate's
    # seed-1 fit lost its ridges (its seeds 0, 2-4 are fine; benchmarks/RESULTS, session 15)
    crop_size: int = 48
    coarse_side: int = 40  # target short side of the coarsest scale of the exemplar
    wave_reach: str = "finer"  # which scales the periodic channels feed (WAVE_REACHES)
    # what draws the coarsest image (COARSE_LAYOUTS). "quilt" where it can (no lattice, no
    # damage): one fit each against the generator, VGG ratio knots 2.15 -> 1.32, cobbles
    # 2.39 -> 1.79, daisies 1.87 -> 1.55, gravel_gray 2.60 -> 2.20, cracked_paint 1.63 ->
    # 1.44, leaves 2.51 -> 2.18, hammered 1.32 -> 1.10, tomatoes 1.67 -> 1.59 (whole
    # tomatoes, closed cobble cells, knots), rust 1.67 -> 1.85; no coarsest GAN to train
    # (benchmarks/RESULTS, session 19)
    coarse_layout: str = "quilt"
    layout_side: int = 40  # target short side of a quilted coarsest level (`coarse_side` for a generator)
    # the quilted level is no coarser than where the exemplar's `layout.structure_period`
    # spans this many pixels (0 = `layout_side` alone). By `layout_side` alone a level of
    # ~40 px held 1-2 px stones for a photo of fine elements (rust's grain, gravel, a
    # 1024 px photo of cobbles, which came out as small round cells). Over three seeds
    # (benchmarks/RESULTS, session 23), VGG ratio: at 8 px, rust 1.68 / 1.66 / 1.53 ->
    # 1.30 / 1.34 / 1.27 (below its 16 px block shuffle for the first time), wicker and the
    # diamond plate better, gravel_gray's SWD ratio 1.06-1.45 -> 1.52-1.63; at 12 px
    # (seven more textures one level finer) bricks 2.50 / 2.76 / 2.71 -> 2.32 / 2.47 /
    # 2.54, gravel_gray 2.03-2.37 -> 1.83-1.99 (SWD 1.07-1.24), daisies 1.45-1.46 ->
    # 1.23-1.37, wicker 1.19-1.30; bench VGG median 1.42-1.45 -> 1.30-1.36, SWD median
    # 1.12-1.21 -> 1.00-1.04; those fits ~30 s instead of 60-85 s
    layout_element_px: float = 12.0
    # the quilt drawn this many scales finer than `layout_side` (and the structure rule
    # above) would put it, with cells as many times 2x wider (`layout.quilt_plan`): each
    # block covers the same part of the exemplar, with more of its own pixels, and one
    # scale fewer is a GAN's to draw. Off: at 1, fitted on the H200 over three seeds
    # (benchmarks/RESULTS, session 27), VGG ratio tomatoes 1.25 / 1.38 / 1.26 -> 1.21 /
    # 1.25 / 1.22 (rounder, whole), leaves 1.98 / 1.88 / 1.99 -> 1.86 / 1.92 / 1.96 (SWD
    # 1.32-1.36 -> 0.86-0.96), cobbles 1.68 / 1.62 / 1.70 -> 1.60 / 1.67 / 1.60 but with
    # more open joints by eye; the two lattices worse, lego 1.64 / 1.59 / 1.55 -> 1.60 /
    # 1.79 / 1.85, parquet 1.17 / 1.34 / 1.26 -> 1.49 / 1.45 / 1.45 (planks broken)
    layout_finer: int = 0
    # `layout_finer` where a lattice wave lays the quilt's cells there (`layout.lays_cells`;
    # with `quilt_aligned`): the finer quilt's fault above was cuts through elements, which
    # cells laid along a course no longer make. Lego (quilted at 1/2 with cells of 32
    # instead of 1/4 with 16; fitted at seeds 0 / 1 / 2, benchmarks/RESULTS, session 41):
    # spectral ratio 2.04 / 2.16 / 2.23 -> 1.87 / 1.90 / 1.89, VGG ratio 1.21 / 1.37 / 1.35
    # -> 1.21 / 1.25 / 1.26, patch SWD 1.18 / 1.19 / 1.24 -> 1.08 / 1.07 / 1.10, its studs
    # crisp where they were smeared. No other bench exemplar has such a wave
    layout_course_finer: int = 2
    # a quilt that would leave more than this many finer (GAN) scales above it is drawn as
    # many scales finer as `layout_finer` would (cells as many times 2x wider, a block
    # covering the same part of the exemplar; `layout.quilt_plan`); 0 = no such limit.
    # It binds where `layout_side` alone puts the quilt 1/8 or coarser: on the bench,
    # leaves and parquet (4 -> 3 scales); cobbles, tomatoes (3 scales) keep theirs, where
    # one GAN scale over a 1/2 quilt left its cuts straight and plain (session 27). Seeds
    # 0 / 1 / 2 (benchmarks/RESULTS, session 49): leaves VGG ratio 1.73 / 1.75 / 1.72 ->
    # 1.70 / 1.72 / 1.77, patch SWD 1.24 / 1.22 / 1.25 -> 0.88 / 0.87 / 0.88; parquet
    # herringbone planks where it wove a basket, VGG 1.12 / 1.12 / 1.10 -> 1.25 / 1.30 /
    # 1.30 (its grain flecked), SWD 0.95 / 0.94 / 0.92 -> 0.89 / 0.90 / 0.91; seed-0 fits
    # on one host, back to back: leaves 203 -> 125 s, parquet 153 -> 117 s; a photo of
    # tissue (not on the bench) VGG 1.43 -> 1.29, SWD 0.93 -> 0.73, fit 176 -> 135 s
    quilt_finer_scales: int = 2
    # quilt blocks also flipped or turned where the exemplar has that symmetry
    # (`ModelConfig.layout_transforms`), so a distinctive element recurs less alike
    layout_flips: bool = False
    # the quilt's expected colour made the level's (`layout.quilt_offset`, recorded in
    # `ModelConfig.layout_offset`): random blocks show a small level's middle more often
    # than its edges, and the best-fitting candidates are the blander ones, so a quilt of
    # knots came out 0.04 darker than its level and lego's 0.09 redder. Over three seeds
    # (benchmarks/RESULTS, session 25): VGG ratio median 1.285 / 1.285 / 1.365 -> 1.325 /
    # 1.280 / 1.290 (level within seed noise), knots' SWD 2.14 / 2.29 / 2.17 -> 1.69 /
    # 1.88 / 1.89, SWD max 2.14-2.29 -> 2.00-2.14 (bricks); lego worse, 1.48 / 1.48 /
    # 1.53 -> 1.65 / 1.50 / 1.60: its quilt's error is in proportions (more yellow bands),
    # and the offset shifts every colour
    quilt_offset: bool = True
    # a lattice quilt's finer scales fed periodic channels at the phase each seed's quilt
    # sets its lattice (`ModelConfig.phased_layout`), and every wave holding its blocks.
    # Lego's studs (2 px a period where it is quilted) then stand in rows where its bricks
    # are, but its flat bricks get vertical streaks; over seeds 0 / 1 (benchmarks/RESULTS,
    # session 26), VGG ratio lego 1.65 / 1.50 -> 1.66 / 1.54 (spectral 2.35 / 2.30 -> 2.74
    # / 2.49), parquet 1.31 / 1.21 -> 1.42 / 1.44, bricks, brick_gray, wicker and the
    # diamond plate within seed noise. The finer critics then also see the channels (real
    # crops with the exemplar's own phase): lego less streaky, spectral 2.49 / 2.45, but
    # VGG lego 1.74 / 1.68, parquet 1.35 / 1.46: off
    layout_channels: bool = False
    # 3x3 convs of every finer scale's generator; 0 = `fine_depth`'s choice (deeper under
    # a quilted coarsest scale)
    fine_layers: int = 0
    # real crops also flipped or turned where the exemplar has that symmetry (`symmetry`).
    # Off: one fit each, cobbles lost their closed cells (VGG 2.58 -> 3.73), gravel_gray,
    # cracked_paint and leaves were a little worse, only tomatoes better (1.77 -> 1.64)
    # (benchmarks/RESULTS, session 13)
    augment: bool = False
    max_side: int = 1024  # exemplars larger than this are downscaled before fitting
    # a lattice photographed at an angle (its spacing and direction changing across the
    # photo the way a plane's do) is resampled square on before the fit (`perspective`):
    # brick_gray's quilt jogged at every block border, one lattice could not hold it
    rectify: bool = True
    lr_g: float = 5e-4
    lr_d: float = 5e-4
    # the finer critics' width. At 32 the bench's fits took 16-28 % less time (leaves 157
    # -> 125 s) but VGG median 1.25 -> 1.30 (lego 1.25 -> 1.50, daisies 1.13 -> 1.30); 40
    # costs what 48 does (the CPU's kernels work in blocks of 16 channels; RESULTS, session 34)
    disc_channels: int = 48
    disc_layers: int = 0  # the same for every finer scale's critic
    coarse_disc_layers: int = 5  # the coarsest scale's critics
    # R1 gradient penalty on real crops at every finer scale (critic regulariser). 0.1, as
    # the coarsest critics have, tried over three seeds (benchmarks/RESULTS, session 31),
    # VGG ratio 1 -> 0.1: lego 1.37 / 1.39 / 1.31 -> 1.22 / 1.28 / 1.31 (spectral 2.10 /
    # 2.02 / 2.03 -> 1.92 / 1.81 / 2.04), but cobbles 1.49 / 1.48 / 1.53 -> 1.56 / 1.61 /
    # 1.58 (SWD 1.46 -> 1.56 at seed 2, over the bar); seed-0 bench median 1.25 -> 1.22. Kept at 1
    r1_gamma: float = 1.0
    # the coarsest scale's critics are held far less: with gamma 1 they could not tell a
    # cobble's broken mortar strokes from closed cells (benchmarks/README, session 8)
    coarse_r1_gamma: float = 0.1
    r1_interval: int = 4  # apply R1 every this many steps (lazy regularisation)
    consistency_weight: float = 1.0  # a fine scale's 2x2 average stays on its coarser input
    # ... and each crop's mean of that difference, per channel, stays at 0 (`train.mean_drift`):
    # the absolute difference above is least at its median, so a scale whose errors lean one
    # way (knots' sharpened holes darker, few and deep) drifts the whole image's colour.
    # Knots' finest scale took 0.033 off its quilt's brightness, hammered's 0.015; at 1,
    # 0.003 and 0.001, knots' patch SWD ratio 1.97 / 1.77 / 1.93 -> 1.57 / 1.57 / 1.58, but
    # rust's 0.98-1.00 -> 1.17-1.18 and its VGG ratio 1.01 -> 1.38 at seed 1 (a finer
    # hatching), gravel_gray's and lego's VGG worse at every seed, the bench's SWD median
    # 1.12 / 1.07 / 1.16 -> 1.17 / 1.18 / 1.19. Off until a weight helps without that
    # (0.2: benchmarks/RESULTS, session 46)
    drift_weight: float = 0.0
    # as each finer scale's fit ends, the mean its residual adds (per channel, measured on
    # renders of the exemplar's extent, `train.residual_mean`, their quilts drawn as the
    # finer scales train on them, `train.centring_view`) is
    # taken off its last conv's bias (`train.centre_residual`): its output keeps its
    # input's colour, as the exemplar's own levels do (a 2x2 box average of one is the
    # next coarser), and the next finer scale trains on it so. Every other weight is left
    # as trained. The seed-0 bench's samples (6 draws at twice the exemplar's extent) came
    # within 0.009 of their exemplar's mean colour (in [0, 1]), most within 0.003, where
    # they were up to 0.019 off (knots 0.018 darker, hammered 0.011, tomatoes 0.010, lego's
    # blue 0.012 low); their structure is unchanged (the patch SWD ratio with mean colours
    # matched moved by 0.04 at most). The plain ratio against held-out halves that have
    # their own colour moves with it both ways (benchmarks/RESULTS, session 47). Measured
    # on the quilts the model draws instead (session 47), the seed-0 bench's figures were
    # the same to 0.02, but a fit's weights then depended on draw-only options (session 48)
    centre_residual: bool = True
    # patch sliced-Wasserstein loss against the exemplar, at every finer scale. 0.5 since
    # session 53; at 1.0 (every fit before) the quilted bench (benchmarks/RESULTS, session
    # 52) was level in sum over three seeds (45 VGG ratios 61.21 -> 61.30 at 0.5) while
    # its VGG median went under 1.3 at all three (1.310 / 1.267 / 1.301 -> 1.263 / 1.298 /
    # 1.273): held less to 7x7 patch statistics, the finer scales keep more of the
    # objects the layout gives them (parquet -0.20 summed over the seeds, leaves -0.15,
    # daisies -0.11), and rust's grain (+0.36, 1.05 -> 1.35 at seed 1) and gravel_gray's
    # (+0.13) lose; by eye rust and gravel drew the same quilts and looked alike
    swd_weight: float = 0.5
    # the coarsest scale's patch SWD weight, where it is a generator (a damaged
    # exemplar's self-fit in refine, `coarse_layout="generator"`): that scale draws the
    # whole layout from noise and was never measured below 1.0
    coarse_swd_weight: float = 1.0
    # log power spectrum of generated crops vs the exemplar's. The spectrum is blind to
    # phase and most of its bins lie near Nyquist, so a scale can meet a strong spectral
    # loss with pixel noise where cells and objects should be: 0.25 (with the saturation
    # guard below) drew closed cobble cells and whole tomatoes, and moved the VGG
    # object-scale median over the bench from 2.05 to 1.85 (session 11, benchmarks/RESULTS)
    spectral_weight: float = 0.25
    coarse_spectral_weight: float = 0.25  # the spectral weight at the coarsest scale
    # the spectral weight starts at max(weight, 1) and falls linearly to the scale's weight
    # over this fraction of its steps (`train.spectral_weight_at`); 0.2 kept hammered from
    # collapsing at weight 0.25 but lost most of that weight's gains (session 10)
    spectral_warmup: float = 0.0
    # keeps the coarsest image's pre-tanh values within +-4 (`train.saturation_loss`): a
    # saturated tanh is a flat image with no gradient back (hammered's coarsest scale
    # collapsed so at spectral weight 0.25 without it, session 10); zero while tanh can move
    saturation_weight: float = 1.0
    # a penalty on generated pixels whose colour the exemplar's level at that scale does
    # not have (`palette.support_loss`): the critic and the patch losses barely see a few
    # per cent of blended or overshot pixels between an exemplar's distinct colours. On
    # lego (one fit each) the false-colour share went 0.0029-0.0041 -> 0.0014 at 100,
    # 0.0005 at 300, 0.0003 at 1000; at 1000 every bench output is <= 0.00028 in two
    # seeds, with no measurable step time (benchmarks/RESULTS, session 14). Since the
    # quilt (session 19) the layout is the exemplar's own colours, and 1000 cost more than
    # it saved: at 100, VGG ratio at seeds 0 / 2 (benchmarks/RESULTS, session 27) lego
    # 1.65 / 1.55 -> 1.46 / 1.40 (studs on more bricks, less fur), parquet 1.31 -> 1.08,
    # daisies 1.34 / 1.27 -> 1.14 / 1.15, hammered 1.31 / 1.18 -> 1.12 / 1.13, rust 1.18
    # -> 1.01, leaves 1.93 / 1.99 -> 1.80 / 1.86, knots 1.41 -> 1.25 at seed 2; gravel_gray
    # worse, 1.53 / 1.52 -> 1.62 / 1.60; false colour <= 0.00034 (lego)
    palette_weight: float = 100.0
    # `ModelConfig.fine_noise` of a new fit: the finer scales' noise channels at a tenth
    # of the spread. At 1 (every fit before session 28) lego's finer scales drew fur on its
    # flat plastic and studs on the yellow bricks only; at 0.1 blue and white bricks have
    # studs. VGG ratio, 1 -> 0.1 (benchmarks/RESULTS, session 28), seed 0 / 1: lego 1.46 /
    # 1.49 -> 1.29 / 1.38 (spectral 2.31 / 2.33 -> 2.06 / 1.92), cobbles 1.74 / 1.62 ->
    # 1.48 / 1.55, tomatoes 1.33 / 1.31 -> 1.26 / 1.29; median of the 15 at seed 0 1.25 ->
    # 1.23; worse by <= 0.05 on bricks, daisies, rust, hammered at seed 0. Outputs differ by
    # seed as much as before: the quilt and the coarsest scale carry the variety
    fine_noise: float = 0.1
    # whether a new fit ends by picking `ModelConfig.draw_noise` (`train.pick_draw_noise`):
    # renders of the exemplar's extent at `DRAW_NOISE_CHOICES` times `fine_noise`, and the
    # multiple whose spectrum is nearest the exemplar's when it beats 1 by a clear margin.
    # Refine's self-fits keep 1 (their exemplar's holes are filled smooth). On the bench
    # only lego moves, to 0.75 at seeds 0-2 (benchmarks/RESULTS, session 43): spectral
    # ratio 1.88 / 1.89 / 1.96 -> 1.55 / 1.55 / 1.61, VGG 1.41 / 1.49 / 1.45 -> 1.37 / 1.44 /
    # 1.41 (24-draw means: spectral 1.81 / 1.78 / 1.86 -> 1.47 / 1.43 / 1.49); the rest are unchanged
    draw_noise_pick: bool = True
    # `ModelConfig.layout_coherent` of a new fit quilted without a lattice: each white
    # cell's last `quilt_coherent` of 16 candidates continue its neighbours' blocks (judged
    # on the three edges they do not continue), so bands and stones can run on across a
    # block's edge. Off: at 4, seed 0 (benchmarks/RESULTS, session 30), VGG ratio leaves
    # 1.70 -> 1.23, gravel_gray 1.62 -> 1.45, rust 1.18 -> 1.13, tomatoes 1.28 -> 1.20,
    # cobbles 1.49 -> 1.55; but at seed 1 rust 1.12 -> 1.16, gravel_gray 1.52 -> 1.50,
    # cobbles 1.48 -> 1.60. Lattice quilts never take them (their blocks are placed in step
    # already; parquet lost, 1.08 -> 1.21)
    quilt_coherent: int = 0
    # `ModelConfig.layout_feather` of a new quilted fit: the pixel after each quilt cut
    # takes this share of the block across it, as a box-averaged edge would
    # (`layout.Quilt._feathered`). A quilt with hard cuts held more power at periods of
    # 2-8 of its pixels than its level on all 14 bench textures (lego +0.48 log10, wicker
    # +0.15); at 0.5, +0.30 and +0.06. Fitted (benchmarks/RESULTS, session 33), VGG ratio
    # seed 0: rust 1.18 -> 1.01, gravel_gray 1.62 -> 1.50, leaves 1.70 -> 1.64, hammered
    # 1.19 -> 1.32, median 1.22 -> 1.25, mean 1.335 -> 1.314; seed 1 (six textures) level
    # (8.44 -> 8.54 in all); lego's spectral ratio 2.41 -> 2.33
    quilt_feather: float = 0.5
    # `ModelConfig.residual_in_gamut` of a new fit: each finer scale's residual is scaled
    # per pixel so that no channel leaves [-1, 1] (`model.in_gamut`). Without it the
    # finest scale drew pool caustics' cusps past the exemplar's brightest colour and the
    # clamp at the end cut green and blue but not red: white cusps (false colour 0.00065
    # -> 0.00004, seed 0). On the bench, level: VGG ratio summed over 15 textures x 3
    # seeds 59.95 -> 60.04, medians 1.250 / 1.254 / 1.248 -> 1.198 / 1.259 / 1.200; knots
    # and lego better at every seed, cracked_paint worse at every seed (benchmarks/RESULTS,
    # session 36). Off since session 37: it broke the procedural honeycombs, whose dark
    # cells and pale walls sit at an edge of the range in one channel, so every residual
    # that deepens them is cut in all channels: VGG ratio 1.13 -> 1.60 (false colour
    # 0.00006 -> 0.00102), and seed 7's dark cells went, 1.51 -> 6.42
    residual_in_gamut: bool = False
    # whether a new fit records the exemplar's range per channel (`ModelConfig.colour_range`),
    # within which each finer scale's output is held as it trains and draws. Without it
    # the finest scale drew pool caustics' brightest cusps past every colour the exemplar
    # has in all three channels (red 0.65 where the exemplar's red stops at 0.50): the
    # false colours were overshoots beyond the exemplar, not cuts at the edge of [-1, 1].
    # Caustics' false colour 0.00059 / 0.00083 -> 0 / 0 (seeds 0 / 1), its VGG ratio 2.05 /
    # 2.27 -> 1.95 / 2.00; the bench level (30 VGG ratios 39.63 -> 39.85; spectral sums
    # lower at both seeds), rust worse at both (2.33 -> 2.45), knots better at both (2.52
    # -> 2.40); the honeycombs keep their dark cells (benchmarks/RESULTS, session 38)
    colour_range: bool = True
    # `ModelConfig.layout_edge_seams` of a new quilted fit: each quilt cut weighed by the two
    # blocks' own colour steps (`layout.seam_costs`), so that it runs along a joint or an
    # outline rather than across a flat place where the blocks disagree. Fitted at seeds 0
    # / 1 (benchmarks/RESULTS, session 39), VGG ratio over the 15 textures summed 19.96 /
    # 19.89 -> 19.55 / 19.78, median 1.24 / 1.28 -> 1.21 / 1.23; rust 1.25 / 1.20 -> 1.07 /
    # 1.05, leaves 1.69 / 1.72 -> 1.65 / 1.63, tomatoes 1.23 / 1.29 -> 1.20 / 1.21, pool
    # caustics' lines longer (1.95 / 2.00 -> 1.80 / 1.94); worse: hammered at seed 0 (1.16
    # -> 1.37), parquet at seed 1 (1.07 -> 1.20). Bricks' patch SWD 2.00 / 2.04 -> 1.83 /
    # 1.90, copy fraction max 0.05 -> 0. Seed 2: 20.02 -> 19.92, parquet worse again (1.10
    # -> 1.16); rust, tomatoes, leaves and caustics better at all three seeds
    quilt_edge_seams: bool = True
    # `ModelConfig.layout_aligned` of a new lattice-quilted fit: where it draws, its quilt's
    # cells are laid along a wave that runs nearly along an axis and is longer than a
    # block, their edges where the exemplar's rows agree best (`layout.aligned_axes`); its
    # finer scales train on square cells as before (`train.training_quilt_options`), so
    # the fit itself is unchanged. Lego, the bench's one such lattice (yellow rows 24.7 px
    # apart at its quilted level), drawn from the same fits at seeds 0 / 1 / 2: spectral
    # ratio 2.33 / 2.46 / 2.49 -> 2.04 / 2.16 / 2.23, VGG ratio 1.20 / 1.38 / 1.32 -> 1.21
    # / 1.37 / 1.35, patch SWD 1.13 / 1.12 / 1.16 -> 1.18 / 1.19 / 1.24; by eye its yellow
    # rows run straight and unbroken and no brick is two bricks' halves (benchmarks/RESULTS,
    # session 41)
    quilt_aligned: bool = True
    # `ModelConfig.layout_variance_credit` of a new quilted fit whose quilts by agreement
    # alone are blander than its level (`train.variance_credit`): where it draws, a white
    # quilt cell's candidate's cost is its squared difference from its neighbours over the
    # margins less this share of its own variance there (its finer scales still train on
    # quilts by agreement alone). At 0 the flattest of 16 blocks tends to win; at 1 the
    # busiest (rust's calm grey went). Seed-1 models, VGG ratio at 0 / 0.25 / 0.5 / 1
    # (benchmarks/RESULTS, session 37): grass 1.56 / 1.47 / 1.38 / 1.19, gravel_gray
    # 1.55 / 1.42 / 1.39 / 1.19, cobbles 1.47 / 1.46 / 1.37 / 1.53, rust 1.08 / 1.11 /
    # 1.15 / 1.33, cracked_paint 1.39 / 1.36 / 1.42 / 1.54
    quilt_variance_credit: float = 0.5
    # the coarsest scale has none: there it collapsed lego to one flat orange (all scales
    # at 300), and 10 beside 300 at the finer ones did not help (session 14)
    coarse_palette_weight: float = 0.0
    # how often a finer scale is fed the real coarser exemplar (with the real crop it is the
    # downsampling of) instead of what the coarser scales draw. Under a quilt, over three
    # seeds at 0 (benchmarks/RESULTS, session 51), VGG ratio gravel_gray 1.39 / 1.32 / 1.36
    # -> 1.30 / 1.27 / 1.22, leaves and knots better, but rust 1.10 / 1.05 / 1.14 -> 1.27 /
    # 1.38 / 1.16 and cobbles worse: level over the bench (summed 61.21 -> 61.29). At 0.5
    # (seed 0) gravel_gray's stones went soft (1.68; 1.71 with `sr_weight` 1)
    real_coarse_prob: float = 0.2
    # on those steps, L1 between the output and the real exemplar crop it should become
    # (exact pairs: the coarse crop is the box average of that fine crop): super-resolution
    sr_weight: float = 0.0
    # a quilted fit's finer scales are fed the exemplar's detail orientation where the quilt
    # took each block from (`ModelConfig.hint_channels`, `layout.detail_hints`), and its real
    # (coarse, fine) pairs the exemplar's own, when the quilt is at most `hint_factor`
    # finest pixels a pixel (0 = at any level). Quilted at 1/2 (a hint is 2x2 finest pixels),
    # the 9 bench textures so fitted sum 1.49 lower VGG ratios over three seeds (-0.42 /
    # -0.54 / -0.53; gravel_gray, knots, lego, rust better, none worse by more than 0.03 a
    # seed). At 1/4 (4x4 pixels a hint, blurred as session 55's blurred hints that helped
    # less) leaves gains much and cobbles, parquet and tomatoes lose, fed at either finer
    # scale or both, and so they do with 2x2 hints of 2x2 px in each quilt pixel
    # (benchmarks/RESULTS, sessions 56-58)
    detail_hints: bool = True
    hint_factor: int = 2
    coarse_critics: int = 2  # critics at the coarsest scale: the image, its 2x, 4x ... downsampling
    # critics at every finer scale: with 2, one also judges the crop 2x downsampled, so it
    # sees objects twice as large as one 5-layer critic's 11 px field (issue 14)
    fine_critics: int = 1
    # a generator step's gradient norm is held to this multiple of its running mean
    # (`train.clip_gradient`; 0 = off): palette-loss spikes wrecked converged scales
    # (diamond_plate's seed-1 fit). Whole bench, two seeds: VGG median 1.805 / 2.010 ->
    # 1.775 / 1.825, no collapse; lego a little worse (benchmarks/RESULTS, session 16)
    grad_clip: float = 4.0
    # the coarsest generator also redraws the exemplar's coarsest level from one fixed noise
    # field (squared error; `train.reconstruction_cond`), as SinGAN's coarsest scale does.
    # Off: at 1 or 10 it did not help lego's coarsest scale (benchmarks/README, session 17)
    coarse_rec_weight: float = 0.0
    ema_half_life: float = 0.05  # generator weights averaged with this half-life (fraction of a scale's steps; 0 = off)
    # how fresh weights are drawn (`model.init_weights`): "kaiming" keeps the activations'
    # spread through every layer; "uniform", PyTorch's default, shrank it ~2.4x a layer.
    # Whole bench, three seeds: VGG median 1.775 / 1.825 / 1.785 -> 1.705 / 1.625 / 1.780,
    # SWD median 1.220 / 1.205 / 1.090 -> 1.185 / 1.110 / 1.140; bricks' courses straighter,
    # tomatoes rounder, daisies fewer (benchmarks/RESULTS, session 17)
    init: str = "kaiming"
    precision: str = "auto"  # "auto" (bf16 where the device runs it natively), "bf16", "fp32"

    def __post_init__(self) -> None:
        check_precision(self.precision)
        check_coarse_layout(self.coarse_layout)
        check_wave_reach(self.wave_reach)
        check_init(self.init)
        positive = (
            "coarse_steps",
            "fine_steps",
            "batch_size",
            "coarse_side",
            "layout_side",
            "max_side",
            "disc_channels",
        )
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if any(n < 1 for n in self.steps):
            raise ValueError(f"steps must all be at least 1, got {self.steps}")
        if self.crop_size < 8:
            raise ValueError(f"crop_size must be at least 8, got {self.crop_size}")
        for name in ("coarse_critics", "fine_critics"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.coarse_disc_layers < 2:
            raise ValueError(f"coarse_disc_layers must be at least 2, got {self.coarse_disc_layers}")
        for name in ("disc_layers", "fine_layers"):
            if getattr(self, name) == 1 or getattr(self, name) < 0:
                raise ValueError(f"{name} must be 0 (automatic) or at least 2, got {getattr(self, name)}")
        if self.r1_interval < 0:
            raise ValueError(f"r1_interval must be 0 (no R1 penalty) or more, got {self.r1_interval}")
        if not 0.0 <= self.spectral_warmup <= 1.0:
            raise ValueError(f"spectral_warmup must be between 0 and 1, got {self.spectral_warmup}")
        if not 0.0 <= self.real_coarse_prob <= 1.0:
            raise ValueError(f"real_coarse_prob must be between 0 and 1, got {self.real_coarse_prob}")
        rates = ("lr_g", "lr_d")
        weights = (
            "r1_gamma",
            "coarse_r1_gamma",
            "consistency_weight",
            "drift_weight",
            "swd_weight",
            "coarse_swd_weight",
            "spectral_weight",
            "coarse_spectral_weight",
            "sr_weight",
            "saturation_weight",
            "palette_weight",
            "coarse_palette_weight",
            "ema_half_life",
            "grad_clip",
            "coarse_rec_weight",
            "layout_element_px",
            "fine_budget_scales",
            "small_exemplar_px",
        )
        if not 0 <= self.quilt_coherent <= 4:
            raise ValueError(f"quilt_coherent must be 0-4, got {self.quilt_coherent}")
        if not 0.0 <= self.quilt_variance_credit <= 1.0:
            raise ValueError(f"quilt_variance_credit must be 0-1, got {self.quilt_variance_credit}")
        if not 0.0 <= self.quilt_feather <= 1.0:
            raise ValueError(f"quilt_feather must be 0-1, got {self.quilt_feather}")
        if self.layout_finer < 0:
            raise ValueError(f"layout_finer must be 0 or more, got {self.layout_finer}")
        if self.hint_factor < 0:
            raise ValueError(f"hint_factor must be 0 (any quilt level) or more, got {self.hint_factor}")
        if self.quilt_finer_scales < 0:
            raise ValueError(f"quilt_finer_scales must be 0 or more, got {self.quilt_finer_scales}")
        if self.layout_course_finer < 0:
            raise ValueError(f"layout_course_finer must be 0 or more, got {self.layout_course_finer}")
        if self.small_layout_cell < 4:
            raise ValueError(f"small_layout_cell must be at least 4, got {self.small_layout_cell}")
        for name in rates:
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        for name in weights:
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be 0 or more, got {getattr(self, name)}")

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    def is_small(self, pixels: int) -> bool:
        """Whether an exemplar of `pixels` pixels (as fitted) is small (`small_exemplar_px`)."""
        return pixels < self.small_exemplar_px

    def scale_steps(self, num_scales: int, pixels: int) -> tuple[int, ...]:
        """Training steps per scale, coarse to fine, for an exemplar of `pixels` pixels (as
        fitted): `steps` when given, else `coarse_steps` and, at each finer scale,
        `fine_steps` or (unless the exemplar `is_small`) its share of
        `fine_budget_scales` x `fine_steps`, whichever is more."""
        if self.steps:
            return self.steps
        fine = self.fine_steps
        if num_scales > 1 and self.fine_budget_scales > 1 and not self.is_small(pixels):
            fine = max(fine, -(-self.fine_steps * self.fine_budget_scales // (num_scales - 1)))
        return (self.coarse_steps,) + (fine,) * (num_scales - 1)

    @classmethod
    def from_json(cls, text: str) -> TrainConfig:
        raw = json.loads(text)
        if "fine_budget_min_px" in raw:  # session 26's name for small_exemplar_px
            raw.setdefault("small_exemplar_px", raw.pop("fine_budget_min_px"))
        names = {f.name for f in dataclasses.fields(cls)}
        # a record written before a field existed ran as if it had the old behaviour
        before = {
            "fine_layers": 5,
            "disc_layers": 5,
            "coarse_critics": 1,
            "fine_critics": 1,
            "ema_half_life": 0.0,
            "sr_weight": 0.0,
            "detail_hints": False,
            "hint_factor": 0,  # a hinted fit's hints at any quilt level
            "drift_weight": 0.0,
            "centre_residual": False,  # residuals' means left as trained
            "spectral_warmup": 0.0,
            "saturation_weight": 0.0,
            "spectral_weight": 0.0,  # fits before the spectral loss had none
            "wave_reach": "coarsest",
            "augment": False,
            "palette_weight": 0.0,
            "coarse_palette_weight": 0.0,
            "grad_clip": 0.0,
            "coarse_rec_weight": 0.0,
            "init": "uniform",
            "coarse_layout": "generator",
            "layout_element_px": 0.0,  # the quilted level by layout_side alone
            "fine_budget_scales": 1,  # fine_steps at every finer scale
            "small_exemplar_px": 0,  # none small: the budget at any size
            "small_layout_cell": 16,  # layout.CELL at any size
            "layout_finer": 0,  # the quilt where layout_side and the structure put it
            "layout_course_finer": 0,  # and where a course lays its cells too
            "quilt_finer_scales": 0,  # however many finer scales that leaves
            "quilt_offset": False,
            "rectify": False,  # fitted as photographed
            "layout_channels": False,
            "fine_noise": 1.0,  # the finer scales' noise at the coarsest's spread
            "draw_noise_pick": False,  # drawn at the spread trained
            "quilt_coherent": 0,  # every quilt candidate a random place
            "quilt_feather": 0.0,  # hard quilt cuts
            "residual_in_gamut": False,  # residuals cut channel by channel at the end
            "quilt_variance_credit": 0.0,  # quilt candidates judged by agreement alone
            "colour_range": False,  # held within [-1, 1] at the end only
            "quilt_edge_seams": False,  # quilt cuts by squared difference alone
            "quilt_aligned": False,  # square quilt cells of layout_cell
        }
        before["coarse_r1_gamma"] = raw.get("r1_gamma", cls.r1_gamma)
        before["coarse_spectral_weight"] = raw.get("spectral_weight", 0.0)
        before["swd_weight"] = 1.0  # every record has one; 1.0 before session 53
        before["coarse_swd_weight"] = raw.get("swd_weight", 1.0)  # one weight for every scale
        before["coarse_disc_layers"] = raw.get("disc_layers", 5)  # one depth for every critic
        values = {**before, **{k: v for k, v in raw.items() if k in names}}
        values["steps"] = tuple(int(n) for n in values.get("steps", ()))
        return cls(**values)


# a periodicity keeps the quilt away (random blocks would break its lattice) only when
# its spectral peak stands this far above the median power at its radius; `find_waves`
# finds peaks from 40. Bark's grain spacing (40-80) was the one such wave on the bench:
# quilted without it, VGG ratio 1.14 / 1.13 / 1.31 -> 1.04 / 1.05 / 1.08 (seeds 0-2, its
# shuffle 1.17), fits ~60 s instead of 80-100 s; every other bench lattice is above 150
# and a ribbed test image's stripes far above 1000 (benchmarks/RESULTS, session 21).
# Two non-parallel waves are a 2D lattice whatever their height (`train.waves_for`)
LATTICE_PROMINENCE = 80.0

FINE_LAYERS = 5  # a finer scale's generator and critic depth under a coarsest generator
# ... and under a quilted coarsest scale, whose finer scales redraw a real layout: there
# fields of 15 px instead of 11 px (generator and critic) drew sharper stones and leaf
# outlines, VGG ratio better on 8 of 9 textures (median 1.65 -> 1.46, seed 0), in fits
# 4-19 s longer. Under a coarsest generator (lattices) they did not help: bricks 2.43 ->
# 2.69, lego 2.26 -> 2.36, bark and brick_gray level, fits 15-20 s longer
# (benchmarks/RESULTS, session 20)
QUILT_FINE_LAYERS = 7


def fine_depth(layers: int, quilted: bool) -> int:
    """Conv layers of a finer scale's generator or critic: `layers`, or where that is 0,
    the default for a pyramid whose coarsest scale is (`quilted`) or is not a quilt."""
    return layers or (QUILT_FINE_LAYERS if quilted else FINE_LAYERS)


def num_scales_for(short_side: int, coarse_side: int) -> int:
    """Number of 2x scales so that the coarsest short side is about `coarse_side`."""
    if short_side <= coarse_side:
        return 1
    n = 1 + round(math.log2(short_side / coarse_side))
    while n > 1 and short_side // 2 ** (n - 1) < MIN_COARSE_SIDE:
        n -= 1
    return max(n, 1)


def wave_entry(wave: tuple[float, float], num_scales: int) -> int:
    """The coarsest scale at which `wave` (cycles per finest pixel) spans `MIN_WAVE_PERIOD`
    of that scale's pixels (the finest scale when none does)."""
    period = 1.0 / max(math.hypot(*wave), 1e-12)
    for scale in range(num_scales):
        if period / 2 ** (num_scales - 1 - scale) >= MIN_WAVE_PERIOD:
            return scale
    return num_scales - 1


def wave_scales_for(waves, num_scales: int, reach: str) -> tuple[tuple[int, ...], ...]:
    """Per wave, the scales fed its periodic channels (`WAVE_REACHES` says how)."""
    check_wave_reach(reach)
    out = []
    for wave in waves:
        entry = 0 if reach == "coarsest" else wave_entry(wave, num_scales)
        out.append(tuple(range(entry, num_scales)) if reach == "finer" else (entry,))
    return tuple(out)


def layout_wave_scales(waves, num_scales: int) -> tuple[tuple[int, ...], ...]:
    """Per wave of a lattice quilt, the finer scales fed its periodic channels: from where
    it spans `MIN_WAVE_PERIOD` pixels (`wave_entry`), never the quilt itself (scale 0)."""
    return tuple(tuple(range(max(1, wave_entry(wave, num_scales)), num_scales)) for wave in waves)


def default_model_config(
    image_channels: int,
    short_side: int,
    coarse_side: int = 40,
    waves=(),
    wave_reach: str = "finer",
    layout_size: tuple[int, ...] = (),
    num_scales: int | None = None,
    fine_layers: int = FINE_LAYERS,
) -> ModelConfig:
    """The default architecture for an exemplar: wide and deep at the coarse scale, where
    pixels are cheap and layout is decided; narrow at the fine scales, where they are not.
    `num_scales` overrides the count that `coarse_side` implies."""
    n = num_scales or num_scales_for(short_side, coarse_side)
    channels = tuple([64] + [48] + [32] * max(0, n - 2))[:n]
    layers = tuple([7] + [fine_layers] * (n - 1))
    return ModelConfig(
        image_channels=image_channels,
        num_scales=n,
        channels=channels,
        layers=layers,
        waves=tuple(waves),
        wave_scales=wave_scales_for(waves, n, wave_reach),
        layout_size=tuple(layout_size),
    )
