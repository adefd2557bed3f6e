"""Pure core of the aggregate service: geometry, lines, dwell, queues, windows, coverage."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.aggregate.aggregator import Aggregator
from services.aggregate.geometry import LineSet, PolygonSet, bit_masks
from services.aggregate.lines import LineCrossings
from services.aggregate.queues import littles_law_wait, throughput_per_min, union_length
from services.aggregate.records import OK, PARTIAL, UNKNOWN, FrameRecord, HealthRecord, WindowStats
from storesight.config import parse_config

coord = st.floats(0.0, 1.0, allow_nan=False, width=32)


def make_config(zones=None, lines=None, cameras=("cam-a",), **aggregate):
    aggregate = {"window_s": 10, "allowed_lateness_s": 2, "stale_after_s": 2, "track_gone_s": 1.0,
                 "zone_exit_grace_s": 0.5, "min_visit_dwell_s": 1.0, "line_debounce_px": 0.02,
                 "min_zone_dwell_s": 0.0, **aggregate}  # hand-computed cases count every stay
    zones = zones if zones is not None else [
        {"id": "left", "kind": "area", "polygon": [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]},
        {"id": "queue", "kind": "queue", "serves": "till", "polygon": [[0.5, 0], [0.8, 0], [0.8, 1], [0.5, 1]]},
        {"id": "till", "kind": "checkout", "polygon": [[0.8, 0], [1, 0], [1, 1], [0.8, 1]]},
    ]
    cams = [{"id": c, "source": "x.mp4", "zones": zones if i == 0 else [], "lines": (lines or []) if i == 0 else []}
            for i, c in enumerate(cameras)]
    return parse_config({"region": "r", "pipeline": {"aggregate": aggregate},
                         "stores": [{"id": "s1", "timezone": "UTC", "cameras": cams}]})


def by_zone(outputs) -> dict[tuple[str, float], WindowStats]:
    return {(o.zone_id, o.window_start): o for o in outputs if isinstance(o, WindowStats)}


# ------------------------------------------------------------------ geometry


def _scalar_inside(poly, x, y):
    # A point on the image's right/bottom edge (1.0) counts as just inside it (PolygonSet.contains).
    x, y = (np.nextafter(1.0, 0.0) if v == 1.0 else v for v in (x, y))
    inside = False
    n = len(poly)
    for i in range(n):
        (x0, y0), (x1, y1) = poly[i], poly[(i + 1) % n]
        if (y0 > y) != (y1 > y) and x < x0 + (y - y0) * (x1 - x0) / (y1 - y0):
            inside = not inside
    return inside


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(coord, coord), min_size=3, max_size=8),
       st.lists(st.tuples(coord, coord), min_size=1, max_size=20))
def test_point_in_polygon_matches_scalar_even_odd(poly, points):
    inside = PolygonSet([poly, [(0, 0), (1, 0), (1, 1)]]).contains(np.array(points))
    assert inside.shape == (len(points), 2)
    for k, (x, y) in enumerate(points):
        assert inside[k, 0] == _scalar_inside(poly, x, y)


@settings(max_examples=200, deadline=None)
@given(st.floats(0.05, 0.95), st.floats(0.05, 0.95), st.floats(0.01, 0.04), st.floats(0.01, 0.04))
def test_point_in_rectangle_interior_and_exterior(cx, cy, hw, hh):
    rect = [(cx - hw, cy - hh), (cx + hw, cy - hh), (cx + hw, cy + hh), (cx - hw, cy + hh)]
    pts = np.array([(cx, cy), (cx + 2 * hw, cy), (cx, cy - 2 * hh)])
    assert PolygonSet([rect]).contains(pts)[:, 0].tolist() == [True, False, False]


def test_a_zone_drawn_to_the_frame_edge_holds_a_person_whose_box_the_frame_cuts():
    """Detect clips boxes to the image, so such a person's foot is exactly on the edge (1.0)."""
    bottom_right = PolygonSet([[(0.5, 0.5), (1, 0.5), (1, 1), (0.5, 1)]])
    top_left = PolygonSet([[(0, 0), (0.5, 0), (0.5, 0.5), (0, 0.5)]])
    on_edges = np.array([(0.7, 1.0), (1.0, 0.7), (1.0, 1.0)])
    assert bottom_right.contains(on_edges)[:, 0].tolist() == [True, True, True]
    assert top_left.contains(np.array([(0.2, 0.0), (0.0, 0.2)]))[:, 0].tolist() == [True, True]
    assert bottom_right.contains(np.array([(0.7, 1.5), (0.4, 1.0)]))[:, 0].tolist() == [False, False]


