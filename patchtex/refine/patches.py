"""Exemplar-based hole filling from the image's own known pixels (no model).

Coarse to fine over a pyramid of the image, each hole pixel is rebuilt from the known
patches most like the patches around it (Wexler, Shechtman and Irani's completion: a
nearest-neighbour field found by PatchMatch, then every hole pixel is the weighted vote
of the patches that cover it). Where the structure to draw is already in the image, a
thin scratch across a brick wall for one, copying it continues mortar lines and brick
edges at the right phase, which a generator given a smeared guess does not.

Deterministic per seed: PatchMatch's random search draws from one seeded generator.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..model import push_pull_fill

PATCH = 11  # patch side
MIN_SIDE = 24  # the coarsest level's short side is at least this
MIN_SOURCES = 64  # ... and it has at least this many whole known patches
EM_STEPS = 4  # search-and-vote rounds per level
SEARCHES = 3  # PatchMatch passes per round (propagation and random search)
RADIUS = 16  # the widest local random search, in pixels (one more candidate is drawn anywhere)
DIMS = 16  # principal components a patch is compared by
SAMPLE = 4096  # known patches that decide them
CHUNK = 1 << 16  # patches compared or described per batch (bounded memory on large images)


def patch_fill(image: torch.Tensor, hole: torch.Tensor, seed: int) -> torch.Tensor:
    """`image` ([1,C,H,W]) with the pixels where `hole` ([1,1,H,W], 1 = fill) is set
    rebuilt from its known patches; every other pixel is returned unchanged."""
    hole = (hole > 0).float()
    if not bool(hole.any()) or bool(hole.all()):
        return image.clone()
    generator = torch.Generator().manual_seed(seed)
    images, holes = [image.float()], [hole]
    while min(images[-1].shape[-2:]) // 2 >= MIN_SIDE and _depth(holes[-1]) > 2:
        known = 1 - holes[-1]
        total = F.avg_pool2d(known, 2)
        images.append(F.avg_pool2d(images[-1] * known, 2) / total.clamp_min(1e-6))
        holes.append((total < 1).float())  # a coarse pixel is a hole if any of its own are
    problems = [_Problem(mask) for mask in holes]
    while len(problems) > 1 and len(problems[-1].sources) < MIN_SOURCES:
        problems.pop()  # too few whole known patches at the coarsest level to copy from
    if not len(problems[0].sources):
        return torch.where(hole > 0, push_pull_fill(image, 1 - hole), image)
    x = push_pull_fill(images[len(problems) - 1], 1 - holes[len(problems) - 1])
    coarser: tuple[torch.Tensor, int] | None = None
    for level in range(len(problems) - 1, -1, -1):
        target, mask, problem = images[level], holes[level], problems[level]
        if coarser is not None:
            x = F.interpolate(x, size=target.shape[-2:], mode="bilinear", align_corners=False)
        x = torch.where(mask > 0, x, target)
        problem.fit_basis(x, generator)
        problem.describe(x)
        field = problem.start(coarser, generator)
        for step in range(EM_STEPS):
            for _ in range(SEARCHES):
                field = problem.search(x, field, generator)
            x = problem.vote(x, field, sharp=level == 0 and step == EM_STEPS - 1)
            problem.redescribe(x)
        coarser = (problem.full(field), problem.width)
    return torch.where(hole > 0, x.to(image.dtype), image)


def _depth(hole: torch.Tensor) -> float:
    """The largest distance from a hole pixel to a known one."""
    from scipy.ndimage import distance_transform_edt

    return float(distance_transform_edt(hole[0, 0].numpy() > 0).max())


class _Problem:
    """One level's search: queries are the patch centres whose patch touches the hole,
    sources the centres whose whole patch is known and inside the image. A field holds,
    per query, the flat index of its source."""

    def __init__(self, mask: torch.Tensor) -> None:
        r = PATCH // 2
        self.height, self.width = mask.shape[-2:]
        touched = F.max_pool2d(mask, PATCH, stride=1, padding=r)[0, 0] > 0
        self.queries = touched.flatten().nonzero()[:, 0]
        inside = torch.zeros(self.height, self.width, dtype=torch.bool)
        inside[r : self.height - r, r : self.width - r] = True
        self.valid = inside & ~touched
        self.sources = self.valid.flatten().nonzero()[:, 0]
        self.query_of = torch.full((self.height * self.width,), -1, dtype=torch.long)
        self.query_of[self.queries] = torch.arange(len(self.queries))
        self.hole = mask[0, 0].flatten() > 0

    def _random(self, count: int, generator: torch.Generator) -> torch.Tensor:
        return self.sources[torch.randint(len(self.sources), (count,), generator=generator)]

    def full(self, field: torch.Tensor) -> torch.Tensor:
        """[H*W]: each query pixel's source, -1 elsewhere."""
        out = torch.full((self.height * self.width,), -1, dtype=torch.long)
        out[self.queries] = field
        return out

    def start(self, coarser: tuple[torch.Tensor, int] | None, generator: torch.Generator) -> torch.Tensor:
        """An initial field: the coarser level's (`full` and its width), scaled up, where
        it points at a valid source; random sources elsewhere."""
        field = self._random(len(self.queries), generator)
        if coarser is None:
            return field
        parents, width = coarser
        height = len(parents) // width
        qy, qx = self.queries // self.width, self.queries % self.width
        parent = parents[(qy // 2).clamp_max(height - 1) * width + (qx // 2).clamp_max(width - 1)]
        sy = (parent // width) * 2 + qy % 2
        sx = (parent % width) * 2 + qx % 2
        ok = (parent >= 0) & (sy < self.height) & (sx < self.width)
        candidate = sy.clamp(0, self.height - 1) * self.width + sx.clamp(0, self.width - 1)
        ok &= self.valid.flatten()[candidate]
        return torch.where(ok, candidate, field)

    def _padded(self, x: torch.Tensor) -> torch.Tensor:
        """[C, (H+2r)*(W+2r)]: `x` reflected past its border by half a patch, flattened."""
        r = PATCH // 2
        return F.pad(x, (r, r, r, r), mode="reflect")[0].flatten(1)

    def _patches_at(self, flat: torch.Tensor, at: torch.Tensor) -> torch.Tensor:
        """[C*P*P, n]: the patches of `_padded` pixels `flat` centred at flat indices `at`
        (of the unpadded image), in `F.unfold`'s order (channel, row, column)."""
        r = PATCH // 2
        wide = self.width + 2 * r
        offsets = torch.arange(-r, r + 1)
        offsets = (offsets[:, None] * wide + offsets[None, :]).flatten()[:, None]
        return flat[:, offsets + (at // self.width + r) * wide + at % self.width + r].flatten(0, 1)

    def fit_basis(self, x: torch.Tensor, generator: torch.Generator) -> None:
        """The principal axes of this level's known patches: patches are compared by their
        first `DIMS` coordinates there (11x11x3 = 363 values reduced to 16 keep the
        ranking of near neighbours, and a comparison costs a twentieth)."""
        pick = self.sources[torch.randperm(len(self.sources), generator=generator)[:SAMPLE]]
        sample = self._patches_at(self._padded(x), pick).T.double()
        _, _, v = torch.linalg.svd(sample - sample.mean(0), full_matrices=False)
        self.basis = v[:DIMS].float().view(-1, x.shape[1], PATCH, PATCH)

    def describe(self, x: torch.Tensor) -> None:
        """Every pixel's patch in `fit_basis`'s coordinates, kept as `features` [DIMS, H*W]
        (once per level: a source's patch is all known pixels and never changes)."""
        r = PATCH // 2
        self.features = F.conv2d(F.pad(x, (r, r, r, r), mode="reflect"), self.basis)[0].flatten(1)

    def redescribe(self, x: torch.Tensor) -> None:
        """`features` of the queries again, whose patches hold hole pixels that changed."""
        basis, flat = self.basis.flatten(1), self._padded(x)
        for start in range(0, len(self.queries), CHUNK):
            part = self.queries[start : start + CHUNK]
            self.features[:, part] = basis @ self._patches_at(flat, part)

    def _distance(self, queries: torch.Tensor, sources: torch.Tensor) -> torch.Tensor:
        """Squared distance between the patches at `queries` and at `sources` (flat
        indices of equal length) in `describe`'s coordinates."""
        out = torch.empty(len(queries))
        for start in range(0, len(queries), CHUNK):
            part = slice(start, start + CHUNK)
            out[part] = (self.features[:, queries[part]] - self.features[:, sources[part]]).pow(2).sum(0)
        return out

    def search(self, x: torch.Tensor, field: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """One PatchMatch pass, every query at once: each keeps the best of its source,
        its four neighbours' sources shifted by one pixel, and random sources near its own
        at shrinking radii plus one anywhere."""
        qy, qx = self.queries // self.width, self.queries % self.width
        candidates = [field]
        for ey, ex in ((0, 1), (0, -1), (1, 0), (-1, 0)):
            ny, nx = qy + ey, qx + ex
            inside = (ny >= 0) & (ny < self.height) & (nx >= 0) & (nx < self.width)
            neighbour = self.query_of[(ny.clamp(0, self.height - 1) * self.width + nx.clamp(0, self.width - 1))]
            source = field[neighbour.clamp_min(0)] - ey * self.width - ex
            candidates.append(torch.where(inside & (neighbour >= 0), source, field))
        sy, sx = field // self.width, field % self.width
        radius = RADIUS
        while radius >= 1:
            jy = torch.randint(-radius, radius + 1, (len(field),), generator=generator)
            jx = torch.randint(-radius, radius + 1, (len(field),), generator=generator)
            candidates.append((sy + jy).clamp(0, self.height - 1) * self.width + (sx + jx).clamp(0, self.width - 1))
            radius //= 2
        candidates.append(self._random(len(field), generator))
        best = self._distance(self.queries, field)
        valid = self.valid.flatten()
        for candidate in candidates[1:]:
            candidate = candidate.clamp(0, self.height * self.width - 1)
            candidate = torch.where(valid[candidate], candidate, field)
            cost = self._distance(self.queries, candidate)
            better = cost < best
            field, best = torch.where(better, candidate, field), torch.where(better, cost, best)
        return field

    def vote(self, x: torch.Tensor, field: torch.Tensor, sharp: bool = False) -> torch.Tensor:
        """Each hole pixel becomes the weighted mean of what the patches covering it say
        it is, a patch's weight falling with its distance to its source; `sharp`: the
        value of the covering patch closest to its source alone (no averaging across
        patches that disagree by a pixel, which blurs a mortar line)."""
        flat = x[0].flatten(1)
        best = self._distance(self.queries, field)
        weight = torch.exp(-best / (2 * best.median().clamp_min(1e-6)))
        total = torch.zeros_like(flat)
        mass = torch.zeros(flat.shape[1])
        nearest = torch.full((flat.shape[1],), float("inf"))
        r = PATCH // 2
        qy, qx = self.queries // self.width, self.queries % self.width
        for dy in range(-r, r + 1):
            for dx in range(-r, r + 1):
                ty, tx = qy + dy, qx + dx
                inside = (ty >= 0) & (ty < self.height) & (tx >= 0) & (tx < self.width)
                target = (ty * self.width + tx)[inside]
                source = (field + dy * self.width + dx)[inside]
                if sharp:  # one query per target at a given offset: no clashes
                    closer = best[inside] < nearest[target]
                    total[:, target[closer]] = flat[:, source[closer]]
                    nearest[target[closer]] = best[inside][closer]
                    mass[target[closer]] = 1.0
                else:
                    w = weight[inside]
                    total.index_add_(1, target, flat[:, source] * w)
                    mass.index_add_(0, target, w)
        voted = total / mass.clamp_min(1e-12)
        out = torch.where(self.hole & (mass > 0), voted, flat)
        return out.view_as(x)
