"""Store occupancy and footfall from entrance lines: clamping, drift resets (DST days), reconciliation."""

from __future__ import annotations

import datetime as dt

import pytest

from services.aggregate.aggregator import Aggregator
from services.aggregate.records import FrameRecord, WindowStats
from services.aggregate.store_occupancy import CLOSING, OPENING, RECONCILED, StoreOccupancy
from storesight.config import ConfigError, parse_config

W = 60


def _camera(cam_id: str, line: str, zones: bool = False) -> dict:
    camera = {"id": cam_id, "source": "x.mp4",
              "lines": [{"id": line, "a": [0, 0.5], "b": [1, 0.5], "in_point": [0.5, 1]}]}
    if zones:
        camera["zones"] = [{"id": f"{cam_id}-floor", "kind": "aisle",
                            "polygon": [[0, 0.6], [1, 0.6], [1, 1], [0, 1]]}]
    return camera


def _config(timezone: str = "UTC", hours: list | None = None, reconcile: float | None = None,
            two_doors: bool = True, **pipeline) -> object:
    cameras = [_camera("cam-a", "door-a", zones=True)]
    entrances = [{"camera": "cam-a", "line": "door-a"}]
    if two_doors:
        cameras.append(_camera("cam-b", "door-b", zones=True))
        entrances.append({"camera": "cam-b", "line": "door-b"})
    store = {"id": "s1", "timezone": timezone, "cameras": cameras, "entrances": entrances}
    if hours is not None:
        store["business_hours"] = hours
    if reconcile is not None:
        store["occupancy_reconcile_empty_s"] = reconcile
    return parse_config({"region": "r", "stores": [store], "pipeline": pipeline})


def line(name: str, start: float, entries: int | None, exits: int | None, status: str = "OK") -> WindowStats:
    return WindowStats("s1", f"line:{name}", "line", start, start + W, status, 1.0 if status == "OK" else 0.0,
                       entries=entries, exits=exits)


def zone(name: str, start: float, occupancy_max: int) -> WindowStats:
    return WindowStats("s1", name, "aisle", start, start + W, "OK", 1.0, occupancy_avg=float(occupancy_max),
                       occupancy_min=0, occupancy_max=occupancy_max)


def epoch(text: str) -> float:
    return dt.datetime.fromisoformat(text).timestamp()


# ------------------------------------------------------------ config


def test_entrances_must_name_an_existing_line_of_that_camera():
    base = _config().model_dump(mode="json")
    store = base["stores"][0]
    store["entrances"] = [{"camera": "cam-a", "line": "door-b"}]
    with pytest.raises(ConfigError, match="camera 'cam-a' has no line 'door-b'"):
        parse_config(base)
    store["entrances"] = [{"camera": "cam-x", "line": "door-a"}]
    with pytest.raises(ConfigError, match="no camera 'cam-x'"):
        parse_config(base)
    store["entrances"] = [{"camera": "cam-a", "line": "door-a"}] * 2
    with pytest.raises(ConfigError, match="used twice"):
        parse_config(base)


def test_store_rules_need_entrances_and_no_zone():
    base = _config().model_dump(mode="json")
    store = base["stores"][0]
    store["rules"] = [{"id": "full", "metric": "store_occupancy", "threshold": 50, "zone": "cam-a-floor"}]
    with pytest.raises(ConfigError, match="whole store"):
        parse_config(base)
    store["rules"] = [{"id": "full", "metric": "store_occupancy", "threshold": 50}]
    assert parse_config(base).stores[0].rules[0].zone is None
    store["entrances"] = []
    with pytest.raises(ConfigError, match="no 'entrances'"):
        parse_config(base)


# ------------------------------------------------------------ counting


def test_waits_for_every_door_then_sums_them():
    occ = StoreOccupancy(_config().stores[0], W)
    assert occ.feed([line("door-a", 0, 3, 0)]) == []  # door-b has not reported window 0 yet
    [w] = occ.feed([line("door-b", 0, 2, 1)])
    assert (w.entries, w.exits, w.occupancy, w.footfall_day, w.status) == (5, 1, 4, 5, "OK")


