"""Staff exclusion: who is staff, and that staff are in no customer number but counted apart."""

from __future__ import annotations

import pytest

from services.aggregate.aggregator import Aggregator
from services.aggregate.records import FrameRecord, WindowStats
from services.aggregate.staff import StaffFilter
from storesight.config import ConfigError, parse_config

BEHIND_TILL = [[0, 0], [0.3, 0], [0.3, 1], [0, 1]]  # x < 0.3
FLOOR = [[0.3, 0], [1, 0], [1, 1], [0.3, 1]]


def config(**store):
    camera = {"id": "c", "source": "c.mp4", "zones": [
        {"id": "behind-till", "kind": "area", "staff_only": True, "polygon": BEHIND_TILL},
        {"id": "floor", "kind": "aisle", "polygon": FLOOR}]}
    return parse_config({"region": "r", "pipeline": {"aggregate": {"window_s": 10, "allowed_lateness_s": 0,
                                                                   "min_zone_dwell_s": 0.5}},
                         "stores": [{"id": "s", "timezone": "UTC", "staff_share": 0.5, "cameras": [camera],
                                     **store}]})


def walk(track: int, xs: list[float], start: float = 0.0, step: float = 0.2) -> list[tuple[float, tuple]]:
    return [(start + i * step, (track, x, 0.5)) for i, x in enumerate(xs)]


def frames(*walks) -> list[FrameRecord]:
    by_time: dict[float, list] = {}
    for w in walks:
        for t, person in w:
            by_time.setdefault(round(t, 3), []).append(person)
    return [FrameRecord.of("c", t, persons) for t, persons in sorted(by_time.items())]


def kept(records) -> list[tuple[float, list[int]]]:
    return [(r.capture_s, r.track_ids) for r in records]


def test_a_track_appearing_behind_the_till_is_staff_from_its_first_frame():
    staff = StaffFilter(config())
    out = staff.filter(frames(walk(1, [0.1] * 10), walk(2, [0.8] * 10)))
    assert all(ids == [2] for _, ids in kept(out))
    assert staff.staff_per_store() == {"s": 1} and staff.new_staff["s"] == 1


def test_a_frame_with_staff_taken_out_keeps_its_tracker_epoch():
    # The aggregator takes a change of epoch for a detect restart (epochs.py): never lose it here.
    records = frames(walk(1, [0.1] * 3), walk(2, [0.8] * 3))
    for record in records:
        record.epoch = "e1"
    out = StaffFilter(config()).filter(records)
    assert [(r.track_ids, r.epoch) for r in out] == [([2], "e1")] * 3


def test_a_track_that_spends_most_of_its_time_behind_the_till_becomes_staff():
    staff = StaffFilter(config(staff_min_seen_s=3.0))
    # 1 s on the floor, then behind the till: at t = 3.0 it has 3 s seen, 2 s behind the till (> 50 %).
    out = kept(staff.filter(frames(walk(1, [0.8] * 5 + [0.1] * 25))))
    assert [t for t, ids in out if ids == [1]] == pytest.approx([0.2 * i for i in range(15)])
    assert all(ids == [] for t, ids in out if t >= 3.0 - 1e-9)


def test_a_customer_passing_behind_the_till_briefly_stays_a_customer():
    staff = StaffFilter(config())
    out = kept(staff.filter(frames(walk(1, [0.8] * 20 + [0.2] * 3 + [0.8] * 27))))
    assert all(ids == [1] for _, ids in out) and staff.new_staff == {}


def test_replayed_frames_change_no_decision_and_the_state_survives_json():
    stream = frames(walk(1, [0.8] * 5 + [0.1] * 25), walk(2, [0.9] * 30))
    first = StaffFilter(config())
    expected = kept(first.filter(stream))
    again = StaffFilter(config())
    again.filter(stream[:12])
    restored = StaffFilter(config())
    restored.load_json({k.encode(): v for k, v in again.state_json().items()})
    assert kept(restored.filter(stream[:12] + stream[12:]))[12:] == expected[12:]


def test_staff_are_in_no_customer_zone_count():
    cfg = config()
    stream = frames(walk(1, [0.1] * 50), walk(2, [0.8] * 50), walk(3, [0.2] * 5 + [0.7] * 45))  # 3: staff who walks out
    stream.append(FrameRecord.of("c", 10.5, []))
    without = {o.zone_id: o for o in Aggregator(cfg).process(stream) if isinstance(o, WindowStats)}
    staff = StaffFilter(cfg)
    with_rule = {o.zone_id: o for o in Aggregator(cfg).process(staff.filter(stream)) if isinstance(o, WindowStats)}
    assert without["floor"].occupancy_max == 2 and with_rule["floor"].occupancy_max == 1
    assert without["camera:c"].unique_tracks == 3 and with_rule["camera:c"].unique_tracks == 1
    assert with_rule["behind-till"].occupancy_max == 0
    assert staff.new_staff["s"] == 2


def test_the_rule_needs_a_staff_only_zone():
    data = config().model_dump(mode="json")
    data["stores"][0]["cameras"][0]["zones"][0]["staff_only"] = False
    with pytest.raises(ConfigError, match="staff_only"):
        parse_config(data)
