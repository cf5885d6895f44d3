"""Noise keyed to global coordinates, and periodicity detection."""

import math

import numpy as np
import pytest
import torch

from patchtex.noise import BLOCK, _spectral_waves, correlation_lattice, find_waves, keyed_noise, wave_field

from .conftest import honeycomb


def test_noise_window_equals_region_of_larger_render():
    big = keyed_noise(7, 2, (-100, -70, 300, 200), 3)
    for x, y, w, h in [
        (-100, -70, 5, 5),
        (-1, -1, 2, 2),
        (BLOCK - 3, BLOCK - 2, 9, 7),
        (0, 0, 1, 1),
        (150, 100, 50, 30),
    ]:
        part = keyed_noise(7, 2, (x, y, w, h), 3)
        assert torch.equal(part, big[..., y + 70 : y + 70 + h, x + 100 : x + 100 + w])


def test_noise_is_standard_normal_and_differs_by_seed_and_scale():
    a = keyed_noise(1, 0, (0, 0, 256, 256), 2)
    assert abs(a.mean().item()) < 0.02 and abs(a.std().item() - 1) < 0.02
    assert not torch.equal(a, keyed_noise(2, 0, (0, 0, 256, 256), 2))
    assert not torch.equal(a, keyed_noise(1, 1, (0, 0, 256, 256), 2))
    # neighbouring blocks are not copies of each other
    assert not torch.equal(a[..., :BLOCK, :BLOCK], a[..., :BLOCK, BLOCK : 2 * BLOCK])


def test_periodic_noise_wraps():
    period = (50, 30)
    base = keyed_noise(3, 1, (0, 0, 50, 30), 2, period)
    shifted = keyed_noise(3, 1, (50, -30, 50, 30), 2, period)
    assert torch.equal(base, shifted)
    wide = keyed_noise(3, 1, (-7, 4, 120, 70), 2, period)
    assert torch.equal(wide[..., :, 7:57][..., 26:56, :], keyed_noise(3, 1, (0, 30, 50, 30), 2, period))


def test_wave_field_window_equals_region():
    waves = torch.tensor([[0.031, 0.0], [0.01, -0.02]])
    phases = torch.tensor([[0.25, 0.5]], dtype=torch.float64)
    big = wave_field(waves, phases, 4, (-20, -20, 60, 60))
    part = wave_field(waves, phases, 4, (5, -3, 10, 11))
    assert torch.allclose(part, big[..., 17:28, 25:35], atol=1e-6)


