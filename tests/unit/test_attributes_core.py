"""Pure core of the attribute stage: k-anonymity, track smoothing, cost guard, bands, zones, opt-in."""

import math

import numpy as np
import pytest

from services.detect.attributes.anonymity import TrackLedger, k_anonymous_group
from services.detect.attributes.guard import CostGuard
from services.detect.attributes.smoothing import Observation, TrackAttributes, TrackVotes
from services.detect.attributes.zones import zones_at
from storesight.attributes import EXPRESSIONS, GENDERS, age_band
from storesight.config import parse_config


def observation(expression: str, p: float = 0.9, age: float = 35.0, gender: str = "female",
                score: float = 0.9) -> Observation:
    expr = np.full(len(EXPRESSIONS), (1 - p) / (len(EXPRESSIONS) - 1), dtype=np.float32)
    expr[EXPRESSIONS.index(expression)] = p
    gen = np.array([0.2, 0.8] if gender == "male" else [0.8, 0.2], dtype=np.float32)
    return Observation(score, expr, age, 0.5, gen)


def tracks(n: int, expression: str = "happy") -> list[TrackAttributes]:
    return [TrackAttributes(expression, "30-44", GENDERS[i % 2], 3) for i in range(n)]


def test_four_tracks_are_suppressed_five_give_histograms():
    assert k_anonymous_group("aisle-1", 0.0, 60.0, tracks(4), k=5) is None
    group = k_anonymous_group("aisle-1", 0.0, 60.0, tracks(4) + [TrackAttributes("sad", "60+", "male", 4)], k=5)
    assert group is not None
    assert group.distinct_tracks == 5
    assert group.expressions == {"happy": 4, "sad": 1}
    assert group.age_bands == {"30-44": 4, "60+": 1}
    assert group.genders == {"female": 2, "male": 3}


def feed_track(ledger: TrackLedger, track_id: int, start: float, frames: int, zone: str = "aisle-1") -> None:
    for i in range(frames):
        ledger.seen(track_id, start + i, [zone])
        ledger.observe(track_id, start + i, observation("happy"))


@pytest.mark.parametrize("n_tracks, published", [(4, 0), (5, 1)])
def test_ledger_publishes_a_window_only_with_k_distinct_tracks(n_tracks, published):
    ledger = TrackLedger(k=5, window_s=60, close_after_s=5, min_observations=3)
    for track_id in range(1, n_tracks + 1):
        feed_track(ledger, track_id, start=10 + track_id, frames=3)
    groups, finished = ledger.advance(40.0)  # tracks ended, but the window [0, 60) is still open
    assert groups == [] and finished == set(range(1, n_tracks + 1))
    groups, _ = ledger.advance(66.0)  # window end 60 + close 5 passed: final
    assert len(groups) == published
    assert ledger.suppressed_groups == 1 - published
    if published:
        assert groups[0].zone_id == "aisle-1" and groups[0].distinct_tracks == 5
        assert groups[0].expressions == {"happy": 5}
        assert (groups[0].window_start, groups[0].window_end) == (0, 60)


def test_same_track_many_frames_counts_once_and_never_reaches_k_alone():
    ledger = TrackLedger(k=2, window_s=60, close_after_s=5, min_observations=3)
    feed_track(ledger, 7, start=0, frames=50)
    groups, _ = ledger.advance(math.inf)
    assert groups == [] and ledger.suppressed_groups == 1


def test_track_counted_in_window_it_left_and_zone_it_spent_most_time_in():
    ledger = TrackLedger(k=2, window_s=60, close_after_s=5, min_observations=2)
    for track_id in (1, 2):
        for t in range(50, 70):  # crosses the window boundary at 60
            ledger.seen(track_id, t, ["entrance"] if t < 55 else ["aisle-2"])
        ledger.observe(track_id, 52, observation("neutral"))
        ledger.observe(track_id, 66, observation("neutral"))
    groups, _ = ledger.advance(math.inf)
    assert [(g.zone_id, g.window_start, g.distinct_tracks) for g in groups] == [("aisle-2", 60, 2)]