def test_line_signed_distance_is_positive_on_in_point_side():
    lines = LineSet([((0.9, 0.0), (0.9, 1.0), (0.5, 0.5)), ((0.9, 1.0), (0.9, 0.0), (0.5, 0.5))])
    d = lines.signed_distance(np.array([[0.5, 0.5], [0.95, 0.2]]))
    assert d[0].tolist() == pytest.approx([0.4, 0.4])
    assert d[1].tolist() == pytest.approx([-0.05, -0.05])


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 40), st.integers(1, 140), st.integers(0, 2**32 - 1))
def test_bit_masks_hold_exactly_the_inside_flags(points, zones, seed):
    # More than 62 zones spill into further int64 chunks: the masks must still be exact.
    inside = np.random.default_rng(seed).random((points, zones)) < 0.5
    masks = bit_masks(inside)
    assert [[bool(m >> z & 1) for z in range(zones)] for m in masks] == inside.tolist()
    assert all(m >> zones == 0 for m in masks)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(-0.5, 1.5, allow_nan=False), st.floats(-0.5, 1.5, allow_nan=False)),
                min_size=1, max_size=30))
def test_line_sides_agree_with_debounced_distance_beside_the_segment(points):
    lines = LineSet([((0.9, 0.0), (0.9, 1.0), (0.5, 0.5)), ((0.0, 0.6), (1.0, 0.6), (0.5, 0.9))])
    pts = np.array(points)
    sides = lines.sides(pts, 0.02)
    distance, beside = lines.signed_distance(pts), lines.within_segment(pts)
    for k in range(len(points)):
        for ln in range(2):
            d = distance[k, ln]
            expected = (1 if d > 0.02 else -1 if d < -0.02 else 0) if beside[k, ln] else 0
            assert sides[k, ln] == expected


# ------------------------------------------------------------------ lines


# A vertical line at x = 0.5, inside to the left: the foot point (0.5 - d, 0.5) is d from it.
VERTICAL = LineSet([((0.5, 0.0), (0.5, 1.0), (0.0, 0.5))])


def crossings_along(distances, debounce, track=1):
    """Events of one track walking at these distances from VERTICAL, as the aggregator sees them."""
    points = np.array([(0.5 - d, 0.5) for d in distances])
    counter = LineCrossings()
    events = [counter.observe(0, track, side) if side else None
              for side in VERTICAL.sides(points, debounce)[:, 0].tolist()]
    return events, VERTICAL.signed_distance(points)[:, 0].tolist()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(-0.2, 0.2, allow_nan=False), min_size=1, max_size=60))
def test_line_crossings_equal_changes_of_debounced_side(path):
    debounce = 0.02
    events, distances = crossings_along(path, debounce)
    sides = [1 if d > debounce else -1 for d in distances if abs(d) > debounce]
    changes = [b for a, b in zip(sides, sides[1:], strict=False) if a != b]
    assert [e for e in events if e] == ["entry" if s > 0 else "exit" for s in changes]
    # Entries and exits alternate, so they never differ by more than one.
    assert abs(events.count("entry") - events.count("exit")) <= 1


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-0.019, 0.019, allow_nan=False), min_size=1, max_size=50))
def test_jitter_on_the_line_after_one_crossing_counts_once(jitter):
    events, _ = crossings_along([-0.1, 0.1, *jitter, 0.05], 0.02, track=3)
    assert [e for e in events if e] == ["entry"]