def _stripes(period_x: float, period_y: float, size: int = 128) -> torch.Tensor:
    y, x = torch.meshgrid(
        torch.arange(size, dtype=torch.float64), torch.arange(size, dtype=torch.float64), indexing="ij"
    )
    img = torch.sin(2 * math.pi * x / period_x) if period_x else torch.sin(2 * math.pi * y / period_y)
    noise = torch.randn(size, size, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    return (0.7 * img + 0.1 * noise).float()[None, None].expand(1, 3, size, size)


@pytest.mark.parametrize("period_x, period_y", [(16, 0), (0, 21.3)])
def test_find_waves_finds_the_period(period_x, period_y):
    waves = find_waves(_stripes(period_x, period_y))
    assert len(waves) >= 1
    kx, ky = waves[0]
    if period_x:
        assert abs(abs(kx) - 1 / period_x) < 0.002 and abs(ky) < 0.002
    else:
        assert abs(abs(ky) - 1 / period_y) < 0.002 and abs(kx) < 0.002


def test_find_waves_ignores_random_texture():
    noise = torch.randn(1, 3, 128, 128, generator=torch.Generator().manual_seed(5)).clamp(-1, 1)
    assert find_waves(noise) == []


def _courses(size: int = 192, pitch: int = 16, every: int = 3) -> torch.Tensor:
    """Rows of bricks between dark joints every `pitch` px; every `every`-th row yellow,
    the others blue of the same brightness: the joints make `pitch` the strongest
    period in brightness, and the pattern only repeats every `every` rows (lego's
    courses)."""
    row = torch.arange(size) // pitch
    yellow = torch.tensor([0.6, 0.6, -0.6])[:, None] * (row % every == 0)
    blue = torch.tensor([-0.2, 0.2, 0.6])[:, None] * (row % every != 0)
    img = (yellow + blue)[:, :, None].expand(3, size, size).clone()
    img[:, torch.arange(size) % pitch < 3, :] = -0.8
    noise = torch.randn(3, size, size, generator=torch.Generator().manual_seed(1))
    return (img + 0.1 * noise).clamp(-1, 1)[None]


@pytest.mark.parametrize("every", [1, 2, 3])
def test_find_waves_returns_the_period_the_pattern_repeats_at(every):
    waves = find_waves(_courses(every=every))
    assert len(waves) >= 1
    kx, ky = waves[0]
    assert abs(kx) < 0.002 and abs(abs(ky) - 1 / (16 * every)) < 0.002


@pytest.mark.parametrize("seed, turned", [(3, False), (7, False), (7, True)])
def test_find_waves_returns_a_honeycombs_cells_not_its_walls_harmonics(seed, turned):
    """A honeycomb's thin walls put more power in its second ring of spectral peaks (the
    lattice's (1, 1) vectors, sqrt 3 times its cells' frequency) than in its first: its two
    strongest waves repeat three times in each cell. `find_waves` returns the first ring
    (the lattice the walls and the cells share), 60 degrees apart: at seed 3 the first
    ring stands as high as a wave must, at seed 7 only half as high. Turned (transposed),
    seed 7's two strongest waves are 120 degrees apart instead of 60."""
    pitch = 18.0  # centre to centre: rows of cells sqrt(3) / 2 x 18 = 15.6 px apart
    image = honeycomb(seed, pitch)
    if turned:
        image = image.transpose(2, 3).contiguous()
    waves = find_waves(image)
    assert len(waves) == 2
    periods = sorted(1 / math.hypot(*k) for k in waves)
    assert all(abs(p - pitch * math.sqrt(3) / 2) < 0.8 for p in periods), periods
    cos = abs(waves[0][0] * waves[1][0] + waves[0][1] * waves[1][1]) / math.prod(math.hypot(*k) for k in waves)
    assert abs(cos - 0.5) < 0.05  # 60 (or 120) degrees apart


@pytest.mark.parametrize("apart", [60, 120])
def test_a_hexagonal_pairs_inner_ring_completes_the_lattice(apart):
    """Two waves of a hexagonal ring, 60 or 120 degrees apart (which pair of the six
    `find_waves` reports depends on how the photo is turned), with the ring inside them
    standing only as half-height peaks: the lattice is the inner ring's."""
    import numpy as np

    from patchtex.noise import _finer_lattice

    size = 128
    b1, b2 = np.array([8.0, 0.0]), np.array([4.0, 4.0 * math.sqrt(3)])  # the inner ring, in bins
    weak = np.zeros((size, size), dtype=bool)
    for v in (b1, b2, b2 - b1):
        for sign in (1, -1):
            weak[round(sign * v[1]) % size, round(sign * v[0]) % size] = True
    k1 = b1 + b2  # the second ring: sqrt(3) x as far out
    k2 = 2 * b2 - b1 if apart == 60 else b2 - 2 * b1
    waves = [tuple(k1 / size), tuple(k2 / size)]
    basis = _finer_lattice(waves, np.zeros_like(weak), weak)
    assert [round(math.hypot(*v) * size, 3) for v in basis] == [8.0, 8.0]
    assert _finer_lattice(waves, np.zeros_like(weak), np.zeros_like(weak)) == waves  # no ring: as found


def _baseplate(pitch: float = 16.08, every: int = 6, tilt: float = 0.4, height: int = 256, width: int = 511):
    """A lego-like wall: round studs on a square lattice of `pitch` px turned `tilt`
    degrees, bricks two studs wide and four tall in random colours, and every `every`
    rows of studs a course of yellow two studs tall (the pattern repeats every course)."""
    gen = torch.Generator().manual_seed(4)
    a = math.radians(tilt)
    y, x = torch.meshgrid(
        torch.arange(height, dtype=torch.float64), torch.arange(width, dtype=torch.float64), indexing="ij"
    )
    u = (math.cos(a) * x + math.sin(a) * y) / pitch + 0.3
    v = (-math.sin(a) * x + math.cos(a) * y) / pitch + 0.6
    col, row = torch.floor(u).long(), torch.floor(v).long()
    fu, fv = u - col - 0.5, v - row - 0.5
    palette = torch.tensor(
        [[0.9, 0.9, 0.9], [0.8, -0.6, -0.6], [-0.6, -0.2, 0.8], [-0.5, 0.5, -0.5], [-0.8, -0.8, -0.8]]
    )
    course = torch.div(row, every, rounding_mode="floor")
    in_course = row - course * every
    table = torch.randint(0, len(palette), (int(course.max() - course.min()) + 1, width), generator=gen)
    pick = table[course - course.min(), torch.div(col - col.min(), 2, rounding_mode="floor")]
    img = torch.where(
        (in_course < 2)[None], torch.tensor([0.8, 0.6, -0.7])[:, None, None], palette[pick].permute(2, 0, 1)
    )
    stud = fu**2 + fv**2 < 0.32**2
    lit = stud & (fu + fv < 0)  # lit from the top left, a shadow to the bottom right
    shadow = ((fu - 0.14) ** 2 + (fv - 0.14) ** 2 < 0.32**2) & ~stud
    img = img + 0.3 * lit.double() - 0.5 * shadow.double()
    joint = ((fu > 0.46) & (col % 2 == 1) & (in_course >= 2)) | (
        (fv > 0.46) & ((in_course == 1) | (in_course == every - 1))
    )
    img = torch.where(joint[None], img * 0.5, img)
    noise = torch.randn(3, height, width, generator=gen, dtype=torch.float64)
    return (img + 0.03 * noise).clamp(-1, 1).float()[None]


@pytest.mark.parametrize("pitch, tilt", [(16.08, 0.0), (16.08, -0.2), (16.08, -0.4), (15.3, 0.4)])
def test_find_waves_places_a_lattice_of_courses_on_its_studs(pitch, tilt):
    """A lego-like wall whose pattern repeats every six studs (a course), turned a little:
    a course's period and direction are read off little of the spectrum (a peak's
    fraction of a bin, times the three periods `supercell` finds; its direction came out
    0.2-0.5 degrees off), yet a quilt block moved a course or two must land on its
    studs. `find_waves` returns the courses within 0.3 % and 0.1 degrees, and the other
    wave on the studs' lattice (a whole number of cycles a stud step, within 0.01)."""
    waves = find_waves(_baseplate(pitch=pitch, tilt=tilt))
    assert len(waves) == 2
    courses, other = sorted(waves, key=lambda k: math.hypot(*k))
    assert abs(1 / math.hypot(*courses) / (6 * pitch) - 1) < 0.003, 1 / math.hypot(*courses)
    assert abs(math.degrees(math.atan2(courses[1], courses[0])) - (90 + tilt)) < 0.1, courses
    a = math.radians(tilt)
    for step in ((math.cos(a), math.sin(a)), (-math.sin(a), math.cos(a))):
        cycles = pitch * (other[0] * step[0] + other[1] * step[1])
        assert abs(cycles - round(cycles)) < 0.01, (other, cycles)


def test_find_waves_reads_a_larger_photo_of_the_same_wall_as_the_same_lattice():
    """The wall of `_baseplate` at 1.5, 2 and 3 times the size (as a larger photo of it
    would be): its stud harmonics at 8-16 px outranked the studs and were taken back to a
    bogus fundamental (22.5 px across), and its courses were lost. `find_waves` reads the
    same courses and stud lattice as at the bench's size (`WAVE_SIDE`); and a fine
    period a downscaled read cannot see is still found at full size."""
    import torch.nn.functional as F

    small = find_waves(_baseplate(tilt=0.0))
    for k in (1.5, 2.0, 3.0):
        waves = find_waves(F.interpolate(_baseplate(tilt=0.0), scale_factor=k, mode="bicubic").clamp(-1, 1))
        assert len(waves) == 2
        for (kx, ky), (sx, sy) in zip(waves, small):
            assert math.hypot(kx * k - sx, ky * k - sy) < 0.002 * math.hypot(sx, sy), (k, waves, small)
        courses, other = sorted(waves, key=lambda v: math.hypot(*v))
        assert abs(1 / math.hypot(*courses) / (6 * 16.08 * k) - 1) < 0.003
        for step in ((1.0, 0.0), (0.0, 1.0)):
            cycles = 16.08 * k * (other[0] * step[0] + other[1] * step[1])
            assert abs(cycles - round(cycles)) < 0.01, (k, other, cycles)
    fine = find_waves(_stripes(0, 12, size=768))  # 3 px at the downscaled read
    assert len(fine) == 1 and abs(1 / math.hypot(*fine[0]) - 12) < 0.05, fine


NET_STEPS = ((40.0, 0.0), (6.0, 44.0))


def _net(seed: int, width: int = 96, height: int = 192) -> torch.Tensor:
    """A knotted net (knots on the lattice `NET_STEPS`, ropes along its second step) two
    and a bit cells across, as the bench's 96 px knots exemplar is."""
    y, x = torch.meshgrid(
        torch.arange(height, dtype=torch.float64), torch.arange(width, dtype=torch.float64), indexing="ij"
    )
    steps = torch.tensor(NET_STEPS, dtype=torch.float64).T
    uv = torch.linalg.solve(steps, torch.stack([x.ravel() + 7, y.ravel() + 5]))  # lattice coordinates
    du, dv = (uv - uv.round()).reshape(2, height, width)
    px, py = du * NET_STEPS[0][0] + dv * NET_STEPS[1][0], du * NET_STEPS[0][1] + dv * NET_STEPS[1][1]
    knot = torch.exp(-(px**2 + py**2) / (2 * 7.0**2))
    rope = torch.exp(-((px - py * NET_STEPS[1][0] / NET_STEPS[1][1]) ** 2) / (2 * 2.5**2))
    img = torch.maximum(knot, 0.7 * rope) * 1.6 - 0.8
    img = img + 0.15 * torch.randn(height, width, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return img.clamp(-1, 1).float()[None, None].expand(1, 3, height, width).contiguous()


def _on_net_lattice(waves) -> bool:
    """Whether `waves` are the lattice `NET_STEPS` repeats on: a whole number of cycles
    along each step, and one cell of the same area."""
    if len(waves) != 2:
        return False
    whole = all(abs(c - round(c)) < 0.05 for k in waves for a in NET_STEPS for c in [k[0] * a[0] + k[1] * a[1]])
    area = 1 / abs(waves[0][0] * waves[1][1] - waves[0][1] * waves[1][0])
    return whole and abs(area / (40 * 44) - 1) < 0.03


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_find_waves_reads_a_net_repeated_twice_across(seed):
    """With two and a half cells across, the spectrum's fundamentals fall under the three
    repeats a spectral peak needs and the Hann window smears them: the spectrum reads the
    knots' harmonics (a finer lattice, or one wave, or none). The autocorrelation reads
    the net's own lattice (`correlation_lattice`), and beats the harmonics' lattice."""
    net = _net(seed)
    assert not _on_net_lattice(_spectral_waves(net.double(), 2, 40.0))
    waves = find_waves(net)
    assert _on_net_lattice(waves), waves
    assert all(ky > 0 or (ky == 0 and kx > 0) for kx, ky in waves)


def test_correlation_lattice_sees_no_lattice_in_noise_or_stripes():
    """Noise, smooth noise and stripes repeated twice have no 2D lattice: stripes
    correlate all along their ridge, halfway between any two steps too."""
    import torch.nn.functional as F

    generator = torch.Generator().manual_seed(2)
    rough = torch.randn(3, 96, 192, generator=generator, dtype=torch.float64).clamp(-1, 1)
    smooth = F.avg_pool2d(torch.randn(3, 104, 200, generator=generator, dtype=torch.float64)[None], 9, 1)[0]
    y, x = torch.meshgrid(
        torch.arange(96.0, dtype=torch.float64), torch.arange(96.0, dtype=torch.float64), indexing="ij"
    )
    grain = 0.3 * torch.randn(3, 96, 96, generator=generator, dtype=torch.float64)  # peaks all along the ridge
    stripes = [torch.sin(2 * math.pi * t / 40)[None] + grain for t in (x, y)]
    for image in (rough, smooth, *stripes):
        assert correlation_lattice(image.numpy()) == []


BOND = ((160.0, 0.0), (80.0, 53.5))  # a running bond's steps: one brick along, a course up and half a brick


def _bond(seed: int, width: int = 231, height: int = 386, joint: float = 6.0) -> torch.Tensor:
    """A brick wall in running bond (`BOND`), each brick its own shade, 1.4 bricks across
    (a 231 x 386 crop of the bench's wall at 2x, whose spectrum read the wrong pair)."""
    gen = torch.Generator().manual_seed(seed)
    y, x = torch.meshgrid(
        torch.arange(height, dtype=torch.float64), torch.arange(width, dtype=torch.float64), indexing="ij"
    )
    (length, _), (half, course) = BOND
    row = torch.floor((y + 17) / course)
    along = x + 31 + half * (row % 2)
    col = torch.floor(along / length)
    mortar = ((y + 17 - course * row) < joint) | ((along - length * col) < joint)
    shades = torch.rand(64, 64, generator=gen, dtype=torch.float64) * 0.4
    shade = shades[row.long() % 64, col.long() % 64]
    brick = torch.stack([0.3 + shade, -0.4 + shade / 2, -0.5 + shade / 2])
    grey = torch.tensor([0.5, 0.45, 0.4], dtype=torch.float64)[:, None, None].expand(3, height, width)
    grain = 0.1 * torch.randn(3, height, width, generator=gen, dtype=torch.float64)
    return (torch.where(mortar[None], grey, brick) + grain).clamp(-1, 1)[None].float()


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_find_waves_keeps_a_running_bond_in_step(seed):
    """Every step of the lattice read off a running bond 1.4 bricks across is a step of
    the wall's own (the bond's, or a coarser lattice within it): blocks placed in step
    with it are in step with the wall. Its spectrum read a course's third harmonic one
    bin off level at two of these seeds (35 px at 78-81 degrees, or 106 px at 96-98); its
    autocorrelation reads the bond, whose course shift (half the sum of its two diagonal
    steps) still correlates through the level joints (`CORR_CONTRAST`)."""
    waves = find_waves(_bond(seed))
    assert len(waves) == 2
    steps = np.linalg.inv(np.array(waves))  # columns: the found lattice's steps
    in_bond = np.linalg.solve(np.array(BOND).T, steps)  # each step in the bond's steps
    assert np.abs(in_bond - np.round(in_bond)).max() < 0.05, (waves, in_bond)
