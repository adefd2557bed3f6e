"""Ignore regions: image areas where detections are not people of interest.

A camera may see a poster, a mannequin or a figure that never moves; calibrating the camera
with ``storesight detect-file`` shows it, and a polygon in ``cameras[].ignore_regions`` drops
every detection whose foot point falls inside. Normalised coordinates, like zones.
"""

from __future__ import annotations

import numpy as np
import supervision as sv

from services.detect.people import feet

Polygon = list[tuple[float, float]]


def inside_any(points: np.ndarray, polygons: list[Polygon]) -> np.ndarray:
    """Boolean mask: which (N, 2) points lie inside at least one polygon (even-odd rule)."""
    result = np.zeros(len(points), dtype=bool)
    x, y = points[:, 0], points[:, 1]
    for polygon in polygons:
        poly = np.asarray(polygon, dtype=np.float64)
        x0, y0 = poly[:, 0], poly[:, 1]
        x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
        crosses = (y0[None] > y[:, None]) != (y1[None] > y[:, None])
        with np.errstate(divide="ignore", invalid="ignore"):
            x_at = x0[None] + (y[:, None] - y0[None]) * (x1 - x0)[None] / (y1 - y0)[None]
        result |= (crosses & (x[:, None] < x_at)).sum(axis=1) % 2 == 1
    return result


def drop_ignored(people: sv.Detections, polygons: list[Polygon]) -> sv.Detections:
    """The people (normalised) whose foot point is outside every polygon."""
    if not polygons or len(people) == 0:
        return people
    inside = inside_any(feet(people), polygons)
    return people[~inside] if inside.any() else people