# ------------------------------------------------------------------ queue maths


def test_littles_law_hand_computed():
    # 6 served in 60 s = 0.1/s; average length 3 -> 30 s.
    assert littles_law_wait(3.0, 6, 60.0) == pytest.approx(30.0)
    assert littles_law_wait(0.0, 0, 60.0) == 0.0
    assert littles_law_wait(2.0, 0, 60.0) is None
    assert littles_law_wait(2.0, 3, 0.0) is None
    assert throughput_per_min(6, 60.0) == pytest.approx(6.0)


def test_union_length():
    assert union_length([(0, 2), (1, 3), (5, 6)], 0, 10) == pytest.approx(4)
    assert union_length([(-5, 1), (9, 20)], 0, 10) == pytest.approx(2)


# ------------------------------------------------------------------ aggregator


def frames(camera, t0, t1, fps, persons_at):
    """Frames every 1/fps s in [t0, t1); persons_at(t) -> [(track, x, y)]."""
    n = int(round((t1 - t0) * fps))
    return [FrameRecord.of(camera, t0 + i / fps, persons_at(t0 + i / fps)) for i in range(n)]


def test_dwell_and_zone_entries_hand_computed():
    agg = Aggregator(make_config())
    visits = []
    agg.on_visit = visits.append
    # Track 1 in 'left' from t=1.0 to t=4.0 (inclusive), then in 'queue' until 6.0, then gone.
    def persons(t):
        if 1.0 <= t <= 4.0 + 1e-9:
            return [(1, 0.2, 0.5)]
        if 4.0 < t <= 6.0 + 1e-9:
            return [(1, 0.6, 0.5)]
        return []
    out = agg.process(frames("cam-a", 0.0, 20.0, 10, persons))
    stats = by_zone(out)
    left = stats[("left", 0.0)]
    assert left.status == OK and left.entries == 1 and left.exits == 1
    assert left.dwell_max_s == pytest.approx(3.0)
    left_visit = [v for v in visits if v.zone_id == "left"][0]
    assert (left_visit.start_s, left_visit.end_s) == pytest.approx((1.0, 4.0))
    q = stats[("queue", 0.0)]
    # Left the queue without reaching the till: not served, wait unknown with people seen.
    assert q.entries == 1 and q.exits == 1 and q.throughput_per_min == 0
    assert q.wait_measured_s is None and q.wait_estimate_s is None
    assert q.queue_length == pytest.approx(20 / 100)  # 20 of 100 frames with one person


def test_a_pass_by_is_occupancy_but_not_a_visit():
    # The Intel clip had this: a foot point grazing the table polygon for one frame on the way
    # in made a second "visit" of a few ms. With min_zone_dwell_s 1 s it is only occupancy.
    agg = Aggregator(make_config(min_zone_dwell_s=1.0))
    visits = []
    agg.on_visit = visits.append

    def persons(t):
        p = []
        if 1.0 <= t < 1.2:   # track 1 grazes 'left' for one frame at 10 fps
            p.append((1, 0.2, 0.5))
        if 2.0 <= t < 2.8:   # track 2 stays 0.7 s (last inside 2.7): a pass-by
            p.append((2, 0.2, 0.5))
        if 3.0 <= t < 4.3:   # track 3 stays 1.2 s: a visit
            p.append((3, 0.2, 0.5))
        return p

    out = agg.process(frames("cam-a", 0.0, 20.0, 10, persons))
    w0 = by_zone(out)[("left", 0.0)]
    assert w0.occupancy_max == 1
    assert (w0.entries, w0.exits, w0.unique_tracks) == (1, 1, 1)
    assert w0.dwell_max_s == pytest.approx(1.2)
    assert [(v.track_id, round(v.dwell_s, 3)) for v in visits if v.zone_id == "left"] == [(3, 1.2)]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.booleans(), min_size=1, max_size=80), st.floats(0.0, 2.0))
