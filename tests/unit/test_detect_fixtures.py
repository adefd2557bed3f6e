"""Static fixtures: an unmoving person-shaped thing is dropped after fixture_after_s; a real
person standing still for less, walkers and people passing in front of a fixture are not."""

import numpy as np

from services.detect.fixtures import FixtureSettings, StaticFixtures, propose_regions
from services.detect.people import from_rows
from services.detect.regions import drop_ignored

S = FixtureSettings()  # the defaults: 15 minutes
FPS = 2.0
MANNEQUIN = np.array([0.10, 0.20, 0.15, 0.40, 0.8])


def jittered(box, rng, px=0.002):
    """The same place with the detector's box noise (a fraction of a percent of the image)."""
    out = box.copy()
    out[:4] += rng.normal(0, px, 4)
    return out


def run(minutes, rows_at, settings=S):
    """Feed ``rows_at(t)`` (N, 5) at FPS for ``minutes``; return the kept row counts per frame."""
    fixtures = StaticFixtures(settings)
    kept = []
    for k in range(int(minutes * 60 * FPS)):
        t = k / FPS
        kept.append(len(fixtures.filter(from_rows(rows_at(t)), t)))
    return kept, fixtures


def test_a_person_standing_still_just_under_the_boundary_is_never_suppressed():
    rng = np.random.default_rng(0)
    minutes = S.fixture_after_s / 60 - 0.5
    kept, _ = run(minutes, lambda t: jittered(MANNEQUIN, rng)[None])
    assert all(n == 1 for n in kept)


def test_a_figure_unmoving_past_the_boundary_becomes_a_fixture_and_is_dropped():
    rng = np.random.default_rng(1)
    minutes = S.fixture_after_s / 60 + 1
    kept, fixtures = run(minutes, lambda t: jittered(MANNEQUIN, rng)[None])
    first_dropped = kept.index(0) / FPS
    assert S.fixture_after_s <= first_dropped <= S.fixture_after_s + 1 / FPS
    assert all(n == 0 for n in kept[kept.index(0):])
    assert len(fixtures.fixtures) == 1


def test_people_walking_past_and_in_front_of_a_fixture_are_kept():
    rng = np.random.default_rng(2)
    settings = FixtureSettings(fixture_after_s=60)

    def rows(t):
        walker = np.array([0.05 + 0.1 * (t % 8), 0.3, 0.10 + 0.1 * (t % 8), 0.7, 0.9])  # 0.1 units/s
        return np.stack([jittered(MANNEQUIN, rng), walker])

    kept, fixtures = run(5, rows, settings)
    assert len(fixtures.fixtures) == 1
    assert kept[-1] == 1 and min(kept[int(61 * FPS):]) >= 1  # the walker is always there


def test_a_fixture_that_is_moved_away_is_forgotten():
    settings = FixtureSettings(fixture_after_s=60, forget_after_s=30)
    kept, fixtures = run(3, lambda t: MANNEQUIN[None] if t < 90 else np.zeros((0, 5)), settings)
    assert not fixtures.fixtures


def test_a_person_who_stands_briefly_where_a_fixture_was_forgotten_is_counted():
    settings = FixtureSettings(fixture_after_s=60, forget_after_s=30)
    person = MANNEQUIN.copy()
    kept, _ = run(4, lambda t: person[None] if t < 90 or t > 150 else np.zeros((0, 5)), settings)
    assert kept[int(151 * FPS)] == 1  # back after 60 s: a new spot, not the old fixture


def test_calibration_proposes_a_region_that_drops_the_static_figure_only():
    rng = np.random.default_rng(3)
    frames = []
    for k in range(300):
        t = k / 25
        walker = np.array([0.3 + 0.02 * t, 0.4, 0.4 + 0.02 * t, 0.9, 0.9])
        frames.append((t, from_rows(np.stack([jittered(MANNEQUIN, rng), walker]).astype(np.float32))))
    regions = propose_regions(frames)
    assert len(regions) == 1
    kept = drop_ignored(frames[100][1], regions)
    assert len(kept) == 1 and kept.xyxy[0, 0] > 0.3  # the walker
