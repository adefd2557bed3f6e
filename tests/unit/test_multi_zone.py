"""A zone two cameras watch: the person in the overlap counts once; coverage; replays; config checks.

Floor plan (metres): camera "left" sees x 0..4, camera "right" sees x 2..6 (both y 0..4), so the
floor between x 2 and 4 is seen by both. A at (3, 2) is in the overlap, B at (1, 1) only left,
C at (5, 3) only right: 3 persons, 4 foot points.
"""

from __future__ import annotations

import pytest

from services.aggregate.multi_zone import MultiZoneCounter
from services.aggregate.records import FrameRecord
from storesight.config import ConfigError, parse_config

CORNERS = [[0, 0], [1, 0], [1, 1], [0, 1]]


def config(stale_after_s: float = 15.0, with_floor: bool = True):
    def camera(cam_id: str, x0: float) -> dict:
        cam = {"id": cam_id, "source": f"{cam_id}.mp4"}
        if with_floor:
            cam["floor"] = {"image": CORNERS, "floor": [[x0, 0], [x0 + 4, 0], [x0 + 4, 4], [x0, 4]]}
        return cam

    return parse_config({
        "region": "r", "pipeline": {"aggregate": {"window_s": 10, "allowed_lateness_s": 1,
                                                  "stale_after_s": stale_after_s}},
        "stores": [{"id": "s", "timezone": "UTC", "cameras": [camera("left", 0), camera("right", 2)],
                    "multi_zones": [{"id": "hall", "kind": "area", "parts": [
                        {"camera": "left", "polygon": CORNERS}, {"camera": "right", "polygon": CORNERS}]}]}]})


def frames(until: float, right_until: float = 99.0) -> list[FrameRecord]:
    out = []
    for i in range(int(until * 5)):
        t = i / 5
        # left image x = floor x / 4; right image x = (floor x - 2) / 4; y = floor y / 4
        out.append(FrameRecord.of("left", t, [(1, 0.75, 0.5), (2, 0.25, 0.25)]))  # A, B
        if t < right_until:
            out.append(FrameRecord.of("right", t, [(7, 0.25, 0.5), (8, 0.75, 0.75)]))  # A, C
    return out


def test_the_person_in_the_overlap_counts_once():
    counter = MultiZoneCounter(config())
    [window] = counter.add(frames(11.2))
    assert (window.zone_id, window.status, window.coverage) == ("hall", "OK", 1.0)
    assert (window.occupancy_avg, window.occupancy_min, window.occupancy_max) == (3, 3, 3)
    assert window.entries is None and window.unique_tracks is None  # not computed across cameras


def test_a_silent_camera_leaves_slots_uncounted_never_half_counted():
    counter = MultiZoneCounter(config(stale_after_s=2.0))
    [window] = counter.add(frames(11.2, right_until=5.0))
    # right's last frame is at 4.8: fresh until 6.8, so slots 0.2 .. 6.8 (34 of 50) are counted.
    assert window.status == "PARTIAL" and window.coverage == pytest.approx(34 / 50)
    assert window.occupancy_max == 3 and window.occupancy_min == 3


def test_replayed_frames_change_nothing_and_the_state_survives_json():
    stream = frames(11.2)
    first = MultiZoneCounter(config())
    first.add(stream[:60])
    restored = MultiZoneCounter(config())
    restored.load_json(first.state_json())
    [window] = restored.add(stream[:60] + stream[60:])  # the replay of the first 60 frames, then the rest
    assert (window.status, window.occupancy_avg) == ("OK", 3)
    assert restored.add([FrameRecord.of("left", 1.0, [])]) == [] and restored.state.late == 1


def test_several_parts_need_floor_calibrations():
    with pytest.raises(ConfigError, match="needs a 'floor' calibration"):
        config(with_floor=False)


def test_multi_zone_ids_share_the_zone_namespace_and_rules_may_watch_them():
    data = config().model_dump(mode="json")
    store = data["stores"][0]
    store["rules"] = [{"id": "hall-busy", "metric": "occupancy", "zone": "hall", "threshold": 10}]
    assert parse_config(data).stores[0].zone("hall").id == "hall"
    store["cameras"][0]["zones"] = [{"id": "hall", "kind": "aisle", "polygon": CORNERS}]
    with pytest.raises(ConfigError, match="used twice"):
        parse_config(data)