def test_zone_entries_equal_exits_and_every_counted_dwell_reaches_the_minimum(inside, min_dwell):
    # One track walking in and out of 'left' at 10 fps, in any pattern, then leaving the picture.
    agg = Aggregator(make_config(min_zone_dwell_s=min_dwell, zone_exit_grace_s=0.25))
    visits = []
    agg.on_visit = visits.append
    recs = [FrameRecord.of("cam-a", i / 10, [(1, 0.2 if flag else 0.9, 0.5)]) for i, flag in enumerate(inside)]
    out = agg.process(recs) + agg.flush()
    stats = [o for o in out if isinstance(o, WindowStats) and o.zone_id == "left"]
    entries = sum(o.entries or 0 for o in stats)
    assert entries == sum(o.exits or 0 for o in stats) == len([v for v in visits if v.zone_id == "left"])
    assert all(v.dwell_s >= min_dwell - 1e-9 for v in visits if v.zone_id == "left")


def test_queue_served_littles_law_and_measured_wait():
    agg = Aggregator(make_config())
    # Three customers, each 2 s in the queue then 1 s at the till, one after another.
    def persons(t):
        out = []
        for k, start in enumerate((0.0, 3.0, 6.0)):
            if start <= t < start + 2.0 - 1e-9:
                out.append((k + 1, 0.6, 0.5))
            elif start + 2.0 - 1e-9 <= t < start + 3.0 - 1e-9:
                out.append((k + 1, 0.9, 0.5))
        return out
    out = agg.process(frames("cam-a", 0.0, 20.0, 10, persons))
    q = by_zone(out)[("queue", 0.0)]
    assert q.status == OK
    assert q.exits == 3
    assert q.wait_measured_s == pytest.approx(1.9)  # first to last frame in the queue: 2 s - 1 frame
    # Little's law: L = 60 frames with one person / 100 frames = 0.6; lambda = 3 / 10 s.
    assert q.queue_length == pytest.approx(0.6)
    assert q.throughput_per_min == pytest.approx(18.0)
    assert q.wait_estimate_s == pytest.approx(0.6 / 0.3)


def test_line_counts_and_visitors():
    lines = [{"id": "door", "a": [0.5, 0.0], "b": [0.5, 1.0], "in_point": [0.2, 0.5]}]
    agg = Aggregator(make_config(lines=lines))
    # Track 1 walks right to left (entry) with jitter at the line; track 2 walks left to right (exit).
    xs = [0.8, 0.6, 0.51, 0.49, 0.51, 0.49, 0.4, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2]
    def persons(t):
        i = int(round(t * 10))
        p = [(1, xs[i], 0.5)] if i < len(xs) else []
        if 30 <= i < 45:
            p.append((2, xs[44 - i], 0.5))
        return p
    out = agg.process(frames("cam-a", 0.0, 20.0, 10, persons))
    s = by_zone(out)
    assert (s[("line:door", 0.0)].entries, s[("line:door", 0.0)].exits) == (1, 1)
    view = s[("camera:cam-a", 0.0)]
    assert (view.entries, view.exits, view.unique_tracks) == (1, 1, 2)
    assert agg.state.line_totals[("s1", "door")] == [1, 1]