def test_a_door_camera_that_never_reports_does_not_stop_the_store():
    occ = StoreOccupancy(_config().stores[0], W, wait_windows=2)
    assert occ.feed([line("door-a", 0, 1, 0), line("door-a", 60, 1, 0)]) == []
    out = occ.feed([line("door-a", 120, 1, 0)])
    assert [(w.window_start, w.status, w.coverage, w.occupancy) for w in out] == [(0, "PARTIAL", 0.5, 1)]


def test_replayed_rows_change_nothing_and_late_rows_are_folded_into_the_next_window():
    occ = StoreOccupancy(_config(two_doors=False).stores[0], W)
    first = occ.feed([line("door-a", 0, 2, 0), line("door-a", 60, 1, 0)])
    assert [w.occupancy for w in first] == [2, 3]
    assert occ.feed([line("door-a", 0, 2, 0), line("door-a", 60, 1, 0)]) == []  # a replay after a restart
    assert occ.duplicates == 2
    restored = StoreOccupancy.from_json(occ.store, W, occ.state_json())
    [w] = restored.feed([line("door-a", 120, 0, 1)])
    assert (w.occupancy, w.footfall_day) == (2, 3)


def test_missed_exit_never_makes_occupancy_negative_and_the_clamp_is_counted():
    occ = StoreOccupancy(_config(two_doors=False).stores[0], W)
    # Two people come in; the door camera misses one leaving; later three exits are seen
    # (the missed one among them would have been the fourth): occupancy would go to -1.
    out = occ.feed([line("door-a", 0, 2, 0), line("door-a", 60, 0, 1), line("door-a", 120, 0, 2),
                    line("door-a", 180, 1, 0)])
    assert [w.occupancy for w in out] == [2, 1, 0, 1]
    assert [w.clamped for w in out] == [0, 0, 1, 0]
    assert occ.state.clamped_total == 1
    assert min(w.occupancy for w in out) >= 0


def test_unknown_window_counts_nothing_and_says_so():
    occ = StoreOccupancy(_config(two_doors=False).stores[0], W)
    [w] = occ.feed([line("door-a", 0, None, None, status="UNKNOWN")])
    assert (w.status, w.coverage, w.entries, w.occupancy) == ("UNKNOWN", 0.0, 0, 0)


# ------------------------------------------------------------ drift correction


@pytest.mark.parametrize(("tz", "day", "close_utc"), [
    # Lisbon: spring forward on 2026-03-29 (closing 21:00 WEST = 20:00 UTC), the day before 21:00 UTC.
    ("Europe/Lisbon", "2026-03-29", "2026-03-29T20:00:00+00:00"),
    ("Europe/Lisbon", "2026-03-28", "2026-03-28T21:00:00+00:00"),
    # New York: fall back on 2026-11-01 (21:00 EST = 02:00 UTC next day).
    ("America/New_York", "2026-11-01", "2026-11-02T02:00:00+00:00"),
])
def test_reset_at_closing_in_store_time_including_dst_days(tz, day, close_utc):
    config = _config(timezone=tz, hours=[{"start": "09:00", "end": "21:00"}], two_doors=False)
    occ = StoreOccupancy(config.stores[0], W)
    close = epoch(close_utc)
    local_day = dt.date.fromisoformat(day)
    start = close - 14 * 3600
    out = []
    for k in range(16 * 60):
        s = start + k * W
        # Every 10 minutes two come in and one leaves: the camera misses every other exit.
        out += occ.feed([line("door-a", s, 2 if k % 10 == 0 else 0, 1 if k % 10 == 5 else 0)])
    by_end = {w.window_end: w for w in out}
    before = by_end[close - W]
    at_close = by_end[close]
    assert before.open and before.occupancy > 0  # the drift: people who "never left"
    assert not at_close.open and at_close.reset == CLOSING and at_close.occupancy == 0
    assert at_close.drift > 0
    assert [w.window_end for w in out if w.reset == CLOSING] == [close]
    # Opening was at 09:00 store time on that local day: occupancy started from 0 there.
    opening = [w for w in out if w.reset == OPENING]
    assert len(opening) == 1
    opened = dt.datetime.fromtimestamp(opening[0].window_end, config.stores[0].tz)
    assert (opened.date(), opened.time()) == (local_day, dt.time(9, 0))
    assert all(w.occupancy >= 0 for w in out)
    # Footfall of the day counts every entry of that store-local date.
    last = [w for w in out if w.local_date == day][-1]
    assert last.footfall_day == sum(w.entries for w in out if w.local_date == day)


