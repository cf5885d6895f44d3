"""The quilted coarsest scale: a fixed function of position, blocks of the exemplar's own
coarsest level, chosen to agree at their seams, and a model that carries it."""

import dataclasses
import json
import math

import numpy as np
import pytest
import torch

import patchtex
from patchtex import layout
from patchtex.canvas import KeyedSource, quantize_waves
from patchtex.config import FINE_LAYERS, LATTICE_PROMINENCE, QUILT_FINE_LAYERS, ModelConfig, TrainConfig
from patchtex.layout import (
    CANDIDATES,
    CELL,
    OVERLAP,
    SNAP_TOLERANCES,
    SUBPIXEL,
    Axis,
    Quilt,
    min_error_paths,
    quilt_bank,
    seam_costs,
    subpixel_levels,
)
from patchtex.model import LayoutScale, Pyramid
from patchtex.noise import find_waves
from patchtex.train import (
    TrainingSource,
    bank_phases,
    config_for,
    exemplar_pyramid,
    plain_probe,
    training_quilt_options,
    variance_credit,
    waves_for,
)

from .conftest import honeycomb, stripes


def _coded_level(height: int = 30, width: int = 44) -> torch.Tensor:
    """[1,2,H,W]: channel 0 is the row, channel 1 the column: every pixel tells where it is."""
    ys, xs = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    return torch.stack([ys, xs]).float()[None]