def test_tracks_without_enough_faces_do_not_count():
    ledger = TrackLedger(k=2, window_s=60, close_after_s=5, min_observations=3)
    feed_track(ledger, 1, start=0, frames=3)
    feed_track(ledger, 2, start=0, frames=2)  # one face short: no attributes
    groups, _ = ledger.advance(math.inf)
    assert groups == [] and ledger.suppressed_groups == 1


def test_smoothing_never_decides_from_one_frame():
    votes = TrackVotes()
    votes.add(observation("happy"))
    assert votes.result(min_observations=2) is None
    assert votes.result(min_observations=1) is not None  # guarded by config: min_observations >= 2


def test_smoothing_is_a_confidence_weighted_majority():
    votes = TrackVotes()
    for _ in range(3):
        votes.add(observation("happy", p=0.4, age=25, gender="male"))
    votes.add(observation("neutral", p=0.95, age=70, gender="female"))
    result = votes.result(min_observations=3)
    assert result == TrackAttributes("happy", "18-29", "male", 4)  # 3 x 0.9 x 0.4 = 1.08 > 0.9 x 0.95

    confident = TrackVotes()
    confident.add(observation("happy", p=0.3, score=0.5))
    confident.add(observation("surprise", p=0.3, score=0.5))
    confident.add(observation("sad", p=0.99, score=0.95))
    assert confident.result(min_observations=3).expression == "sad"


def test_smoothing_tie_does_not_depend_on_frame_order():
    a, b = TrackVotes(), TrackVotes()
    for votes, order in ((a, ("sad", "happy")), (b, ("happy", "sad"))):
        for expression in order:
            votes.add(observation(expression))
    assert a.result(2).expression == b.result(2).expression == "happy"


def test_cost_guard_samples_each_track_every_n_frames():
    guard = CostGuard(every_n_frames=5, min_face_px=20)
    due = [seq for seq in range(100, 112) if guard.due(1, seq)]
    assert due == [100, 105, 110]
    assert guard.due(2, 101)  # other tracks have their own schedule
    guard.forget({1})
    assert guard.due(1, 111)
    assert guard.big_enough(20) and not guard.big_enough(19.5)


def test_age_bands():
    assert [age_band(a) for a in (0.25, 17.9, 18, 29.9, 30, 44, 45, 59.9, 60, 85)] == [
        "0-17", "0-17", "18-29", "18-29", "30-44", "30-44", "45-59", "45-59", "60+", "60+"]


def test_zones_of_a_foot_point():
    zones = [("left", [(0, 0), (0.5, 0), (0.5, 1), (0, 1)]), ("all", [(0, 0), (1, 0), (1, 1), (0, 1)])]
    assert zones_at((0.25, 0.5), zones) == ["left", "all"]
    assert zones_at((0.75, 0.5), zones) == ["all"]
    assert zones_at((0.75, 1.0), zones) == ["all"]  # feet cut off by the image edge: on the border
    assert zones_at((0.5, 0.5), zones) == ["left", "all"]
    assert zones_at((1.2, 0.5), zones) == []


def test_attributes_are_off_unless_store_and_camera_opt_in():
    from services.detect.attributes.stage import attributes_enabled

    def config(store_on: bool, camera_on: bool | None):
        camera = {"id": "cam-1", "source": "/dev/null"}
        if camera_on is not None:
            camera["attributes_enabled"] = camera_on
        return parse_config({"region": "r", "stores": [{"id": "s", "timezone": "UTC", "cameras": [camera],
                                                        "privacy": {"attributes_enabled": store_on}}]})

    for store_on, camera_on, expected in ((False, None, False), (True, None, False), (False, True, False),
                                          (True, True, True)):
        cfg = config(store_on, camera_on)
        store, camera = cfg.camera("cam-1")
        assert attributes_enabled(store, camera) is expected
    assert config(False, None).stores[0].privacy.k_anonymity == 5