def test_reset_happens_across_a_gap_without_windows():
    config = _config(hours=[{"start": "09:00", "end": "21:00"}], two_doors=False)
    occ = StoreOccupancy(config.stores[0], W)
    evening = epoch("2026-06-01T20:58:00+00:00")
    occ.feed([line("door-a", evening, 5, 0)])
    # The cameras were off overnight: the next window is the next morning, after opening.
    [w] = occ.feed([line("door-a", epoch("2026-06-02T09:30:00+00:00"), 1, 0)])
    assert (w.reset, w.drift, w.occupancy) == (OPENING, 6, 0)


def test_reconciled_to_zero_when_every_zone_has_been_empty_long_enough():
    occ = StoreOccupancy(_config(reconcile=300).stores[0], W)
    rows = []
    for k in range(10):
        s = k * W
        rows.append(line("door-a", s, 3 if k == 0 else 0, 1 if k == 1 else 0))
        rows.append(line("door-b", s, 0, 0))
        rows.append(zone("cam-a-floor", s, 2 if k < 2 else 0))
        rows.append(zone("cam-b-floor", s, 0))
    out = occ.feed(rows)
    assert [w.occupancy for w in out[:6]] == [3, 2, 2, 2, 2, 2]
    # cam-a-floor empty from window 2 (t=120): five minutes later, at t=420, nobody is inside.
    reconciled = [w for w in out if w.reset == RECONCILED]
    assert [(w.window_end, w.drift) for w in reconciled] == [(420, 2)]
    assert all(w.occupancy == 0 for w in out if w.window_end >= 420)


def test_no_reconciliation_while_a_zone_is_unknown_or_busy():
    occ = StoreOccupancy(_config(reconcile=120).stores[0], W)
    rows = []
    for k in range(10):
        s = k * W
        rows += [line("door-a", s, 2 if k == 0 else 0, 0), line("door-b", s, 0, 0), zone("cam-a-floor", s, 0),
                 WindowStats("s1", "cam-b-floor", "aisle", s, s + W, "UNKNOWN", 0.0)]
    assert [w.occupancy for w in occ.feed(rows)] == [2] * 10


# ------------------------------------------------------------ from the aggregator's own windows


def test_fed_from_the_aggregator_line_windows():
    config = _config(two_doors=False, aggregate={"window_s": W, "allowed_lateness_s": 0})
    agg = Aggregator(config)
    occ = StoreOccupancy(config.stores[0], W)
    frames = []
    # Track 1 walks in across the door (y 0.3 -> 0.7), track 2 walks in and back out.
    for i in range(40):
        t = 10 + i * 0.5
        y1 = 0.3 + 0.4 * min(i, 10) / 10
        y2 = 0.3 + 0.4 * min(i, 10) / 10 if i < 20 else 0.7 - 0.4 * min(i - 20, 10) / 10
        frames.append(FrameRecord.of("cam-a", t, [(1, 0.5, y1), (2, 0.4, y2)]))
    frames.append(FrameRecord.of("cam-a", 130.0, []))
    out = occ.feed(agg.process(frames))
    assert [(w.window_start, w.entries, w.exits, w.occupancy) for w in out] == [(0, 2, 1, 1), (60, 0, 0, 1)]
