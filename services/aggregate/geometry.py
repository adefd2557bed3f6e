"""Zone membership and line sides, vectorised over many points and many shapes at once.

Everything is in normalised image coordinates (0..1). One numpy call answers "which of
these N foot points lies in which of these Z polygons", so a whole batch of frames of a
camera costs a handful of array operations instead of a Python loop per person and zone.

>>> import numpy as np
>>> zones = PolygonSet([[(0, 0), (1, 0), (1, 1), (0, 1)]])
>>> zones.contains(np.array([[0.5, 0.5], [2.0, 0.5]])).tolist()
[[True], [False]]

``frame_geometry`` is that pass for the frames of one camera in a batch: zone counts, zone
bit masks, line sides and heat cells of every person, as plain ints.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

Point = tuple[float, float]
_BITS = 62  # polygons per int64 mask chunk (more zones take more chunks)
_EDGE = np.nextafter(1.0, 0.0)  # the image's right/bottom edge, taken as just inside


class PolygonSet:
    """Several polygons whose edges are stacked into flat arrays for one even-odd test."""

    def __init__(self, polygons: Sequence[Sequence[Point]]):
        self.count = len(polygons)
        starts, ends, owner = [], [], []
        for index, polygon in enumerate(polygons):
            pts = np.asarray(polygon, dtype=np.float64)
            starts.append(pts)
            ends.append(np.roll(pts, -1, axis=0))
            owner.extend([index] * len(pts))
        if polygons:
            start, end = np.concatenate(starts), np.concatenate(ends)
        else:
            start = end = np.zeros((0, 2))
        self._x0, self._y0 = start[:, 0], start[:, 1]
        self._x1, self._y1 = end[:, 0], end[:, 1]
        self._dx = self._x1 - self._x0
        # Horizontal edges never straddle a horizontal ray, so their dy is never used: avoid 0.
        dy = self._y1 - self._y0
        self._dy = np.where(dy == 0, 1.0, dy)
        sizes = np.bincount(np.asarray(owner, dtype=np.intp), minlength=self.count)
        self._first_edge = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.intp)

    def contains(self, points: np.ndarray) -> np.ndarray:
        """Boolean (N, Z): point n lies inside polygon z (even-odd rule; edges half-open).

        A point on the image's right or bottom edge (1.0: the foot of a person whose box the frame
        cuts, as detect clips boxes) is taken just inside it, so a zone drawn to that edge holds
        it, as one drawn to the left or top edge (0.0) does.

        >>> PolygonSet([[(0.5, 0.5), (1, 0.5), (1, 1), (0.5, 1)]]).contains(np.array([[0.7, 1.0], [1.0, 0.7]])).tolist()
        [[True], [True]]
        """
        points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        if self.count == 0 or len(points) == 0:
            return np.zeros((len(points), self.count), dtype=bool)
        points = np.where(points == 1.0, _EDGE, points)
        px, py = points[:, :1], points[:, 1:2]
        straddles = (self._y0 > py) != (self._y1 > py)
        x_cross = self._x0 + (py - self._y0) * self._dx / self._dy
        crossings = straddles & (px < x_cross)
        parity = np.add.reduceat(crossings.astype(np.int8), self._first_edge, axis=1)
        return (parity & 1).astype(bool)


def bit_masks(inside: np.ndarray) -> list[int]:
    """Per row of an (N, Z) bool array (``PolygonSet.contains``), an int whose bit z is row[z].

    One plain int per point is much cheaper to hand to Python code than a row of bools
    (``tolist()`` of the bool array dominated the aggregator's per-frame cost).
    """
    masks = [0] * len(inside)
    for first in range(0, inside.shape[1], _BITS):
        part = inside[:, first:first + _BITS].astype(np.int64)
        bits = (part << np.arange(part.shape[1], dtype=np.int64)).sum(axis=1).tolist()
        masks = bits if first == 0 else [m | (b << first) for m, b in zip(masks, bits, strict=True)]
    return masks


class LineSet:
    """Counting lines: signed distance of points to each line, positive on the inside."""

    def __init__(self, lines: Sequence[tuple[Point, Point, Point]]):
        """``lines``: (a, b, in_point) per line."""
        self.count = len(lines)
        arr = np.asarray([(a, b) for a, b, _ in lines], dtype=np.float64).reshape(-1, 2, 2)
        self._a = arr[:, 0]
        direction = arr[:, 1] - arr[:, 0]
        self._length = np.hypot(direction[:, 0], direction[:, 1])
        self._unit = direction / np.where(self._length == 0, 1, self._length)[:, None]
        inside = np.asarray([p for _, _, p in lines], dtype=np.float64).reshape(-1, 2)
        # Orient each normal so that the in_point has a positive distance.
        normal = np.stack([-self._unit[:, 1], self._unit[:, 0]], axis=1)
        sign = np.sign(((inside - self._a) * normal).sum(axis=1))
        self._normal = normal * np.where(sign == 0, 1, sign)[:, None]

    def signed_distance(self, points: np.ndarray) -> np.ndarray:
        """(N, L) distance of each point to each line (normalised units), > 0 on the inside."""
        points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        rel = points[:, None, :] - self._a[None, :, :]
        return (rel * self._normal[None]).sum(axis=2)

    def sides(self, points: np.ndarray, debounce: float) -> np.ndarray:
        """(N, L) int8: +1 more than ``debounce`` inside, -1 more than ``debounce`` outside,
        0 within the band or not beside the segment (such a point says nothing about a crossing)."""
        distance = self.signed_distance(points)
        side = (distance > debounce).astype(np.int8) - (distance < -debounce).astype(np.int8)
        return side * self.within_segment(points)

    def within_segment(self, points: np.ndarray) -> np.ndarray:
        """(N, L) whether each point projects onto the segment between a and b."""
        points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        rel = points[:, None, :] - self._a[None, :, :]
        along = (rel * self._unit[None]).sum(axis=2)
        return (along >= 0) & (along <= self._length[None])


def grid_cells(feet: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """Row-major cell of a (grid_x, grid_y) grid under each normalised (N, 2) foot point (clipped).

    >>> grid_cells(np.array([[0.1, 0.1], [0.99, 0.6], [1.5, -1.0]]), (4, 2)).tolist()
    [0, 7, 3]
    """
    gx, gy = grid
    ix = np.minimum(np.maximum((feet[:, 0] * gx).astype(np.intp), 0), gx - 1)
    iy = np.minimum(np.maximum((feet[:, 1] * gy).astype(np.intp), 0), gy - 1)
    return iy * gx + ix


def frame_geometry(feet_per_frame: Sequence[Sequence[Point]], polygons: PolygonSet, lines: LineSet,
                   debounce: float, grid: tuple[int, int]) -> list[tuple]:
    """Per frame: (count per zone + the view's count, zone bit mask per person, line sides per person
    or None without lines, heat cell per person), from one numpy pass over all persons of all frames.

    Everything handed back is plain Python ints in flat lists: the per-frame code then never
    touches numpy scalars or rows of bools, which cost more than the geometry itself.

    >>> square = PolygonSet([[(0, 0), (0.5, 0), (0.5, 1), (0, 1)]])
    >>> door = LineSet([((0.5, 0), (0.5, 1), (0, 0.5))])
    >>> frame_geometry([[(0.2, 0.5), (0.9, 0.5)], []], square, door, 0.01, (2, 1))
    [([1, 2], [1, 0], [[1], [-1]], [0, 1]), ([0, 0], [], [], [])]
    """
    sizes = [len(f) for f in feet_per_frame]
    rows: list = []
    for f in feet_per_frame:
        rows.extend(f if isinstance(f, list) else np.asarray(f).tolist())
    feet = np.array(rows, dtype=np.float64).reshape(-1, 2)
    inside = polygons.contains(feet)
    masks = bit_masks(inside)
    bounds = list(itertools.accumulate(sizes, initial=0))  # plain ints: cheap to slice with
    counts = np.zeros((len(sizes), inside.shape[1]), dtype=np.int64)
    nonempty = np.asarray(sizes) > 0
    if nonempty.any():
        starts = np.asarray(bounds[:-1])[nonempty]
        counts[nonempty] = np.add.reduceat(inside.astype(np.int64), starts, axis=0)
    counts = np.concatenate([counts, np.asarray(sizes)[:, None]], axis=1).tolist()
    sides = lines.sides(feet, debounce).tolist() if lines.count else None
    cells = grid_cells(feet, grid).tolist()
    return [(counts[k], masks[bounds[k]:bounds[k + 1]], None if sides is None else sides[bounds[k]:bounds[k + 1]],
             cells[bounds[k]:bounds[k + 1]]) for k in range(len(sizes))]