def test_out_of_order_within_lateness_merged_and_late_counted():
    agg = Aggregator(make_config())
    one = lambda t: [(1, 0.2, 0.5)]  # noqa: E731
    recs = frames("cam-a", 0.0, 10.0, 2, one)
    recs[3], recs[4] = recs[4], recs[3]               # swapped inside the window
    recs += frames("cam-a", 10.0, 11.0, 2, lambda t: [])
    recs += [FrameRecord.of("cam-a", 9.9, [(5, 0.2, 0.5), (6, 0.2, 0.5)])]  # 1.1 s late: within 2 s
    recs += frames("cam-a", 11.0, 12.5, 2, lambda t: [])   # watermark 12 -> window 0 closes
    recs += [FrameRecord.of("cam-a", 5.0, [(7, 0.2, 0.5)])]  # window closed: late
    recs += frames("cam-a", 12.5, 30.0, 2, lambda t: [])
    out = agg.process(recs)
    s = by_zone(out)
    w0 = s[("left", 0.0)]
    assert w0.occupancy_max == 2 and w0.unique_tracks == 3 and w0.late_records == 0
    assert w0.occupancy_avg == pytest.approx((20 + 2) / 21)
    assert s[("left", 10.0)].late_records == 1
    assert s[("left", 10.0)].occupancy_max == 0
    assert agg.state.late_total == {"s1": 1}


def test_camera_gap_is_unknown_not_zero_and_partial_coverage():
    agg = Aggregator(make_config(cameras=("cam-a", "cam-b")))
    empty = lambda t: []  # noqa: E731
    recs = []
    for i in range(60):  # cam-b runs 0..30 s; cam-a stops delivering frames at 13 s
        t = i * 0.5
        recs += [FrameRecord.of("cam-b", t, [])]
        if t < 13.0:
            recs += [FrameRecord.of("cam-a", t, [(1, 0.2, 0.5)])]
        elif t == int(t):  # each camera has its own event time: cam-a's comes from its health reports
            recs += [HealthRecord("cam-a", t, up=True)]
    del empty
    s = by_zone(agg.process(recs))
    assert s[("left", 0.0)].status == OK and s[("left", 0.0)].occupancy_avg == 1.0
    partial = s[("left", 10.0)]
    # Frames until 12.5 s cover until 14.5 s (stale_after_s = 2): 45 % of the window.
    assert partial.status == PARTIAL and partial.coverage == pytest.approx(0.45)
    gone = s[("left", 20.0)] if ("left", 20.0) in s else None
    assert gone is None or gone.status == UNKNOWN  # window 20 closes only at 32 s
    s2 = by_zone(agg.advance(33.0))
    unknown = s2[("left", 20.0)]
    assert unknown.status == UNKNOWN and unknown.coverage == 0
    assert unknown.occupancy_avg is None and unknown.entries is None and unknown.queue_length is None


def test_health_down_cuts_coverage_and_live_goes_unknown():
    agg = Aggregator(make_config(stale_after_s=5))
    agg.process(frames("cam-a", 0.0, 4.0, 2, lambda t: [(1, 0.2, 0.5)]))
    live = {z.zone_id: z for z in agg.live()}
    assert live["left"].status == "ok" and live["left"].occupancy == 1
    agg.process([HealthRecord("cam-a", 4.0, up=False)])
    assert all(z.status == "unknown" and z.occupancy is None for z in agg.live())
    s = by_zone(agg.advance(12.0))
    assert s[("left", 0.0)].status == PARTIAL and s[("left", 0.0)].coverage == pytest.approx(0.4)


