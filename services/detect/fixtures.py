"""Static fixtures: person-shaped things that never move (mannequins, posters, a jacket on the grass).

A detector reports them as people in every frame. They are recognised per camera from one cue:
how long a detection stays in exactly one place. A *spot* is a box that detections keep
overlapping (IoU >= ``same_place_iou``, 0.5, with where it was first seen) with no gap longer than
``max_gap_s``. A spot held for ``fixture_after_s`` becomes a fixture, and detections on it are
dropped before tracking; a fixture not seen for ``forget_after_s`` (the mannequin was moved) is
forgotten.

The boundary: a real person standing still is a spot too, so ``fixture_after_s`` (default 15
minutes) is longer than people stand still in a shop; someone standing still for 14 minutes
is never suppressed, a figure unmoving for 15 is. Walking people never hold a spot: their box
leaves the IoU tolerance within a second.

``propose_regions`` is the offline form for ``storesight calibrate``: spots held for most of a
sample clip, as ``ignore_regions`` polygons around their foot points for an installer to review.

>>> from services.detect.people import people
>>> f = StaticFixtures(FixtureSettings(fixture_after_s=60))
>>> mannequin = people([[0.10, 0.20, 0.15, 0.40]], [0.9])
>>> kept = [len(f.filter(mannequin, k / 2)) for k in range(130)]  # 2 frames a second
>>> kept.index(0) / 2  # seconds until it is a fixture
60.0
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import supervision as sv

from services.detect.postprocess import iou_matrix


@dataclass(frozen=True)
class FixtureSettings:
    fixture_after_s: float = 900.0
    # Far-away figures are a few pixels tall: their box jitters by a pixel or two, so "the same
    # place" is IoU >= 0.5 with where it was first seen (a walker leaves that in well under a second).
    same_place_iou: float = 0.5
    max_gap_s: float = 5.0  # a spot survives the detector missing it this long
    forget_after_s: float = 60.0  # a fixture unseen this long is gone
    # Weak detections count too: a mannequin's confidence wanders (0.07-0.57 on the CAVIAR figure).
    min_confidence: float = 0.1
    # ... but only a spot detected at least once this surely would be counted as a person (a lamp
    # post seen at 0.1-0.2 never starts a track, so it needs no suppressing).
    counted_confidence: float = 0.35


@dataclass
class Spot:
    box: np.ndarray  # xyxy where it was first seen
    first_seen: float
    last_seen: float
    best: float = 0.0  # highest confidence it was seen with
    fixture: bool = False


class StaticFixtures:
    """Spots and fixtures of one camera; ``filter`` drops the detections on fixtures."""

    def __init__(self, settings: FixtureSettings | None = None):
        self.settings = settings or FixtureSettings()
        self.spots: list[Spot] = []

    @property
    def fixtures(self) -> list[np.ndarray]:
        """Fixture boxes, overlapping ones merged (box noise can split one figure into two spots)."""
        merged: list[np.ndarray] = []
        for box in (s.box for s in self.spots if s.fixture):
            for k, other in enumerate(merged):
                if iou_matrix(box[None], other[None])[0, 0] > 0.3:
                    merged[k] = np.concatenate([np.minimum(box[:2], other[:2]), np.maximum(box[2:], other[2:])])
                    break
            else:
                merged.append(box.copy())
        return merged

    def filter(self, people: sv.Detections, now: float) -> sv.Detections:
        """The people not on a fixture; learns from the confident ones."""
        s = self.settings
        boxes, scores = people.xyxy, people.confidence
        self.spots = [p for p in self.spots
                      if now - p.last_seen <= (s.forget_after_s if p.fixture else s.max_gap_s)]
        keep = np.ones(len(people), dtype=bool)
        if self.spots and len(people):
            overlap = iou_matrix(np.stack([p.box for p in self.spots]), boxes) >= s.same_place_iou
        else:
            overlap = np.zeros((len(self.spots), len(people)), dtype=bool)
        for k, spot in enumerate(self.spots):
            hits = np.nonzero(overlap[k])[0]
            if len(hits) == 0:
                continue
            spot.last_seen = now
            spot.best = max(spot.best, float(scores[hits].max()))
            if not spot.fixture and now - spot.first_seen >= s.fixture_after_s and spot.best >= s.counted_confidence:
                spot.fixture = True
            if spot.fixture:
                keep[hits] = False
        for d in np.nonzero(~overlap.any(axis=0) & (scores >= s.min_confidence))[0]:
            self.spots.append(Spot(boxes[d].copy(), now, now, float(scores[d])))
        return people if keep.all() else people[keep]


def region_around(box: np.ndarray, margin: float = 0.25) -> list[tuple[float, float]]:
    """An ignore polygon around a box's foot point: ``drop_ignored`` tests foot points."""
    x1, y1, x2, y2 = (float(v) for v in box[:4])
    w, h = x2 - x1, y2 - y1
    fx, fy = (x1 + x2) / 2, y2
    dx, dy = w * (0.5 + margin), h * margin
    return [(fx - dx, fy - dy), (fx + dx, fy - dy), (fx + dx, fy + dy), (fx - dx, fy + dy)]


def propose_regions(frames: list[tuple[float, sv.Detections]], share: float = 0.9,
                    settings: FixtureSettings | None = None) -> list[list[tuple[float, float]]]:
    """Ignore regions for a sample clip: (capture time, normalised people) per frame.

    A spot held (no gap longer than ``max_gap_s``) for at least ``share`` of the sample's
    duration is proposed. The sample should be much longer than anyone stands still (the
    calibrate verb says so); the installer reviews the proposal in the zones preview.
    """
    if not frames:
        return []
    s = settings or FixtureSettings()
    duration = frames[-1][0] - frames[0][0]
    learner = StaticFixtures(FixtureSettings(fixture_after_s=max(share * duration, 1e-9),
                                             same_place_iou=s.same_place_iou, max_gap_s=s.max_gap_s,
                                             forget_after_s=max(duration, s.forget_after_s) + 1,
                                             min_confidence=s.min_confidence,
                                             counted_confidence=s.counted_confidence))
    for t, found in frames:
        learner.filter(found, t)
    return [region_around(box) for box in learner.fixtures]
