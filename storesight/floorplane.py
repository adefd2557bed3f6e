"""Image <-> floor plan: a camera's homography from 4+ point pairs, and projecting foot points.

A person's foot point lies on the floor, and the floor is a plane, so one 3x3 homography maps a
camera's (normalised) image to floor-plan metres. It is fitted from point pairs an installer marks
(floor tiles, the corners of a mat) by the direct linear transform, least squares for more than 4.

>>> h = fit_homography([(0, 0), (1, 0), (1, 1), (0, 1)], [(2, 3), (6, 3), (6, 5), (2, 5)])
>>> [tuple(round(float(v), 6) for v in p) for p in project(h, [(0.5, 0.5)])]
[(4.0, 4.0)]
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

# Pairs must fit the homography to within this (metres on the floor) when more than 4 are given.
MAX_REPROJECTION_M = 0.25


def _collinear(points: np.ndarray, tolerance: float) -> bool:
    (ax, ay), (bx, by), (cx, cy) = points
    return abs((bx - ax) * (cy - ay) - (by - ay) * (cx - ax)) <= tolerance


def _general_position(points: np.ndarray, tolerance: float) -> bool:
    """At least 4 points of which no 3 are on one line (else the homography is not determined)."""
    return any(all(not _collinear(points[list(tri)], tolerance) for tri in itertools.combinations(quad, 3))
               for quad in itertools.combinations(range(len(points)), 4))


def fit_homography(image: Sequence[Sequence[float]], floor: Sequence[Sequence[float]]) -> np.ndarray:
    """The 3x3 matrix H with floor ~ H @ image (homogeneous); ValueError when the pairs cannot give one."""
    src, dst = np.asarray(image, dtype=np.float64), np.asarray(floor, dtype=np.float64)
    if src.shape != dst.shape or src.ndim != 2 or src.shape[1] != 2:
        raise ValueError("image and floor need the same number of (x, y) points")
    if len(src) < 4:
        raise ValueError("needs at least 4 point pairs")
    if not _general_position(src, 1e-6):
        raise ValueError("the image points need 4 of them with no 3 on one line")
    if not _general_position(dst, 1e-6 * max(1.0, float(np.ptp(dst)) ** 2)):
        raise ValueError("the floor points need 4 of them with no 3 on one line")
    rows = []
    for (x, y), (u, v) in zip(src, dst, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y, -u])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y, -v])
    _, _, vt = np.linalg.svd(np.asarray(rows))
    h = vt[-1].reshape(3, 3)
    if abs(h[2, 2]) < 1e-12 or abs(np.linalg.det(h)) < 1e-12:
        raise ValueError("the point pairs do not give an invertible homography")
    h = h / h[2, 2]
    w = np.c_[src, np.ones(len(src))] @ h[2]
    if not (np.all(w > 0) or np.all(w < 0)):
        raise ValueError("the pairs put points on both sides of the horizon: check their order")
    error = reprojection_error(h, src, dst)
    if error > MAX_REPROJECTION_M:
        raise ValueError(f"the point pairs disagree: a pair is {error:.2f} m off the fitted plane "
                         f"(at most {MAX_REPROJECTION_M} m): a point is probably marked wrong")
    return h


def project(h: np.ndarray, points: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
    """(N, 2) image points -> (N, 2) floor points."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    out = np.c_[pts, np.ones(len(pts))] @ h.T
    return out[:, :2] / out[:, 2:3]


def reprojection_error(h: np.ndarray, image: np.ndarray, floor: np.ndarray) -> float:
    """Largest distance (floor units) between a pair's floor point and its projected image point."""
    return float(np.max(np.linalg.norm(project(h, image) - floor, axis=1)))