def test_state_pickles_and_resumes_exactly():
    import pickle

    recs = frames("cam-a", 0.0, 40.0, 5, lambda t: [(1 + int(t // 3), 0.2 if t % 3 < 2 else 0.6, 0.5)])
    whole = by_zone(Aggregator(make_config()).process(recs))
    first = Aggregator(make_config())
    out = first.process(recs[:77])
    second = Aggregator(make_config(), state=pickle.loads(pickle.dumps(first.state)))
    out += second.process(recs[77:])
    assert by_zone(out) == whole


def two_camera_config():
    cams = []
    for c in ("cam-a", "cam-b"):
        cams.append({"id": c, "source": "x.mp4", "zones": [
            {"id": f"{c}-left", "kind": "area", "polygon": [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]},
            {"id": f"{c}-queue", "kind": "queue", "serves": f"{c}-till",
             "polygon": [[0.5, 0], [0.8, 0], [0.8, 1], [0.5, 1]]},
            {"id": f"{c}-till", "kind": "checkout", "polygon": [[0.8, 0], [1, 0], [1, 1], [0.8, 1]]}],
            "lines": [{"id": f"{c}-door", "a": [0.65, 0], "b": [0.65, 1], "in_point": [0.2, 0.5]}]})
    return parse_config({"region": "r", "pipeline": {"aggregate": {
        "window_s": 5, "allowed_lateness_s": 1, "stale_after_s": 2, "track_gone_s": 1.0, "zone_exit_grace_s": 0.5,
        "min_visit_dwell_s": 1.0}}, "stores": [{"id": "s1", "timezone": "UTC", "cameras": cams}]})


def walkers(t: float) -> list[tuple[int, float, float]]:
    """People walking left to right through left, queue and till, a new one every 4 s."""
    return [(1 + k, ((t - 4 * k) / 12) % 1.0, 0.5) for k in range(int(t // 4) + 1) if t - 4 * k < 12]


def test_a_camera_behind_another_on_one_partition_gives_the_windows_it_gives_alone():
    """Each camera has its own watermark: cam-b, 20 s behind cam-a in the same input, is not late."""
    a = frames("cam-a", 1000.0, 1060.0, 5, lambda t: walkers(t - 1000.0))
    b = frames("cam-b", 980.0, 1040.0, 5, lambda t: walkers(t - 980.0))
    together = Aggregator(two_camera_config())
    out = []
    for i in range(0, len(a), 7):  # interleaved as one partition delivers them, in batches
        out += together.process(a[i:i + 7] + b[i:i + 7])
    alone_a, alone_b = Aggregator(two_camera_config()), Aggregator(two_camera_config())
    expected = alone_a.process(a) + alone_b.process(b)
    got = by_zone(out)
    assert got == by_zone(expected)
    assert len(got) == 2 * 11 * 5  # per camera: 11 closed windows x (3 zones, the view, the door)
    assert all(s.late_records == 0 for s in got.values()) and together.state.late_total == {}
    assert sum(s.exits for k, s in got.items() if k[0] == "line:cam-b-door") > 0  # walking out, left to right
    assert sum(s.exits for k, s in got.items() if k[0] == "cam-b-queue") > 0
    assert together.state.line_totals == {**alone_a.state.line_totals, **alone_b.state.line_totals}


def test_a_camera_run_at_one_frame_a_second_keeps_its_visit_while_health_reports_move_time_on():
    """Tracks end on their camera's own frames: a slow detector (1 frame/s, each frame a second
    late) must not end a visit between two frames because health reports moved the watermark."""
    config = make_config(track_gone_s=2.0, zone_exit_grace_s=1.0, stale_after_s=15.0)
    agg = Aggregator(config)
    out = []
    for second in range(12):  # one person in `left` for 12 s; their frames arrive 1.5 s late
        out += agg.process([HealthRecord("cam-a", second + 1.5 + 1.0, True)])
        out += agg.process([FrameRecord("cam-a", float(second), [7], [(0.2, 0.5)], second)])
    out += agg.flush()
    left = [o for o in out if isinstance(o, WindowStats) and o.zone_id == "left"]
    assert sum(o.entries or 0 for o in left) == 1 and sum(o.exits or 0 for o in left) == 1
    # A camera that went silent does end its tracks, on the watermark.
    agg = Aggregator(config)
    agg.process([FrameRecord("cam-a", 0.0, [7], [(0.2, 0.5)], 0)])
    agg.process([HealthRecord("cam-a", 30.0, True)])  # silent for longer than stale_after_s
    assert not agg.state.cameras["cam-a"].tracks
