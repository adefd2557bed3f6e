"""Which configured zones a foot point (normalised coordinates) lies in."""

from __future__ import annotations

from collections.abc import Sequence


def inside(point: tuple[float, float], polygon: Sequence[tuple[float, float]]) -> bool:
    """Even-odd ray casting: True when ``point`` is inside ``polygon`` or on its border.

    The border counts: a foot point is often exactly on the image edge (y = 1.0) when a
    person's feet are cut off, and a zone drawn to the edge must still contain it.
    """
    x, y = point
    result = False
    for (x0, y0), (x1, y1) in zip(polygon, list(polygon[1:]) + [polygon[0]], strict=True):
        cross = (x1 - x0) * (y - y0) - (y1 - y0) * (x - x0)
        if abs(cross) < 1e-12 and min(x0, x1) <= x <= max(x0, x1) and min(y0, y1) <= y <= max(y0, y1):
            return True
        if (y0 > y) != (y1 > y) and x < x0 + (y - y0) * (x1 - x0) / (y1 - y0):
            result = not result
    return result


def zones_at(point: tuple[float, float], zones: Sequence[tuple[str, Sequence[tuple[float, float]]]]) -> list[str]:
    return [zone_id for zone_id, polygon in zones if inside(point, polygon)]
