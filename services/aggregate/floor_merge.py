"""One person seen by several cameras: merge foot points on the floor plan.

Where two cameras see the same floor, the same person appears in both. Projected to the floor
plan (``storesight.floorplane``), their foot points nearly coincide: points of *different* cameras
closer than ``merge_distance_m`` at the same time are one person. Two points of one camera are
always two people (the detector already separated them), so a merged person never holds two points
of the same camera. Pairs are joined closest first, so in a crowd each point goes with its nearest
partner rather than with whichever came first.

>>> people = merge_people([("a", 1, 2.0, 3.0), ("b", 7, 2.2, 3.1), ("a", 2, 2.6, 3.0)], 0.5)
>>> sorted(sorted(p) for p in people)
[[('a', 1), ('b', 7)], [('a', 2)]]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

FloorPoint = tuple[str, int, float, float]  # camera, track id, floor x (m), floor y (m)


def merge_people(points: Sequence[FloorPoint], distance_m: float) -> list[list[tuple[str, int]]]:
    """Group simultaneous floor points into persons; each person is a list of (camera, track)."""
    n = len(points)
    parent = list(range(n))
    cameras: list[set[str]] = [{p[0]} for p in points]

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    if n > 1:
        xy = np.array([(p[2], p[3]) for p in points], dtype=np.float64)
        d = np.linalg.norm(xy[:, None, :] - xy[None, :, :], axis=2)
        i_idx, j_idx = np.triu_indices(n, k=1)
        close = d[i_idx, j_idx] < distance_m
        pairs = sorted(zip(d[i_idx, j_idx][close].tolist(), i_idx[close].tolist(), j_idx[close].tolist(),
                           strict=True))
        for _, i, j in pairs:
            a, b = root(i), root(j)
            if a == b or cameras[a] & cameras[b]:
                continue  # already one person, or the union would hold two points of one camera
            parent[b] = a
            cameras[a] |= cameras[b]
    groups: dict[int, list[tuple[str, int]]] = {}
    for k, p in enumerate(points):
        groups.setdefault(root(k), []).append((p[0], p[1]))
    return list(groups.values())