def _blobs(size: int = 128, seed: int = 0) -> torch.Tensor:
    """Smooth random blobs without a lattice: [1,3,size,size] in [-1,1]."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.randn(1, 3, size // 8, size // 8, generator=generator)
    return torch.tanh(torch.nn.functional.interpolate(coarse, size=(size, size), mode="bicubic"))


@pytest.mark.parametrize(
    ("coherent", "feather", "credit", "edges"),
    [(0, 0.0, 0.0, False), (4, 0.0, 0.0, False), (0, 0.5, 0.0, False), (0, 0.5, 0.5, False), (0, 0.5, 0.5, True)],
)
@pytest.mark.parametrize("rect", [(0, 0, 20, 20), (-7, 3, 33, 17), (50, 40, 30, 30), (-40, -30, 1, 1)])
def test_a_window_of_the_quilt_is_exactly_that_part_of_a_larger_one(rect, coherent, feather, credit, edges):
    level = torch.rand(1, 3, 30, 44, generator=torch.Generator().manual_seed(1))
    options = {"coherent": coherent, "feather": feather, "variance_credit": credit, "edge_seams": edges}
    big = Quilt(level, 5, **options)((-40, -30, 140, 120))
    x0, y0, w, h = rect
    window = Quilt(level, 5, **options)(rect)
    assert torch.equal(window, big[..., y0 + 30 : y0 + 30 + h, x0 + 40 : x0 + 40 + w])


def test_a_quilt_forgets_what_it_remembers_beyond_its_bound_and_draws_the_same(monkeypatch):
    # a canvas keeps one quilt for a whole render: its memory of blocks and seams is bounded
    level = torch.rand(1, 3, 30, 44, generator=torch.Generator().manual_seed(1))
    lattice = torch.tensor([[0.0, 1 / 7.3], [1 / 9.1, 0.0]], dtype=torch.float64)
    for waves, coherent in ((None, 0), (lattice, 0), (None, 4), (lattice, 4)):
        whole = Quilt(level, 5, lattice=waves, coherent=coherent)((0, 0, 160, 120))
        monkeypatch.setattr(layout, "CACHE_CELLS", 6)
        quilt = Quilt(level, 5, lattice=waves, coherent=coherent)
        tiles = [torch.cat([quilt((x, y, 40, 40)) for x in range(0, 160, 40)], dim=3) for y in range(0, 120, 40)]
        assert torch.equal(torch.cat(tiles, dim=2), whole)
        # one 40 px window (3x3 cells) needs 24 seams and at most 7x7 blocks (its cells, a
        # ring of neighbours, and their white cells' neighbours): the bound or one call's
        assert len(quilt.chosen) <= 6 + 7 * 7 and len(quilt.seams) <= max(2 * 6, 24)
        monkeypatch.undo()


def test_every_pixel_is_its_cells_block_or_a_neighbours_and_seeds_differ():
    level = _coded_level()
    quilt = Quilt(level, 3)
    out = quilt((0, 0, 4 * CELL, 3 * CELL))
    from_neighbour = 0
    for y in range(3 * CELL):
        for x in range(4 * CELL):
            i, j = x // CELL, y // CELL
            options = []
            for ni, nj in ((i, j), (i - 1, j), (i + 1, j), (i, j - 1), (i, j + 1)):
                _, sy, sx = quilt.source(ni, nj)
                options.append((sy + OVERLAP + y - nj * CELL, sx + OVERLAP + x - ni * CELL))
            pixel = tuple(int(v) for v in out[0, :, y, x])
            assert pixel in options, (x, y)
            from_neighbour += pixel != options[0]
    near_edges = 1 - ((CELL - 2 * OVERLAP) / CELL) ** 2  # the share of pixels a seam can reach
    assert 0 < from_neighbour < near_edges * out[0, 0].numel()
    assert not torch.equal(out, Quilt(level, 4)((0, 0, 4 * CELL, 3 * CELL)))


def test_a_feathered_quilt_mixes_the_pixel_after_each_cut_with_the_block_before_it():
    # a coded level: a pixel's value says where in the level it was read, so the block
    # before a cut, read at the pixel after it, is its last pixel one step on
    level = _coded_level(60, 60)
    rect = (0, 0, 5 * CELL, 4 * CELL)
    hard = Quilt(level, 3)(rect)[0]
    soft = Quilt(level, 3, feather=0.5)(rect)[0]
    mixed = 0
    for y in range(1, 4 * CELL):
        for x in range(1, 5 * CELL):
            own = hard[:, y, x]
            theirs = [
                hard[:, y, x - 1] + torch.tensor([0.0, 1.0]),  # the left pixel's block, one column on
                hard[:, y - 1, x] + torch.tensor([1.0, 0.0]),  # the upper pixel's block, one row on
            ]
            crossed = [t for t in theirs if not torch.equal(t, own)]
            expected = own if not crossed else 0.5 * own + 0.5 * torch.stack(crossed).mean(0)
            assert torch.allclose(soft[:, y, x], expected), (x, y)
            mixed += bool(crossed)
    # every seam is crossed once a row (column) of its length: about 2 / CELL of the pixels
    assert 1.5 / CELL < mixed / (4 * CELL * 5 * CELL) < 3 / CELL
    with pytest.raises(ValueError, match="feather must be 0-1"):
        Quilt(level, 3, feather=1.5)


def test_an_edge_aware_cut_runs_along_an_outline_rather_than_through_a_flat_place():
    # two grey blocks over one overlap strip, each with an outline at column 3 but of other
    # greys: they disagree a little on the left and much on the right. By squared difference
    # alone the cut goes where they disagree least, the flat left, and puts a 0.3 step in
    # flat grey; weighed by the blocks' own steps it goes along the outline both show
    mine = torch.tensor([0.0, 0.0, 0.0, 1.0, 1.0, 1.0]).expand(1, 1, 8, 6)
    theirs = torch.tensor([0.3, 0.3, 0.3, -0.5, -0.5, -0.5]).expand(1, 1, 8, 6)
    plain = seam_costs(mine, theirs)
    assert torch.equal(plain, (mine - theirs).pow(2).sum(1))
    assert min_error_paths(plain)[0].tolist() == [0] * 8
    assert min_error_paths(seam_costs(mine, theirs, edges=True))[0].tolist() == [3] * 8
    # where the blocks agree, a cut is free either way
    assert torch.equal(seam_costs(mine, mine, edges=True), torch.zeros(1, 8, 6))
    level = torch.rand(1, 3, 40, 40, generator=torch.Generator().manual_seed(5))
    rect = (0, 0, 4 * CELL, 4 * CELL)
    assert not torch.equal(Quilt(level, 2)(rect), Quilt(level, 2, edge_seams=True)(rect))


def test_a_seam_follows_where_the_two_blocks_agree():
    error = torch.ones(5, 6)
    valley = [4, 3, 3, 2, 1]
    for row, column in enumerate(valley):
        error[row, column] = 0.0
    assert min_error_paths(error[None])[0].tolist() == valley
    flat = torch.zeros(2, 4, 3)  # ties go to the lower column; each error on its own
    assert min_error_paths(torch.cat([flat, error[None, :4, :3]])).tolist() == [[0] * 4, [0] * 4, [0, 0, 1, 2]]
    level = torch.rand(1, 3, 40, 40, generator=torch.Generator().manual_seed(5))
    quilt = Quilt(level, 2)
    cut = quilt._seam(0, 0, True)  # between cells (0, 0) and (1, 0)
    assert cut.shape == (CELL,) and bool(((cut >= CELL - OVERLAP) & (cut < CELL + OVERLAP)).all())
    assert bool((cut[1:] - cut[:-1]).abs().le(1).all())


@pytest.mark.parametrize(("coherent", "feather", "edges"), [(0, 0.0, False), (4, 0.0, False), (0, 0.5, True)])
@pytest.mark.parametrize("period", [(37, 21), (64, 32), (5, 9)])
def test_with_a_period_the_quilt_wraps(period, coherent, feather, edges):
    level = torch.rand(1, 3, 30, 44, generator=torch.Generator().manual_seed(2))
    quilt = Quilt(level, 7, period, coherent=coherent, feather=feather, edge_seams=edges)
    px, py = period
    base = quilt((0, 0, px, py))
    assert torch.equal(base, quilt((px, py, px, py)))
    assert torch.equal(base, quilt((-px, 2 * py, px, py)))
    assert Axis(px).count % 2 == 0  # the checkerboard wraps too


def test_narrower_cells_on_a_wrapping_plane_take_blocks_from_the_whole_level():
    """A period that CELL does not divide holds narrower cells (72 px: 6 of 12). Their
    blocks shrink with them, so a cell's own pixels come from anywhere in the level, as
    on the endless plane; blocks sized for 16 px cells never showed a 12 px cell the
    level's last 7 columns (tileable tomatoes' quilt scored 25% worse)."""
    level = torch.rand(1, 3, 40, 32, generator=torch.Generator().manual_seed(0))
    quilt = Quilt(level, 5, (72, 60))
    assert quilt.xs.widest() == 12 and quilt.ys.widest() == 15  # 6 cells of 12, 4 of 15
    assert (quilt.block_w, quilt.block_h) == (12 + 2 * OVERLAP, 15 + 2 * OVERLAP)
    ends = []
    for j in range(quilt.ys.count):
        for i in range(quilt.xs.count):
            _, row, col = quilt.source(i, j)
            assert col + quilt.block_w <= 32 and row + quilt.block_h <= 40
            ends.append(col + OVERLAP + quilt.xs.edge(i + 1) - quilt.xs.edge(i))  # past the cell's last column
    assert max(ends) > 32 - (CELL + 2 * OVERLAP) + OVERLAP + 12  # where 16 px cells' blocks stopped
    assert Quilt(level, 5).block_w == CELL + 2 * OVERLAP  # the endless plane: as before


@pytest.mark.parametrize(("transforms", "credit"), [((), 0.0), (("hflip", "rot90"), 0.0), ((), 0.5)])
def test_a_white_cell_takes_the_candidate_that_agrees_best_with_its_neighbours(transforms, credit):
    level = torch.rand(1, 3, 40, 44, generator=torch.Generator().manual_seed(3))
    quilt = Quilt(level, 11, transforms=transforms, variance_credit=credit)
    chosen = quilt.source(1, 0)  # (1 + 0) is odd: a white cell
    offsets, costs = quilt._candidate_costs([(1, 0)])
    candidates = [tuple(c) for c in offsets.tolist()]
    assert len(candidates) == CANDIDATES
    costs = costs[0]

    def block(i, j, offset, x0, x1, y0, y1):  # cell (i, j)'s block from `offset` over global [x0, x1) x [y0, y1)
        variant, row, col = offset
        sy, sx = row + OVERLAP + y0 - quilt.ys.edge(j), col + OVERLAP + x0 - quilt.xs.edge(i)
        return quilt.variants[variant][0, :, sy : sy + y1 - y0, sx : sx + x1 - x0]

    # the batched cost is each candidate's own squared difference to its neighbours, less
    # the credit's share of its own variance about its mean over each strip
    xa, xb, ya, yb = quilt.xs.edge(1), quilt.xs.edge(2), quilt.ys.edge(0), quilt.ys.edge(1)
    for offset, cost in zip(candidates, costs):
        one = 0.0
        for ni, nj, box in (
            (0, 0, (xa - OVERLAP, xa + OVERLAP, ya, yb)),
            (2, 0, (xb - OVERLAP, xb + OVERLAP, ya, yb)),
            (1, -1, (xa, xb, ya - OVERLAP, ya + OVERLAP)),
            (1, 1, (xa, xb, yb - OVERLAP, yb + OVERLAP)),
        ):
            theirs = block(ni, nj, quilt.source(ni, nj), *box)
            mine = block(1, 0, offset, *box)
            one += float((mine - theirs).pow(2).sum())
            one -= credit * float((mine - mine.mean(dim=(1, 2), keepdim=True)).pow(2).sum())
        assert float(cost) == pytest.approx(one, rel=1e-5, abs=1e-4)
    assert chosen == candidates[int(costs.argmin())]
    assert len(set(costs.tolist())) > 1  # the choice was a real one
    assert float(costs.min()) < float(costs.mean())
    assert len({c[0] for c in candidates}) == 1 + len(transforms)  # every variant competed


def test_blocks_also_come_flipped_or_turned_where_the_exemplar_allows_it():
    """Cells take blocks of the level as it is, mirrored or turned (the column code runs
    up, down or not at all along a row), windows stay exact, and without transforms the
    quilt is the one it always was."""
    level = _coded_level()
    quilt = Quilt(level, 3, transforms=("hflip", "rot90"))
    out = quilt((0, 0, 8 * CELL, 8 * CELL))
    used = set()
    middle = CELL // 2
    for j in range(8):
        for i in range(8):
            variant, sy, sx = quilt.source(i, j)
            used.add(variant)
            y, x = j * CELL + middle, i * CELL + middle
            expect = quilt.variants[variant][0, :, sy + OVERLAP + middle, sx + OVERLAP + middle]
            assert torch.equal(out[0, :, y, x], expect)
            step = int(out[0, 1, y, x + 1] - out[0, 1, y, x])
            assert step == {0: 1, 1: -1, 2: 0}[variant]
    assert used == {0, 1, 2}
    assert torch.equal(quilt((5, 9, 40, 30)), out[..., 9:39, 5:45])
    assert all(Quilt(level, 3).source(i, j)[0] == 0 for i in range(8) for j in range(8))
    with pytest.raises(ValueError, match="layout_transforms"):
        ModelConfig(layout_size=(30, 44), layout_transforms=("spin",))
    with pytest.raises(ValueError, match="quilted"):
        ModelConfig(layout_transforms=("hflip",))


def test_a_fit_records_the_flips_its_quilt_may_take():
    exemplar = _blobs()
    assert config_for(exemplar, 32, (), coarse_layout="quilt").layout_transforms == ()
    flips = config_for(exemplar, 32, (), coarse_layout="quilt", layout_flips=True).layout_transforms
    assert "hflip" in flips and "vflip" in flips  # blobs have no side
    bark = stripes(128)  # stripes change under a quarter turn
    assert "rot90" not in config_for(bark, 32, (), coarse_layout="quilt", layout_flips=True).layout_transforms


def test_a_fit_with_a_quilted_coarsest_scale_holds_the_exemplars_level():
    exemplar = _blobs()
    # the level layout_side sets (the blobs' structure period, ~22 px, would quilt a finer one)
    train = TrainConfig(
        steps=(1, 3, 3), batch_size=2, crop_size=16, coarse_side=32, coarse_layout="quilt", layout_element_px=0
    )
    model = patchtex.fit(exemplar, train)
    config = model.config
    assert config.layout_size == (32, 32) and isinstance(model.pyramid.generators[0], LayoutScale)
    level = exemplar_pyramid(exemplar, config.num_scales)[0]
    assert torch.equal(model.pyramid.generators[0].level, level)
    whole = model.synth((96, 80), seed=2)
    assert torch.equal(model.synth_window(13, 21, 50, 40, seed=2), whole[..., 21:61, 13:63])
    assert not torch.equal(whole, model.synth((96, 80), seed=3))
    tile = model.synth((64, 48), seed=1, tileable=True)
    assert tile.shape[-2:] == (48, 64)
    again = ModelConfig.from_json(config.to_json())
    assert again == config and Pyramid(again).generators[0].level.shape == level.shape


def test_the_quilt_is_only_used_where_it_can_be():
    exemplar = _blobs()
    assert config_for(exemplar, 32, (), coarse_layout="quilt").layout_size == (32, 32)
    assert config_for(exemplar, 32, (), coarse_layout="generator").layout_size == ()
    # a lattice gets a lattice quilt and no periodic channels (the quilt sets its phase);
    # damage: blocks would copy the holes' fill
    lattice = config_for(exemplar, 32, ((0.0, 0.0625),), coarse_layout="quilt")
    assert lattice.layout_size == (32, 32) and lattice.waves == ((0.0, 0.0625),)
    # an 8 px wave would be 2 px at 1/4: quilted at 1/2, where it holds blocks in place
    assert config_for(exemplar, 32, ((0.0, 0.125),), coarse_layout="quilt").layout_size == (64, 64)
    assert all(not lattice.waves_at(s) for s in range(1, lattice.num_scales))
    # with layout_channels (an option, off by default) its finer scales are fed them, not the quilt
    phased = config_for(exemplar, 32, ((0.0, 0.0625),), coarse_layout="quilt", layout_channels=True)
    assert phased.phased_layout and phased.layout_size == (32, 32) and not phased.waves_at(0)
    assert all(phased.waves_at(s) == (0,) for s in range(1, phased.num_scales))
    assert config_for(exemplar, 32, (), torch.ones(1, 1, 128, 128), coarse_layout="quilt").layout_size == ()
    # a coarsest level too small for a block (CELL + 2 * OVERLAP)
    small = stripes(2 * (CELL + 2 * OVERLAP) - 2)
    assert config_for(small, 24, (), coarse_layout="quilt").layout_size == ()
    assert ModelConfig.from_json(ModelConfig().to_json().replace(', "layout_size": []', "")).layout_size == ()


def test_a_finer_quilt_keeps_its_blocks_footprint_and_a_finer_scale():
    exemplar = _blobs()  # 128x128
    plain = config_for(exemplar, 32, (), coarse_layout="quilt", layout_side=32)
    assert (plain.layout_size, plain.layout_cell, plain.num_scales) == ((32, 32), CELL, 3)
    finer = config_for(exemplar, 32, (), coarse_layout="quilt", layout_side=32, finer=1)
    # one scale finer, cells twice as wide: a block covers the same 64 px of the exemplar
    assert (finer.layout_size, finer.layout_cell, finer.num_scales) == ((64, 64), 2 * CELL, 2)
    # never the exemplar itself: a finer scale remains
    assert config_for(exemplar, 32, (), coarse_layout="quilt", layout_side=32, finer=3) == finer
    # nothing finer to draw where the level is already one scale under the exemplar
    half = config_for(exemplar, 32, (), coarse_layout="quilt", layout_side=64)
    assert config_for(exemplar, 32, (), coarse_layout="quilt", layout_side=64, finer=1) == half
    with pytest.raises(ValueError, match="layout_finer"):
        TrainConfig(layout_finer=-1)


def test_a_cap_on_the_finer_scales_draws_the_quilt_finer_only_where_it_binds():
    exemplar = _blobs(256)  # quilted at 1/8 by layout_side 32: three finer scales
    plain = config_for(exemplar, 32, (), coarse_layout="quilt", layout_side=32)
    assert (plain.layout_size, plain.layout_cell, plain.num_scales) == ((32, 32), CELL, 4)
    capped = config_for(exemplar, 32, (), coarse_layout="quilt", layout_side=32, most=2)
    # one scale finer with cells twice as wide (a block covers the same 128 px), two GAN scales
    assert (capped.layout_size, capped.layout_cell, capped.num_scales) == ((64, 64), 2 * CELL, 3)
    assert config_for(exemplar, 32, (), coarse_layout="quilt", layout_side=32, most=1).num_scales == 2
    # a cap the pyramid is under already changes nothing, nor one that layout_finer passed
    assert config_for(exemplar, 32, (), coarse_layout="quilt", layout_side=32, most=3) == plain
    assert config_for(exemplar, 32, (), coarse_layout="quilt", layout_side=32, finer=2, most=2).num_scales == 2
    with pytest.raises(ValueError, match="quilt_finer_scales"):
        TrainConfig(quilt_finer_scales=-1)


def test_layout_side_sizes_the_quilted_level_and_a_finer_scale_always_remains():
    exemplar = _blobs()
    assert config_for(exemplar, 32, (), coarse_layout="quilt", layout_side=64).layout_size == (64, 64)
    whole = config_for(exemplar, 32, (), coarse_layout="quilt", layout_side=128)
    assert whole.num_scales == 2 and whole.layout_size == (64, 64)  # a quilt of the exemplar itself would copy it
    quilted = config_for(exemplar, 32, (), coarse_layout="quilt")
    assert quilted.layers[1:] == (QUILT_FINE_LAYERS,) * (quilted.num_scales - 1)
    drawn = config_for(exemplar, 32, (), coarse_layout="generator")
    assert drawn.layers[1:] == (FINE_LAYERS,) * (drawn.num_scales - 1)
    chosen = config_for(exemplar, 32, (), coarse_layout="generator", fine_layers=3)
    assert chosen.layers[1:] == (3,) * (chosen.num_scales - 1)


def _stones(side: int, size: float) -> torch.Tensor:
    """[1,3,side,side] cobbles (`examples/make_cobbles.py`) with stones about `size` px across."""
    import sys
    from pathlib import Path

    import numpy as np

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
    from make_cobbles import cobbles

    pixels = cobbles(size=side, cells=max(4, round(side * side / size**2)), seed=3)
    return torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1)[None].float() / 127.5 - 1


def test_the_structure_period_follows_the_size_of_the_elements():
    small, large = layout.structure_period(_stones(256, 16)), layout.structure_period(_stones(256, 64))
    assert 16 <= small <= 64 and large >= 2 * small
    grain = torch.randn(1, 3, 256, 256, generator=torch.Generator().manual_seed(0))
    assert layout.structure_period(grain) <= 4  # white noise: no structure beyond a pixel or two
    # the same stones seen twice as large: twice the period (to the half-octave bands)
    stretched = torch.nn.functional.interpolate(_stones(256, 16), scale_factor=2, mode="bicubic")
    assert round(2 * math.log2(layout.structure_period(stretched) / small)) in (1, 2, 3)


def test_fine_elements_in_a_large_exemplar_are_quilted_at_a_finer_level():
    # 768x1024 with the stones ~ 32 px: by layout_side alone the quilt would be 48x64
    # (the stones 2 px there); no coarser than where the period spans 8 px
    assert layout.quilt_scales(768, 1024, 40, 40) == 5
    assert layout.quilt_scales(768, 1024, 40, 40, period=32.0, element_px=8.0) == 3
    assert layout.quilt_scales(768, 1024, 40, 40, period=32.0) == 5  # element_px 0: off
    # large elements keep layout_side's level; a finer scale always remains
    assert layout.quilt_scales(768, 1024, 40, 40, period=400.0, element_px=8.0) == 5
    assert layout.quilt_scales(768, 1024, 40, 40, period=2.0, element_px=8.0) == 2
    fine = _stones(256, 12)
    assert config_for(fine, 40, (), coarse_layout="quilt", layout_side=40).num_scales == 4
    chosen = config_for(fine, 40, (), coarse_layout="quilt", layout_side=40, element_px=8.0)
    expected = layout.quilt_scales(256, 256, 40, 40, layout.structure_period(fine), 8.0)
    assert chosen.num_scales == expected < 4 and chosen.layout_size == (256 >> (expected - 1),) * 2


def test_a_lattice_quilt_is_drawn_where_its_shortest_wave_holds_blocks():
    # 256x512 lego: by layout_side alone quilted at 1/8, where its 16 px studs are 2 px
    # (under MIN_WAVE_PERIOD: blocks would fall at any phase of them); at 1/4 they are 4 px
    assert layout.quilt_scales(256, 512, 40, 40) == 4
    assert layout.quilt_scales(256, 512, 40, 40, lattice_period=16.0) == 3
    assert layout.quilt_scales(256, 512, 40, 40, lattice_period=18.0) == 4  # 2.25 px at 1/8
    assert layout.quilt_scales(256, 512, 40, 40, lattice_period=3.0) == 2  # a finer scale remains
    exemplar = stripes(512)[..., :256, :]  # 256x512: the plan reads its size and the waves given
    config = config_for(exemplar, 40, ((1 / 16, 0.0),), coarse_layout="quilt", layout_side=40)
    assert config.num_scales == 3 and config.layout_size == (64, 128)


def test_training_batches_get_their_own_quilts():
    exemplar = _blobs()
    config = config_for(exemplar, 32, (), coarse_layout="quilt")
    pyramid = Pyramid(config)
    level = exemplar_pyramid(exemplar, config.num_scales)[0]
    source = TrainingSource(config, pyramid.waves, 3, torch.Generator().manual_seed(0), "cpu")
    batch = source.layout(level, (-2, -2, 20, 20))
    assert batch.shape == (3, 3, 20, 20)
    assert not torch.equal(batch[0], batch[1]) and not torch.equal(batch[1], batch[2])
    bank = quilt_bank(level, 0, count=4, side=40)
    assert bank.shape == (4, 3, 40, 40) and not torch.equal(bank[0], bank[1])
    banked = TrainingSource(config, pyramid.waves, 3, torch.Generator().manual_seed(0), "cpu", bank)
    windows = banked.layout(level, (-2, -2, 20, 20))
    for window in windows:  # each a window of one of the bank's quilts
        found = any(
            torch.equal(window, quilt[:, y : y + 20, x : x + 20])
            for quilt in bank
            for y in range(21)
            for x in range(21)
        )
        assert found
    assert banked.layout(level, (0, 0, 60, 60)).shape == (3, 3, 60, 60)  # larger than the bank: fresh quilts
    keyed = KeyedSource(pyramid, 0, torch.device("cpu")).layout(level, (0, 0, 20, 20))
    assert keyed.shape == (1, 3, 20, 20)


def test_train_config_names_a_bad_coarse_layout():
    with pytest.raises(ValueError, match="coarse_layout must be one of generator, quilt"):
        TrainConfig(coarse_layout="patches")


def test_only_a_strong_periodicity_keeps_the_quilt_away():
    """Faint stripes under grain (a peak between `find_waves`' threshold and
    `LATTICE_PROMINENCE`, as bark's grain spacing) are the plain quilt's to draw; clear
    stripes keep their wave (a lattice quilt, or the generator's periodic channels);
    damage keeps the waves."""
    generator = torch.Generator().manual_seed(0)
    grain = 0.5 * torch.randn(1, 3, 128, 128, generator=generator)
    rows = torch.arange(128).float()[:, None]
    faint = (grain + 0.05 * torch.sin(2 * torch.pi * rows / 16)).clamp(-1, 1)
    clear = (grain + 0.15 * torch.sin(2 * torch.pi * rows / 16)).clamp(-1, 1)
    assert waves_for(faint, "generator") and not waves_for(faint, "quilt")
    assert waves_for(clear, "quilt")
    assert waves_for(faint, "quilt", torch.ones(1, 1, 128, 128))


def test_two_faint_waves_are_a_lattice_the_quilt_keeps():
    """A honeycomb whose walls' peaks stand under `LATTICE_PROMINENCE` (seed 7) is still a
    2D lattice: quilted at random, its cells were cut at every block border."""
    comb = honeycomb(7)
    assert not find_waves(comb, threshold=LATTICE_PROMINENCE)  # no wave stands 80x
    assert len(waves_for(comb, "quilt")) == 2


def test_subpixel_levels_shift_by_the_fraction_they_name():
    ys, xs = torch.meshgrid(torch.arange(20.0), torch.arange(24.0), indexing="ij")
    level = torch.stack([xs, ys, xs * 0.5 + ys * 2])[None]  # planes: a cubic reproduces them
    levels = subpixel_levels(level)
    assert len(levels) == SUBPIXEL**2 and torch.equal(levels[0], level)
    fy, fx = 3, 5
    shifted = levels[fy * SUBPIXEL + fx][..., 1:-2, 1:-2]  # away from the repeated border
    want = torch.stack([xs + fx / SUBPIXEL, ys + fy / SUBPIXEL, (xs + fx / SUBPIXEL) * 0.5 + (ys + fy / SUBPIXEL) * 2])
    assert torch.allclose(shifted, want[None, :, 1:-2, 1:-2], atol=1e-4)


def _lattice_image(k, size: int = 40) -> torch.Tensor:
    """[1,3,size,size]: a sum of cosines along the waves `k` (cycles per pixel)."""
    ys, xs = torch.meshgrid(torch.arange(float(size)), torch.arange(float(size)), indexing="ij")
    image = sum(torch.cos(2 * torch.pi * (kx * xs + ky * ys)) for kx, ky in k) / len(k)
    return image.expand(3, -1, -1)[None].clone()


def _cell_phases(image: torch.Tensor, k, cells: int) -> torch.Tensor:
    """The phase (cycles) of the wave k in the middle of each quilt cell of `image`."""
    ys, xs = torch.meshgrid(torch.arange(float(CELL)), torch.arange(float(CELL)), indexing="ij")
    out = []
    for j in range(cells):
        for i in range(cells):
            x0, y0 = i * CELL, j * CELL
            patch = image[0, 0, y0 : y0 + CELL, x0 : x0 + CELL][OVERLAP:-OVERLAP, OVERLAP:-OVERLAP]
            angle = 2 * torch.pi * (k[0] * (xs + x0) + k[1] * (ys + y0))[OVERLAP:-OVERLAP, OVERLAP:-OVERLAP]
            z = (patch * torch.exp(-1j * angle)).mean()
            out.append(torch.angle(z) / (2 * torch.pi))
    return torch.stack(out)


def _spread(phases: torch.Tensor) -> float:
    """Circular spread of phases in cycles: 0 when all agree, ~0.4 when uniform."""
    return float(1 - torch.exp(2j * torch.pi * phases).mean().abs())


def test_a_lattice_quilt_continues_the_lattice_across_every_seam_at_a_seeds_own_phase():
    k = (0.13, 0.071)  # a period of 6.75 px along a tilted axis: never whole pixels
    level = _lattice_image([k])
    lattice = torch.tensor([k], dtype=torch.float64)
    out = Quilt(level, 3, lattice=lattice)((0, 0, 6 * CELL, 6 * CELL))
    plain = Quilt(level, 3)((0, 0, 6 * CELL, 6 * CELL))
    phases = _cell_phases(out, k, 6)
    assert _spread(phases) < 0.01 and _spread(_cell_phases(plain, k, 6)) > 0.2
    # another seed: the same lattice, somewhere else
    other = _cell_phases(Quilt(level, 4, lattice=lattice)((0, 0, 6 * CELL, 6 * CELL)), k, 6)
    assert _spread(other) < 0.01
    gap = torch.remainder(other.mean() - phases.mean() + 0.5, 1.0) - 0.5
    assert abs(float(gap)) > 0.05


def test_lattice_blocks_sit_whole_steps_from_where_they_go_to_a_fraction_of_a_pixel(monkeypatch):
    k = [(0.061, 0.152), (0.119, -0.043)]  # two waves: a staggered lattice (as bricks)
    level = _lattice_image(k, 48)
    lattice = torch.tensor(k, dtype=torch.float64)
    quilt = Quilt(level, 11, lattice=lattice)
    worst, moved, offs = 0.0, 0, []
    for j in range(-3, 4):
        for i in range(-3, 4):
            variant, row, col = quilt.source(i, j)
            fy, fx = divmod(variant, SUBPIXEL)
            offs.append(max(min(f, SUBPIXEL - f) for f in (fx, fy)) / SUBPIXEL)
            source = torch.tensor([col + fx / SUBPIXEL, row + fy / SUBPIXEL], dtype=torch.float64)
            dest = torch.tensor([i * CELL - OVERLAP, j * CELL - OVERLAP], dtype=torch.float64)
            phase = lattice @ (source - dest) - torch.from_numpy(quilt.phase)
            worst = max(worst, float((phase - phase.round()).abs().max()))
            moved += variant != 0
    off = torch.tensor(offs)
    # sources are taken as near whole pixels as the lattice allows (less resampling blur);
    # without that preference half a pixel off is as likely as on
    monkeypatch.setattr(layout, "SNAP_TOLERANCES", (0.5,))
    free = Quilt(level, 11, lattice=lattice)
    off_free = torch.tensor(
        [
            max(min(f, SUBPIXEL - f) for f in divmod(free.source(i, j)[0], SUBPIXEL)) / SUBPIXEL
            for i in range(-3, 4)
            for j in range(-3, 4)
        ]
    )
    # the place is rounded to 1/SUBPIXEL px: at most half of that along each axis
    assert worst <= float(lattice.abs().sum(1).max()) / (2 * SUBPIXEL) + 1e-9
    assert moved > 0  # blocks at fractions of a pixel are really used
    assert off.median() <= SNAP_TOLERANCES[0] < 0.25 < off_free.median()
    with pytest.raises(ValueError, match="lattice"):
        Quilt(level, 1, transforms=("hflip",), lattice=lattice)


def test_a_lattice_block_stays_nearly_in_step_where_its_level_has_no_place_in_step():
    """A 40 px level of a checkerboard (squares 12.5 px, a lattice 17.7 px along its
    diagonals) holds a 22 px block at 19 x 19 places: for some phases none of them is in
    step. Such a block comes from the place in step that reaches least far out, moved in
    (here by 0.125 cycles at most); a random place was out by up to half a cycle, and
    broke the board where it landed."""
    k = [(0.04, 0.04), (0.04, -0.04)]
    level = _lattice_image(k, 40)
    lattice = torch.tensor(k, dtype=torch.float64)
    worst, places = 0.0, 0
    for seed in range(4):
        quilt = Quilt(level, seed, lattice=lattice)
        for j in range(-6, 6):
            for i in range(-6, 6):
                variant, row, col = quilt.source(i, j)
                fy, fx = divmod(variant, SUBPIXEL)
                source = torch.tensor([col + fx / SUBPIXEL, row + fy / SUBPIXEL], dtype=torch.float64)
                dest = torch.tensor([i * CELL - OVERLAP, j * CELL - OVERLAP], dtype=torch.float64)
                phase = lattice @ (source - dest) - torch.from_numpy(quilt.phase)
                worst = max(worst, float((phase - phase.round()).abs().max()))
                places += 1
    assert places == 576 and worst < 0.15, worst  # 0.495 from a random place


@pytest.mark.parametrize("waves", [[[0.05, 0.11]], [[0.08, 0.03], [-0.02, 0.12]]])
@pytest.mark.parametrize("period", [None, (37, 21), (64, 48)])
def test_a_window_of_a_lattice_quilt_is_exactly_that_part_of_a_larger_one(waves, period):
    # a window places fewer blocks at once than a larger render: no block's place may
    # depend on which others are placed with it (sums done alike for one or many)
    level = torch.rand(1, 3, 26, 90, generator=torch.Generator().manual_seed(4))
    lattice = torch.tensor(waves, dtype=torch.float64)
    plane = lattice if period is None else quantize_waves(lattice, period).double()
    for seed in range(3):
        big = Quilt(level, seed, period, lattice=lattice, plane_lattice=plane)((-40, -30, 140, 120))
        for x0, y0, w, h in [(0, 0, 20, 20), (-7, 3, 33, 17), (-40, -30, 1, 1), (13, -21, 70, 9)]:
            window = Quilt(level, seed, period, lattice=lattice, plane_lattice=plane)((x0, y0, w, h))
            assert torch.equal(window, big[..., y0 + 30 : y0 + 30 + h, x0 + 40 : x0 + 40 + w])
    # with continuations too (a continuation keeps the lattice phase: `_continue`)
    big = Quilt(level, 1, period, lattice=lattice, plane_lattice=plane, coherent=4)((-40, -30, 140, 120))
    window = Quilt(level, 1, period, lattice=lattice, plane_lattice=plane, coherent=4)((-7, 3, 33, 17))
    assert torch.equal(window, big[..., 33 : 33 + 17, 33 : 33 + 33])


def test_a_wrapping_lattice_quilt_keeps_its_lattice_across_the_wrap():
    k = (0.13, 0.071)
    level = _lattice_image([k])
    period = (7 * CELL + 5, 6 * CELL + 2)
    plane = quantize_waves(torch.tensor([k]), period).double()
    assert torch.allclose(plane * torch.tensor(period), (plane * torch.tensor(period)).round(), atol=1e-4)
    quilt = Quilt(level, 3, period, lattice=torch.tensor([k]), plane_lattice=plane)
    base = quilt((0, 0, *period))
    assert torch.equal(base, quilt((period[0], period[1], *period)))
    twice = quilt((0, 0, 2 * period[0], 2 * period[1]))  # cells beyond the first period are wrapped ones
    kq = tuple(float(v) for v in plane[0])
    assert _spread(_cell_phases(twice, kq, 12)) < 0.01


def test_a_wrapping_lattice_quilt_stretches_its_blocks_to_the_rounded_lattice():
    """A period only a few lattice steps across rounds the lattice far (2.43 cycles of a
    22 px wave in 54 px -> 2: 18 %). Blocks that hold the exemplar's own lattice, each in
    step at its centre, are out of step at their edges; stretched to the plane's
    lattice (`strained_level`) they agree with it everywhere."""
    k = (0.045, 0.0)
    level = _lattice_image([k], 64)
    period = (3 * CELL + 6, 4 * CELL)
    plane = quantize_waves(torch.tensor([k]), period).double()
    assert abs(float(plane[0, 0]) * period[0] - 2) < 1e-6

    def misfit(out: torch.Tensor) -> float:
        """RMS of the quilt less the cosine of the plane's wave that fits it best."""
        ys, xs = torch.meshgrid(torch.arange(float(out.shape[-2])), torch.arange(float(out.shape[-1])), indexing="ij")
        angle = 2 * torch.pi * (float(plane[0, 0]) * xs + float(plane[0, 1]) * ys)
        z = (out[0, 0] * torch.exp(-1j * angle)).mean()
        return float((out[0, 0] - 2 * (z * torch.exp(1j * angle)).real).pow(2).mean().sqrt())

    errors, lattice = {}, torch.tensor([k], dtype=torch.float64)
    for stretch in (True, False):
        quilt = Quilt(level, 5, period, lattice=lattice, plane_lattice=plane, stretch=stretch)
        errors[stretch] = misfit(quilt((0, 0, *period)))
    assert errors[True] < 0.02 < 0.04 < errors[False]
    # the stretched level holds the plane's lattice, the level itself does not
    stretched = layout.strained_level(level, np.array([k]), plane.numpy())
    assert misfit(stretched) < 0.05 < 0.2 < misfit(level)
    # a lattice rounded by under half a pixel a cell keeps its level's own pixels: the
    # stretch would soften them for less than the misstep it saves
    slight = lattice * (1 + 0.4 / CELL)  # 0.4 px out of step a cell apart
    assert abs(layout.lattice_strain(lattice.numpy(), slight.numpy()) * CELL - 0.4) < 1e-9
    kept = Quilt(level, 5, period, lattice=lattice, plane_lattice=slight)
    assert torch.equal(kept.level, level)
    # nor is a level stretched smaller than a block (4.59 cycles -> 5: 9 % more of a
    # level that holds a block with a pixel to spare); it quilts as before
    k = (0.085, 0.0)
    small = _lattice_image([k], CELL + 2 * OVERLAP + 1)
    plane = quantize_waves(torch.tensor([k]), period).double()
    assert min(layout.strained_level(small, np.array([k]), plane.numpy()).shape[-2:]) < CELL + 2 * OVERLAP
    quilt = Quilt(small, 5, period, lattice=torch.tensor([k], dtype=torch.float64), plane_lattice=plane)
    assert torch.equal(quilt.level, small) and quilt((0, 0, *period)).shape[-2:] == (period[1], period[0])


def test_a_tileable_canvas_quilts_with_waves_that_wrap():
    config = config_for(_lattice_image([(0.03, 0.021)], 128), 32, ((0.03, 0.021),), coarse_layout="quilt")
    pyramid = Pyramid(config)
    period = [(70 >> (config.num_scales - 1 - s), 52 >> (config.num_scales - 1 - s)) for s in range(config.num_scales)]
    source = KeyedSource(pyramid, 1, torch.device("cpu"), period)
    source.layout(pyramid.generators[0].level, (0, 0, 4, 4))
    cycles = source._quilt.plane_lattice * torch.tensor(period[0], dtype=torch.float64).numpy()
    assert abs(cycles - cycles.round()).max() < 1e-4 and abs(cycles).max() > 0


def test_waves_too_fine_for_the_level_do_not_hold_blocks_in_place():
    """A wave of about 2 px a period at the quilted level (lego's studs) is a
    checkerboard there: only the waves the level resolves place the blocks."""
    level = _lattice_image([(0.13, 0.071)], 48)
    fine, coarse = (0.49, 0.01), (0.13, 0.071)
    quilt = Quilt(level, 2, lattice=torch.tensor([fine, coarse], dtype=torch.float64))
    assert quilt.lattice.tolist() == [list(coarse)] and len(quilt.variants) == SUBPIXEL**2
    out = quilt((0, 0, 5 * CELL, 5 * CELL))
    assert _spread(_cell_phases(out, coarse, 5)) < 0.01
    alone = Quilt(level, 2, lattice=torch.tensor([fine], dtype=torch.float64))
    assert alone.lattice is None and torch.equal(alone((0, 0, 40, 40)), Quilt(level, 2)((0, 0, 40, 40)))


def _bright_edged(height: int = 48, width: int = 40) -> torch.Tensor:
    """[1,3,H,W]: dark blobs with a bright band along the left and top edges, which random
    blocks show less often than the middle."""
    level = _blobs(64, seed=4)[..., :height, :width] * 0.3 - 0.3
    level[..., :, :5] = 0.8
    level[..., :5, :] = 0.8
    return level


def test_the_quilt_offset_makes_a_quilts_colour_the_levels():
    level = _bright_edged()
    mean = level.mean(dim=(0, 2, 3))
    plain = Quilt(level, 3)((0, 0, 320, 320)).mean(dim=(0, 2, 3))
    assert (plain - mean).min() < -0.1  # the edges' light is lost without it
    offset = layout.quilt_offset(level)
    assert len(offset) == 3 and min(offset) > 0.1
    for seed in (3, 8):  # measured at a fixed seed, it holds for others
        quilt = Quilt(level, seed, offset=offset)
        assert (quilt((0, 0, 320, 320)).mean(dim=(0, 2, 3)) - mean).abs().max() < 0.02
        # the same blocks and seams: every pixel moves by the offset alone
        same = Quilt(level, seed)((-30, 7, 90, 60)) + torch.tensor(offset).view(1, 3, 1, 1)
        assert torch.equal(quilt((-30, 7, 90, 60)), same)
    assert quilt_bank(level, 2, count=2, side=40, offset=offset).mean() > quilt_bank(level, 2, count=2, side=40).mean()


def test_a_fit_records_its_quilts_offset_and_older_models_draw_as_before():
    exemplar = _blobs()
    train = TrainConfig(steps=(1, 2, 2), batch_size=2, crop_size=16, coarse_side=32, layout_element_px=0)
    model = patchtex.fit(exemplar, train)
    config = model.config
    level = model.pyramid.generators[0].level
    cell = config.layout_cell  # 12: the blobs (128x128) are a small exemplar
    plain = dict(
        cell=cell, coherent=config.layout_coherent, feather=config.layout_feather, edge_seams=config.layout_edge_seams
    )
    # the blobs' quilts by agreement alone are blander than their level, so the model
    # draws with a variance credit its finer scales did not train with: two kinds of
    # quilt, each with the offset measured on its own kind
    credit = config.layout_variance_credit
    assert credit > 0
    trained = layout.quilt_offset(level, **plain)
    drawn = layout.quilt_offset(level, **plain, variance_credit=credit)
    assert config.layout_offset == drawn != trained and config.layout_train_offset == trained
    assert any(drawn) and any(trained)
    assert layout.quilt_options(config)["offset"] == drawn and training_quilt_options(config)["offset"] == trained

    def drift(offset: tuple[float, ...]) -> float:  # the drawn quilts' colour from the level's
        rect = (0, 0, 24 * cell, 24 * cell)
        means = [
            Quilt(level, seed, **{**layout.quilt_options(config), "offset": offset})(rect).mean() for seed in range(8)
        ]
        return abs(float(torch.stack(means).mean() - level.mean()))

    assert drift(drawn) < 0.5 * drift(trained)
    assert ModelConfig.from_json(config.to_json()) == config
    off = patchtex.fit(exemplar, dataclasses.replace(train, quilt_offset=False))
    assert off.config.layout_offset == off.config.layout_train_offset == ()
    # a model file written before the fields existed reads as no offset, and one written
    # before the training quilts had their own trained on its one offset
    raw = json.loads(config.to_json())
    del raw["layout_train_offset"]
    older = ModelConfig.from_json(json.dumps(raw))
    assert older.layout_train_offset == () and training_quilt_options(older)["offset"] == drawn
    del raw["layout_offset"]
    assert ModelConfig.from_json(json.dumps(raw)).layout_offset == ()
    assert TrainConfig.from_json(json.dumps({"seed": 0})).quilt_offset is False
    with pytest.raises(ValueError, match="layout_offset needs a quilted coarsest scale"):
        ModelConfig(layout_offset=(0.1, 0.1, 0.1))
    with pytest.raises(ValueError, match="layout_train_offset needs a layout_offset"):
        dataclasses.replace(config, layout_offset=())


def _phased_model(k_fine, side: int = 48) -> tuple[ModelConfig, torch.Tensor]:
    """A 2-scale lattice-quilt config whose finer scale is fed the waves `k_fine` (cycles
    per finest pixel), and its coarsest level: the box average of a finest image of
    cosines along them (so the level carries the exemplar's phase convention)."""
    from patchtex.config import layout_wave_scales

    ys, xs = torch.meshgrid(torch.arange(2.0 * side), torch.arange(2.0 * side), indexing="ij")
    fine = sum(torch.cos(2 * torch.pi * (kx * xs + ky * ys)) for kx, ky in k_fine) / len(k_fine)
    level = torch.nn.functional.avg_pool2d(fine.expand(3, -1, -1)[None], 2)
    config = ModelConfig(
        num_scales=2,
        channels=(8, 8),
        layers=(2, 2),
        waves=tuple(k_fine),
        wave_scales=layout_wave_scales(k_fine, 2),
        layout_size=(side, side),
    )
    return config, level


def _agreement(image: torch.Tensor, channels: torch.Tensor, wave: int, count: int) -> complex:
    """How the wave's content in `image` ([1,C,h,w]) lines up with its periodic channels
    (sin, cos at `wave` and `wave + count`): the mean of image x exp(-i angle), whose angle
    is 0 where the content peaks where the channel's angle is 0."""
    angle = torch.atan2(channels[0, wave].double(), channels[0, wave + count].double())
    return complex((image[0, 0].double() * torch.exp(-1j * angle)).mean())


def test_a_phased_layout_feeds_the_finer_scales_the_lattice_where_its_quilt_put_it():
    k = [(0.0625, 0.0), (0.0, 1 / 9.5)]  # lego-like: the x wave is 2 px a period when quilted
    config, level = _phased_model(k)
    assert config.phased_layout and config.waves_at(1) == (0, 1) and not config.waves_at(0)
    pyramid = Pyramid(config)
    pyramid.generators[0].level.copy_(level)
    rect = (37, -11, 4 * CELL, 4 * CELL)
    for seed in (1, 2):
        source = KeyedSource(pyramid, seed, torch.device("cpu"))
        quilt = source.layout(level, rect)
        fine_rect = (2 * rect[0], 2 * rect[1], 2 * rect[2], 2 * rect[3])
        channels = source(1, fine_rect)[:, config.noise_channels :]
        up = torch.nn.functional.interpolate(quilt, scale_factor=2, mode="nearest")
        for wave in range(2):
            z = _agreement(up, channels, wave, 2)
            assert abs(z) > 0.15 and abs(math.atan2(z.imag, z.real)) < 0.25 * 2 * math.pi, (seed, wave, z)
    assert not dataclasses.replace(config, wave_scales=((0,), (0,))).phased_layout  # a file before session 26


def test_a_wave_near_nyquist_holds_blocks_only_with_every_wave():
    k = (1 / 2.1, 0.0)  # 2.1 px a period at the quilted level (under MIN_WAVE_PERIOD)
    level = _lattice_image([k], 48)
    lattice = torch.tensor([k], dtype=torch.float64)
    loose = Quilt(level, 1, lattice=lattice)((0, 0, 6 * CELL, 6 * CELL))
    held = Quilt(level, 1, lattice=lattice, every_wave=True)((0, 0, 6 * CELL, 6 * CELL))
    # (near Nyquist the subpixel copies of the level blur the wave, so held is not exact)
    assert _spread(_cell_phases(held, k, 6)) < 0.2 and _spread(_cell_phases(loose, k, 6)) > 0.5


def test_training_layouts_come_with_the_phases_of_their_quilts():
    k = [(0.0625, 0.0), (0.0, 1 / 9.5)]
    config, level = _phased_model(k)
    lattice = torch.tensor(k, dtype=torch.float64) * 2
    bank = quilt_bank(level, 7, count=4, side=64, lattice=lattice, every_wave=True)
    generator = torch.Generator().manual_seed(0)
    waves = torch.tensor(k, dtype=torch.float64)
    for use_bank in (True, False):
        source = TrainingSource(
            config, waves, 6, generator, "cpu", bank if use_bank else None, bank_phases(config, 7, 4)
        )
        rect = (-3, 5, 24, 24)
        layouts = source.layout(level, rect)
        fine_rect = (-6, 10, 48, 48)
        channels = source(1, fine_rect)[:, config.noise_channels :]
        up = torch.nn.functional.interpolate(layouts, scale_factor=2, mode="nearest")
        for b in range(6):
            for wave in range(2):
                z = _agreement(up[b : b + 1], channels[b : b + 1], wave, 2)
                assert abs(z) > 0.15 and abs(math.atan2(z.imag, z.real)) < 0.25 * 2 * math.pi, (use_bank, b, wave, z)


def test_real_pairs_come_with_the_phases_of_the_exemplar_they_are_cut_from():
    """A finer scale also learns from the real coarser exemplar: its channels must then
    sit where the exemplar has its lattice (phase 0 at its origin, as quilt blocks carry)."""
    from patchtex.noise import wave_field
    from patchtex.train import _ScaleFit, scale_critic

    k = [(0.0625, 0.0), (0.0, 1 / 9.5)]
    config, level = _phased_model(k, side=48)
    ys, xs = torch.meshgrid(torch.arange(96.0), torch.arange(96.0), indexing="ij")
    fine = (sum(torch.cos(2 * torch.pi * (kx * xs + ky * ys)) for kx, ky in k) / 2).expand(3, -1, -1)[None]
    levels = exemplar_pyramid(fine, 2)
    assert torch.allclose(levels[0], level, atol=1e-5)
    train = TrainConfig(crop_size=24)
    generator = torch.Generator().manual_seed(3)
    fit = _ScaleFit(Pyramid(config), scale_critic(config, train, 1), 1, levels, None, train, generator, False)
    waves = torch.tensor(k, dtype=torch.float64)
    source = TrainingSource(config, waves, 5, generator, "cpu")
    coarse, _ = fit.real_pair(5, source)
    channels = wave_field(waves, source.phases, config.factor(0), fit.crect)
    for b in range(5):
        for wave in range(2):
            z = _agreement(coarse[b : b + 1], channels[b : b + 1], wave, 2)
            assert abs(z) > 0.15 and abs(math.atan2(z.imag, z.real)) < 0.1 * 2 * math.pi, (b, wave, z)


def test_a_fit_with_layout_channels_makes_a_phased_model_with_exact_windows(tmp_path):
    k = (0.0, 1 / 12.5)
    exemplar = _lattice_image([k], 128)
    train = TrainConfig(
        steps=(1, 3, 3),
        batch_size=2,
        crop_size=16,
        coarse_side=32,
        layout_element_px=0,
        layout_channels=True,
        quilt_coherent=4,
    )
    model = patchtex.fit(exemplar, train)
    assert model.config.waves and model.config.phased_layout
    assert model.config.layout_coherent == 0  # a lattice quilt's blocks are in step already
    model.save(tmp_path / "m.safetensors")
    again = patchtex.load(tmp_path / "m.safetensors")
    assert again.config.phased_layout
    whole = again.synth((96, 80), seed=2)
    assert torch.equal(again.synth_window(13, 21, 50, 40, seed=2), whole[..., 21:61, 13:63])
    assert torch.equal(whole, model.synth((96, 80), seed=2))
    assert model.synth((64, 48), seed=1, tileable=True).shape[-2:] == (48, 64)


def test_a_phased_layouts_critic_sees_real_crops_with_their_own_phases():
    from patchtex.train import _ScaleFit, scale_critic

    k = [(0.0625, 0.0), (0.0, 1 / 9.5)]
    config, level = _phased_model(k, side=48)
    ys, xs = torch.meshgrid(torch.arange(96.0), torch.arange(96.0), indexing="ij")
    fine = (sum(torch.cos(2 * torch.pi * (kx * xs + ky * ys)) for kx, ky in k) / 2).expand(3, -1, -1)[None]
    levels = exemplar_pyramid(fine, 2)
    train = TrainConfig(crop_size=24, real_coarse_prob=0.0)
    pyramid = Pyramid(config)
    pyramid.generators[0].level.copy_(levels[0])
    critic = scale_critic(config, train, 1)
    assert critic.critics[0].body[0].in_channels == 3 + 4  # the image and its 4 channels
    bank = quilt_bank(levels[0], 0, count=4, side=64, lattice=torch.tensor(k, dtype=torch.float64) * 2, every_wave=True)
    fit = _ScaleFit(pyramid, critic, 1, levels, None, train, torch.Generator().manual_seed(1), False, bank=bank)
    _, real, _, _ = fit.batch()
    assert fit.real_cond.shape == (4, 4, 24, 24) and fit.fake_cond.shape == (4, 4, 24, 24)
    for b in range(4):
        for wave in range(2):
            z = _agreement(real[b : b + 1], fit.real_cond[b : b + 1], wave, 2)
            assert abs(z) > 0.15 and abs(math.atan2(z.imag, z.real)) < 0.05 * 2 * math.pi, (b, wave, z)


def test_a_small_exemplars_quilt_has_smaller_cells():
    """Under `small_exemplar_px` the quilt's cell is `small_layout_cell` (a 96x48 level
    holds few 22 px blocks); the model records it, draws with it, and older files read 16."""
    exemplar = _blobs()  # 128x128: small
    train = TrainConfig(steps=(1, 2, 2), batch_size=2, crop_size=16, coarse_side=32, layout_element_px=0)
    small = patchtex.fit(exemplar, train)
    assert small.config.layout_cell == 12
    large = patchtex.fit(exemplar, dataclasses.replace(train, small_exemplar_px=128 * 128))
    assert large.config.layout_cell == CELL == 16
    source = KeyedSource(small.pyramid, 3, torch.device("cpu"))
    source.layout(small.pyramid.generators[0].level, (0, 0, 8, 8))
    assert source._quilt.cell == 12 and source._quilt.block_w == source._quilt.block_h == 12 + 2 * OVERLAP
    assert source._quilt.xs.edge(3) == 36
    whole = small.synth((96, 80), seed=2)
    assert torch.equal(small.synth_window(13, 21, 50, 40, seed=2), whole[..., 21:61, 13:63])
    assert small.synth((64, 48), seed=1, tileable=True).shape[-2:] == (48, 64)
    raw = json.loads(small.config.to_json())
    assert raw["layout_cell"] == 12 and ModelConfig.from_json(small.config.to_json()) == small.config
    del raw["layout_cell"]
    assert ModelConfig.from_json(json.dumps(raw)).layout_cell == 16
    assert TrainConfig.from_json(json.dumps({"seed": 0})).small_layout_cell == 16
    with pytest.raises(ValueError, match="layout_cell"):
        ModelConfig(layout_cell=3)
    with pytest.raises(ValueError, match="small_layout_cell"):
        TrainConfig(small_layout_cell=2)


def _block(quilt: Quilt, i: int, j: int, offset, x0: int, x1: int, y0: int, y1: int) -> torch.Tensor:
    """Cell (i, j)'s block from `offset` (variant, row, column) over global [x0, x1) x [y0, y1)."""
    variant, row, col = offset
    sy, sx = row + OVERLAP + y0 - quilt.ys.edge(j), col + OVERLAP + x0 - quilt.xs.edge(i)
    return quilt.variants[variant][0, :, sy : sy + y1 - y0, sx : sx + x1 - x0]


def test_a_white_cells_last_candidates_continue_its_neighbours_blocks():
    level = torch.rand(1, 3, 70, 74, generator=torch.Generator().manual_seed(3))
    plain, coherent = Quilt(level, 11), Quilt(level, 11, coherent=4)
    continued = 0
    for cell in [(1, 0), (3, 2), (0, 1), (2, 3), (-1, 2)]:  # white cells
        i, j = cell
        random, _ = plain._candidate_costs([cell])
        offsets, costs = coherent._candidate_costs([cell])
        assert torch.equal(offsets[: CANDIDATES - 4], random[: CANDIDATES - 4])  # the random ones stay
        xa, xb, ya, yb = coherent.xs.edge(i), coherent.xs.edge(i + 1), coherent.ys.edge(j), coherent.ys.edge(j + 1)
        strips = {  # neighbour -> its strip: global x0, x1, y0, y1
            (-1, 0): (xa - OVERLAP, xa + OVERLAP, ya, yb),
            (1, 0): (xb - OVERLAP, xb + OVERLAP, ya, yb),
            (0, -1): (xa, xb, ya - OVERLAP, ya + OVERLAP),
            (0, 1): (xa, xb, yb - OVERLAP, yb + OVERLAP),
        }
        for k in range(CANDIDATES - 4, CANDIDATES):
            offset = tuple(offsets[k].tolist())
            errors = {}
            for (di, dj), box in strips.items():
                theirs = _block(coherent, i + di, j + dj, coherent.source(i + di, j + dj), *box)
                errors[(di, dj)] = float((_block(coherent, i, j, offset, *box) - theirs).pow(2).sum())
            if torch.equal(offsets[k], random[k]):  # a continuation that would leave the level
                assert float(costs[0, k]) == pytest.approx(sum(errors.values()), rel=1e-5)
                continue
            # a continuation: one piece of the level with one neighbour's block across that edge
            assert sorted(errors.values())[0] == 0.0 and sorted(errors.values())[1] > 0.0
            # judged on the other three strips, scaled to four
            assert float(costs[0, k]) == pytest.approx(sum(errors.values()) * 4 / 3, rel=1e-5)
            continued += 1
    assert continued >= 8
    with pytest.raises(ValueError, match="coherent must be 0-4"):
        Quilt(level, 1, coherent=5)


def test_where_a_continuation_wins_the_quilt_is_one_piece_of_the_level_across_that_edge():
    level = torch.rand(1, 3, 60, 64, generator=torch.Generator().manual_seed(5))
    quilt = Quilt(level, 4, coherent=4)
    image = quilt((0, 0, 10 * CELL, 10 * CELL))
    pieces = 0
    for j in range(1, 9):
        for i in range(1, 9):
            if (i + j) % 2 == 0:
                continue
            variant, row, col = quilt.source(i, j)
            for di, dj in layout.NEIGHBOURS:
                v, r, c = quilt.source(i + di, j + dj)
                if (v, r + quilt.ys.edge(j) - quilt.ys.edge(j + dj), c + quilt.xs.edge(i) - quilt.xs.edge(i + di)) != (
                    variant,
                    row,
                    col,
                ):
                    continue
                pieces += 1
                # both cells, wherever their seam runs, show the level as it is
                y0, x0 = min(quilt.ys.edge(j), quilt.ys.edge(j + dj)), min(quilt.xs.edge(i), quilt.xs.edge(i + di))
                y1 = max(quilt.ys.edge(j + 1), quilt.ys.edge(j + dj + 1))
                x1 = max(quilt.xs.edge(i + 1), quilt.xs.edge(i + di + 1))
                # inside the two cells, away from their other neighbours' seams
                ya, yb = y0 + OVERLAP, y1 - OVERLAP
                xa, xb = x0 + OVERLAP, x1 - OVERLAP
                sy, sx = row + OVERLAP + ya - quilt.ys.edge(j), col + OVERLAP + xa - quilt.xs.edge(i)
                want = level[..., sy : sy + yb - ya, sx : sx + xb - xa]
                assert torch.equal(image[..., ya:yb, xa:xb], want)
    assert pieces >= 5


def test_a_fit_records_its_quilts_continuations_and_older_models_have_none(tmp_path):
    exemplar = _blobs()
    train = TrainConfig(
        steps=(1, 2, 2), batch_size=2, crop_size=16, coarse_side=32, layout_element_px=0, quilt_coherent=4
    )
    assert TrainConfig().quilt_coherent == 0  # off by default (benchmarks/RESULTS, session 30)
    model = patchtex.fit(exemplar, train)
    config = model.config
    assert config.layout_coherent == 4
    level = model.pyramid.generators[0].level
    offset = layout.quilt_offset(
        level,
        cell=config.layout_cell,
        coherent=4,
        feather=config.layout_feather,
        edge_seams=config.layout_edge_seams,
    )
    assert config.layout_train_offset == offset  # the quilts it trains on take no credit
    again = patchtex.load(model.save(tmp_path / "m.patchtex.safetensors"))
    assert again.config.layout_coherent == 4
    assert torch.equal(again.synth((40, 40), seed=3), model.synth((40, 40), seed=3))
    off = patchtex.fit(exemplar, dataclasses.replace(train, quilt_coherent=0))
    assert off.config.layout_coherent == 0
    assert not torch.equal(off.synth((40, 40), seed=3), model.synth((40, 40), seed=3))
    raw = json.loads(config.to_json())
    del raw["layout_coherent"]
    assert ModelConfig.from_json(json.dumps(raw)).layout_coherent == 0
    assert TrainConfig.from_json(json.dumps({"seed": 0})).quilt_coherent == 0
    with pytest.raises(ValueError, match="layout_coherent needs a quilted coarsest scale"):
        ModelConfig(layout_coherent=4)
    with pytest.raises(ValueError, match="quilt_coherent must be 0-4"):
        TrainConfig(quilt_coherent=5)


def test_the_variance_credit_stops_white_cells_favouring_bland_blocks():
    # a level that is half flat grey and half smooth blobs about the same mean: black cells
    # take blocks anywhere. Judged by agreement alone, a flat candidate's difference to a
    # neighbour is the neighbour's variance, an unrelated busy one's more by its own, so
    # nearly every white cell takes a flat block; the credit lets busy blocks that agree
    # with their neighbours win, and at 1 the two kinds compete evenly
    generator = torch.Generator().manual_seed(4)
    level = torch.zeros(1, 1, 48, 96)
    noise = torch.randn(1, 1, 14, 14, generator=generator)
    blobs = torch.nn.functional.interpolate(noise, scale_factor=4, mode="bicubic")[..., :48, :48]
    level[..., 48:] = (blobs / blobs.std()).clamp(-2, 2) * 0.5

    def flat_share(credit: float, colour: int) -> float:
        quilt = Quilt(level, 9, variance_credit=credit)
        cells = [(i, j) for i in range(24) for j in range(24) if (i + j) % 2 == colour]
        return sum(quilt.source(i, j)[2] + CELL // 2 + OVERLAP < 48 for i, j in cells) / len(cells)

    assert 0.3 < flat_share(0.0, 0) < 0.6  # black cells: random places
    assert flat_share(0.0, 1) > 0.95  # agreement alone: nearly every white cell bland
    assert flat_share(0.5, 1) < flat_share(0.0, 1) - 0.1
    assert flat_share(1.0, 1) < 0.5
    with pytest.raises(ValueError, match="variance_credit must be 0-1"):
        Quilt(level, 9, variance_credit=1.5)


def test_only_a_quilt_blander_than_its_level_takes_the_credit():
    generator = torch.Generator().manual_seed(4)
    # grain alike everywhere: every block is as busy as any other, so agreement alone
    # picks no blander ones and the quilt keeps its level's contrast
    grain = torch.rand(1, 3, 48, 96, generator=generator) * 2 - 1
    # half flat, half blobs (as above): agreement alone fills white cells with flat blocks
    mixed = torch.zeros(1, 3, 48, 96)
    noise = torch.randn(1, 3, 14, 14, generator=generator)
    mixed[..., 48:] = torch.nn.functional.interpolate(noise, scale_factor=4, mode="bicubic")[..., :48, :48] * 0.5
    assert layout.quilt_contrast(grain) == pytest.approx(1.0, abs=0.02)
    assert layout.quilt_contrast(mixed) < 0.9
    assert layout.quilt_contrast(mixed, variance_credit=1.0) > layout.quilt_contrast(mixed)
    assert layout.quilt_contrast(torch.zeros(1, 3, 48, 96)) == 1.0
    config = ModelConfig(num_scales=3, channels=(8, 8, 8), layers=(2, 2, 2), layout_size=(48, 96))
    train = TrainConfig()
    assert variance_credit(config, grain, train) == 0.0
    plain = plain_probe(config, grain)  # a fit reuses it for the offset where it takes no credit
    assert layout.quilt_offset(grain, probe=plain) == layout.quilt_offset(grain)
    assert variance_credit(config, mixed, train) == train.quilt_variance_credit > 0
    assert variance_credit(config, mixed, dataclasses.replace(train, quilt_variance_credit=0.3)) == 0.3


def test_a_fit_records_its_quilts_feather_and_variance_credit_and_older_models_draw_as_before(tmp_path):
    exemplar = _blobs()  # a quilt of its level by agreement alone is blander than the level
    train = TrainConfig(steps=(1, 2, 2), batch_size=2, crop_size=16, coarse_side=32, layout_element_px=0)
    model = patchtex.fit(exemplar, train)
    config = model.config
    level = model.pyramid.generators[0].level
    offset = layout.quilt_offset(
        level, cell=config.layout_cell, feather=config.layout_feather, edge_seams=config.layout_edge_seams
    )
    assert config.layout_train_offset == offset  # the quilts it trains on take no credit
    again = patchtex.load(model.save(tmp_path / "m.patchtex.safetensors"))
    assert again.config == config
    assert torch.equal(again.synth((40, 40), seed=3), model.synth((40, 40), seed=3))
    # the credit is the model's where it draws: its finer scales trained as without it
    plain = patchtex.fit(exemplar, dataclasses.replace(train, quilt_variance_credit=0.0))
    # one kind of quilt, one offset: the credited fit's training quilts' own
    assert plain.config == dataclasses.replace(
        config, layout_variance_credit=0.0, layout_offset=config.layout_train_offset, layout_train_offset=()
    )
    weights = plain.pyramid.state_dict()
    assert all(torch.equal(v, weights[k]) for k, v in model.pyramid.state_dict().items())
    assert not torch.equal(plain.synth((96, 96), seed=3), model.synth((96, 96), seed=3))
    rect = (0, 0, 6 * config.layout_cell, 6 * config.layout_cell)
    drawn = Quilt(level, 3, **layout.quilt_options(config))(rect)
    # (the model field, the fit's field, a value out of range); files before a field: 0
    for field, fitted, bad in (
        ("layout_feather", "quilt_feather", -0.1),  # 0: hard cuts
        ("layout_variance_credit", "quilt_variance_credit", 2.0),  # 0: agreement alone
    ):
        assert getattr(config, field) == getattr(train, fitted) > 0
        older = dataclasses.replace(config, **{field: 0.0})
        assert not torch.equal(drawn, Quilt(level, 3, **layout.quilt_options(older))(rect))
        raw = json.loads(config.to_json())
        del raw[field]
        assert getattr(ModelConfig.from_json(json.dumps(raw)), field) == 0.0
        assert getattr(TrainConfig.from_json(json.dumps({"seed": 0})), fitted) == 0.0
        with pytest.raises(ValueError, match=f"{field} needs a quilted coarsest scale"):
            ModelConfig(**{field: 0.5})
        with pytest.raises(ValueError, match=f"{fitted} must be 0-1"):
            TrainConfig(**{fitted: bad})


def test_a_fit_records_whether_its_quilt_cuts_follow_edges_and_older_models_cut_as_before(tmp_path):
    exemplar = _blobs()
    train = TrainConfig(steps=(1, 2, 2), batch_size=2, crop_size=16, coarse_side=32, layout_element_px=0)
    model = patchtex.fit(exemplar, dataclasses.replace(train, quilt_edge_seams=True))
    config = model.config
    assert config.layout_edge_seams and layout.quilt_options(config)["edge_seams"]
    again = patchtex.load(model.save(tmp_path / "m.patchtex.safetensors"))
    assert again.config == config
    level = model.pyramid.generators[0].level
    rect = (0, 0, 6 * config.layout_cell, 6 * config.layout_cell)
    older = dataclasses.replace(config, layout_edge_seams=False)
    drawn = Quilt(level, 3, **layout.quilt_options(config))(rect)
    assert not torch.equal(drawn, Quilt(level, 3, **layout.quilt_options(older))(rect))
    plain = patchtex.fit(exemplar, dataclasses.replace(train, quilt_edge_seams=False))
    assert not plain.config.layout_edge_seams
    _off_before_the_field(config, "layout_edge_seams", "quilt_edge_seams")


def _off_before_the_field(config: ModelConfig, field: str, train_field: str) -> None:
    """A model file and a fit record written before a boolean field existed read it as
    False; and the field needs a quilted coarsest scale."""
    raw = json.loads(config.to_json())
    del raw[field]
    assert not getattr(ModelConfig.from_json(json.dumps(raw)), field)
    assert not getattr(TrainConfig.from_json(json.dumps({"seed": 0})), train_field)
    with pytest.raises(ValueError, match=f"{field} needs a quilted coarsest scale"):
        ModelConfig(**{field: True})


def _courses(
    height: int = 96, width: int = 128, period: float = 26.0, band: int = 8, slope: float = 0.0
) -> torch.Tensor:
    """[1,3,H,W]: courses of bricks `period` px apart (tilted by `slope`), each course a
    `band`-pixel row of one bright colour (lego's yellow rows, bricks' mortar) over a row
    of bricks 7 px wide of random colours, every brick one colour from top to bottom."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    t = (ys + slope * xs) / period
    course = np.floor(t).astype(np.int64)
    brick = (xs + 37 * course) // 7  # staggered course by course
    colours = np.random.default_rng(0).uniform(-1, 0.4, (3, 64, 64))
    out = colours[:, np.mod(course, 64), np.mod(brick.astype(np.int64), 64)]
    out[:, (t - course) * period < band] = 0.9
    return torch.from_numpy(out.astype(np.float32))[None]


def _two_halved_columns(image: torch.Tensor) -> int:
    """Columns of bricks in `image` that hold two colours between two bright rows, two
    rows in from each (a lattice block sits to a fraction of a pixel: its rows next to a
    bright one mix with it)."""
    bright = (image[0] > 0.6).all(0)  # [H, W]
    count = 0
    for x in range(image.shape[-1]):
        run: list[torch.Tensor] = []
        for y in range(image.shape[-2]):
            if bright[y, x]:
                inner = run[2:-2]
                count += any(not torch.allclose(c, inner[0], atol=0.05) for c in inner)
                run = []
            else:
                run.append(image[0, :, y, x])
    return count


def test_cells_laid_along_a_course_cut_only_where_its_rows_agree():
    """A lattice quilt with `aligned` lays its rows of cells one course apart (26 px, not
    16), each edge in a course's bright row (`seam_phase`): a cut across the courses runs
    there and never joins the halves of two bricks. Square cells of 16 px cut mid-brick
    (lego's two-colour bricks). A course shorter than a block keeps square cells."""
    level = _courses()
    wave = np.array([0.0, 1 / 26])
    assert 2 < layout.seam_phase(level, wave) * 26 < 6  # inside the bright row
    lattice = torch.tensor(wave[None], dtype=torch.float64)
    for seed in (1, 2):
        quilt = Quilt(level, seed, lattice=lattice, aligned=True)
        assert quilt.ys.pitch == pytest.approx(26) and quilt.xs.pitch is None
        rect = (-50, 20, 96, 96)
        # (a side cut may still run slantwise through a brick, one pixel a row)
        assert _two_halved_columns(quilt(rect)) <= 3
        assert _two_halved_columns(Quilt(level, seed, lattice=lattice)(rect)) > 100
    short = torch.tensor([[0.0, 1 / (CELL + 2 * OVERLAP - 1)]], dtype=torch.float64)
    assert Quilt(level, 1, lattice=short, aligned=True).ys.pitch is None


def test_a_course_a_little_off_level_is_set_level_on_the_plane_and_its_cuts_stay_in_its_rows():
    """A course tilted 0.5 degrees lays cells as well: the plane's lattice is set level (on
    an endless plane), so 4000 px away the edges are still in the bright rows; left
    tilted, they would have drifted 36 px across them."""
    slope = 0.009
    level = _courses(slope=slope)
    wave = np.array([slope / 26, 1 / 26])
    lattice = torch.tensor(wave[None], dtype=torch.float64)
    quilt = Quilt(level, 3, lattice=lattice, aligned=True)
    assert quilt.plane_lattice[0][0] == 0 and quilt.plane_lattice[0][1] == pytest.approx(1 / 26)
    for x0 in (0, 4000):
        out = quilt((x0, 0, 64, 64))
        for j in range(quilt.ys.cell(0) + 1, quilt.ys.cell(63) + 1):
            edge = quilt.ys.edge(j)
            rows = out[0, :, edge - 1 : edge + 1]
            assert float((rows > 0.6).all(0).float().mean()) > 0.9
    assert not Quilt(level, 3, lattice=lattice, aligned=True, every_wave=True).ys.pitch  # channels keep the tilt


@pytest.mark.parametrize("period", [None, (96, 104), (96, 78)])
def test_a_window_of_a_quilt_laid_along_its_courses_is_exactly_that_part_of_a_larger_one(period):
    level = _courses(slope=0.009)
    lattice = torch.tensor([[0.009 / 26, 1 / 26]], dtype=torch.float64)
    plane = lattice if period is None else quantize_waves(lattice, period).double()
    quilt = Quilt(level, 4, period, lattice=lattice, plane_lattice=plane, aligned=True)
    if period is not None:  # 4 or 3 courses a period: as many rows of cells, one a course
        assert quilt.ys.count == period[1] // 26 and quilt.ys.pitch == pytest.approx(26)
        # the checkerboard wraps: no white cell meets another, across the wrap too (an
        # odd count's last row is black throughout)
        for j in range(-1, quilt.ys.count + 1):
            for i in range(-1, quilt.xs.count + 1):
                if quilt.white(i, j):
                    assert not any(quilt.white(i + di, j + dj) for di, dj in layout.NEIGHBOURS)
        assert sum(quilt.white(i, j) for i in range(quilt.xs.count) for j in range(quilt.ys.count)) >= 6
    big = quilt((-40, -30, 140, 120))
    for x0, y0, w, h in [(0, 0, 20, 20), (-7, 3, 33, 17), (-40, -30, 1, 1), (13, -21, 70, 9)]:
        window = Quilt(level, 4, period, lattice=lattice, plane_lattice=plane, aligned=True)((x0, y0, w, h))
        assert torch.equal(window, big[..., y0 + 30 : y0 + 30 + h, x0 + 40 : x0 + 40 + w])
    if period is not None:
        px, py = period
        assert torch.equal(quilt((0, 0, px, py)), quilt((px, -py, px, py)))


def test_a_fit_records_whether_its_quilt_lays_cells_along_a_wave_and_trains_as_before(tmp_path):
    """`quilt_aligned` changes where a model draws, not what it learns: its finer scales
    train on square cells (`training_quilt_options`), so the weights are the same."""
    exemplar = 0.7 * _lattice_image([(0.0, 1 / 48), (1 / 8, 0.0)], 192) + 0.2 * _blobs(192)
    train = TrainConfig(coarse_steps=1, fine_steps=2, batch_size=2, crop_size=16, coarse_side=32, layout_element_px=0)
    model = patchtex.fit(exemplar, train)
    config = model.config
    assert config.waves and config.layout_aligned and layout.quilt_options(config)["aligned"]
    assert not training_quilt_options(config)["aligned"]
    again = patchtex.load(model.save(tmp_path / "m.patchtex.safetensors"))
    assert again.config == config
    square = patchtex.fit(exemplar, dataclasses.replace(train, quilt_aligned=False))
    assert not square.config.layout_aligned
    # the same training quilts and their offset; the drawn quilts, aligned, get their own
    assert config.layout_train_offset == square.config.layout_train_offset
    assert training_quilt_options(config) == training_quilt_options(square.config)
    assert config.layout_offset != square.config.layout_offset
    assert dataclasses.replace(square.config, layout_aligned=True, layout_offset=config.layout_offset) == config
    for mine, theirs in zip(model.pyramid.state_dict().values(), square.pyramid.state_dict().values()):
        assert torch.equal(mine, theirs)
    assert not torch.equal(model.synth((96, 96), seed=1), square.synth((96, 96), seed=1))
    _off_before_the_field(config, "layout_aligned", "quilt_aligned")


def test_a_lattice_whose_course_lays_the_cells_is_quilted_finer():
    """Lego's kind: studs 16 px apart and courses 96 px apart. The studs put the quilt at
    1/4 (4 px there); a course 24 px long there lays the cells, so it goes to 1/2 with
    cells twice as wide (`layout_course_finer`): the same footprint, the studs 8 px. The
    same lattice turned 20 degrees lays no cells and stays at 1/4."""
    for turn, finer in ((0.0, 2), (0.0, 0), (20.0, 2)):
        c, s = math.cos(math.radians(turn)), math.sin(math.radians(turn))
        waves = [(c / 16, s / 16), (-s / 96, c / 96)]
        exemplar = 0.6 * _lattice_image(waves, 384) + 0.2 * _blobs(384)
        found = waves_for(exemplar, "quilt", None)
        config = config_for(
            exemplar, 40, found, coarse_layout="quilt", layout_side=40, element_px=12.0, course_finer=finer
        )
        quilted_finer = turn == 0 and finer > 0
        assert (config.num_scales, config.layout_cell) == ((2, 32) if quilted_finer else (3, 16))


def test_a_quilt_bank_holds_one_lattice_quilt_at_a_time(monkeypatch):
    """A lattice quilt holds its level at 64 sub-pixel places (~100 MB for a 256 px level):
    a bank of 32 held at once took a 1024 px lattice photo's fit to 3.5 GB (0.6 GB one at
    a time). The bank is the same either way."""
    import weakref

    alive: weakref.WeakSet = weakref.WeakSet()
    most = [0]

    class Counted(Quilt):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            alive.add(self)
            most[0] = max(most[0], len(alive))

    level = _lattice_image([(0.13, 0.071)], 48)
    lattice = torch.tensor([(0.13, 0.071)], dtype=torch.float64)
    want = torch.cat([Quilt(level, k, lattice=lattice)((0, 0, 40, 40)) for k in layout.bank_seeds(3, 6)])
    monkeypatch.setattr(layout, "Quilt", Counted)
    bank = quilt_bank(level, 3, count=6, side=40, lattice=lattice)
    assert most[0] == 1 and torch.equal(bank, want)
