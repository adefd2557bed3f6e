"""Ignore regions drop detections by foot point."""

from __future__ import annotations

import numpy as np

from services.detect.people import from_rows
from services.detect.regions import drop_ignored, inside_any

SQUARE = [(0.2, 0.2), (0.4, 0.2), (0.4, 0.4), (0.2, 0.4)]
TRIANGLE = [(0.6, 0.6), (0.9, 0.6), (0.75, 0.9)]


def test_inside_any_known_points():
    points = np.array([[0.3, 0.3], [0.5, 0.3], [0.75, 0.7], [0.62, 0.85], [0.1, 0.1]])
    assert inside_any(points, [SQUARE, TRIANGLE]).tolist() == [True, False, True, False, False]


def test_drop_ignored_uses_the_foot_point():
    people = from_rows(np.array([
        [0.25, 0.1, 0.35, 0.3, 0.9],  # foot (0.3, 0.3): inside the square
        [0.25, 0.3, 0.35, 0.5, 0.9],  # head inside, foot (0.3, 0.5) outside: a person walking past
    ], dtype=np.float32))
    assert drop_ignored(people, [SQUARE]) == people[1:]
    assert len(drop_ignored(people, [])) == 2
