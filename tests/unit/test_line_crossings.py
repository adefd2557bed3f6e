"""Line crossings that an id switch cannot fake: a crossing is a continuous walk through the band.

The track's foot points go through the same calls as in the aggregator: ``LineSet.sides`` (the
debounce band) then ``LineCrossings.move`` (continuity) and ``observe`` (side changes).
"""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from services.aggregate.geometry import LineSet
from services.aggregate.lines import LineCrossings
from storesight.config import AggregateSettings

DEFAULTS = AggregateSettings()
DEBOUNCE = DEFAULTS.line_debounce_px
# A horizontal door line at y = 0.5, the inside below it: the foot point (x, 0.5 + d) is d inside.
DOOR = LineSet([((0.0, 0.5), (1.0, 0.5), (0.5, 1.0))])


def counter() -> LineCrossings:
    return LineCrossings(DEFAULTS.line_max_speed, DEFAULTS.line_min_step_s)


def events(path, fps=None, times=None, track=1, crossings=None):
    """Events of one track whose foot point is at (x, 0.5 + d) for each (x, d) in ``path``."""
    crossings = crossings or counter()
    times = times if times is not None else [k / fps for k in range(len(path))]
    out = []
    for t, (x, d) in zip(times, path, strict=True):
        side = int(DOOR.sides(np.array([[x, 0.5 + d]]), DEBOUNCE)[0, 0])
        crossings.move(track, t, (x, 0.5 + d))
        out.append(crossings.observe(0, track, side))
    return [e for e in out if e], crossings


def walk(start, end, speed, fps, x=0.5):
    """Foot points from depth ``start`` to ``end`` at ``speed`` units/s, one per frame."""
    steps = max(2, int(abs(end - start) / speed * fps) + 1)
    return [(x, d) for d in np.linspace(start, end, steps)]


@settings(max_examples=100, deadline=None)
@given(fps=st.sampled_from([1, 2, 5, 10, 12.5, 25, 30]), speed=st.floats(0.05, 1.2),
       inward=st.booleans())
def test_a_walk_through_the_door_counts_once_at_any_frame_rate_and_walking_speed(fps, speed, inward):
    path = walk(-0.3, 0.3, speed, fps) if inward else walk(0.3, -0.3, speed, fps)
    found, crossings = events(path, fps)
    assert found == ["entry" if inward else "exit"]
    assert crossings.splits == 0


def test_a_track_teleporting_across_the_line_is_split_not_counted():
    # Walking along the walkway outside, then the id jumps to a person inside the shop 80 ms later.
    outside = [(0.2 + 0.01 * k, -0.15) for k in range(10)]
    inside = [(0.6, 0.25)] * 10
    found, crossings = events(outside + inside, fps=12.5)
    assert found == []
    assert crossings.splits == 1


def test_after_a_split_the_new_person_is_counted_only_for_a_real_crossing():
    outside = [(0.3, -0.15)] * 5
    jumped = [(0.6, 0.25)] * 5  # the id jumped to someone standing inside
    leaves = walk(0.25, -0.3, 0.5, 12.5, x=0.6)  # who then walks out through the door
    found, crossings = events(outside + jumped + leaves, fps=12.5)
    assert found == ["exit"]
    assert crossings.splits == 1


def test_turning_back_inside_the_band_is_no_crossing():
    path = walk(-0.2, -0.5 * DEBOUNCE, 0.4, 10) + walk(-0.5 * DEBOUNCE, 0.9 * DEBOUNCE, 0.2, 10) \
        + walk(0.9 * DEBOUNCE, -0.2, 0.4, 10)
    assert events(path, 10)[0] == []


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(-0.99 * DEBOUNCE, 0.99 * DEBOUNCE), min_size=1, max_size=80))
def test_jitter_on_the_line_never_counts(jitter):
    before = [(0.5, -0.1)] * 3
    found, _ = events(before + [(0.5, d) for d in jitter], fps=10)
    assert found == []


def test_standing_on_the_line_for_minutes_counts_nothing():
    rng = np.random.default_rng(1)
    path = [(0.5 + rng.normal(0, 0.003), rng.normal(0, DEBOUNCE / 3)) for _ in range(5 * 60 * 5)]
    path = [(x, float(np.clip(d, -0.99 * DEBOUNCE, 0.99 * DEBOUNCE))) for x, d in path]
    found, crossings = events([(0.5, 0.2)] + path + [(0.5, 0.2)], fps=5)
    assert found == []
    assert crossings.splits == 0


def test_a_person_hidden_while_crossing_is_counted_when_seen_again_on_the_other_side():
    # Seen outside, hidden behind someone for 2 s (no positions), seen again inside.
    times = [0.0, 0.1, 0.2, 2.2, 2.3]
    path = [(0.5, -0.15), (0.5, -0.13), (0.5, -0.11), (0.5, 0.2), (0.5, 0.22)]
    found, crossings = events(path, times=times)
    assert found == ["entry"]
    assert crossings.splits == 0


def test_box_jitter_between_close_frames_is_not_a_teleport():
    # At 25 fps the foot point of one person jumps by a few percent when the box changes shape.
    path = [(0.5, -0.2), (0.5, -0.15), (0.52, -0.2), (0.5, -0.1), (0.5, 0.0), (0.5, 0.1), (0.49, 0.15)]
    found, crossings = events(path, fps=25)
    assert found == ["entry"]
    assert crossings.splits == 0


def test_two_tracks_are_independent():
    crossings = counter()
    a, _ = events(walk(-0.2, 0.2, 0.5, 10), 10, track=1, crossings=crossings)
    b, _ = events(walk(0.2, -0.2, 0.5, 10), 10, track=2, crossings=crossings)
    assert (a, b) == (["entry"], ["exit"])


def test_a_checkpoint_from_before_the_continuity_rule_loads():
    """Checkpoints restore attributes without running a constructor: only ``sides`` is there."""
    old = LineCrossings.__new__(LineCrossings)
    old.sides = {(0, 4): -1}
    old.move(4, 0.0, (0.5, 0.6))
    assert old.observe(0, 4, 1) == "entry"


def test_the_crossings_state_survives_a_json_checkpoint():
    from services.aggregate.checkpoint import decode, encode
    from services.aggregate.state import AggregatorState, CameraState

    crossings = counter()
    events(walk(-0.2, -0.05, 0.5, 10), 10, track=3, crossings=crossings)
    state = AggregatorState()
    state.cameras["cam-a"] = CameraState(crossings=crossings)
    restored = decode(encode(state, {}, {}, generation=1)).state.cameras["cam-a"].crossings
    assert restored.sides == crossings.sides and restored.max_speed == DEFAULTS.line_max_speed
    found, _ = events(walk(-0.05, 0.2, 0.5, 10), 10, track=3, crossings=restored)
    assert found == ["entry"]


def test_the_aggregator_counts_door_scenarios_exactly():
    """Side by side, standing on the line, turning back, an id teleporting, walking out: 2 in, 1 out."""
    from services.aggregate.aggregator import Aggregator
    from services.aggregate.records import FrameRecord
    from tests.unit.test_aggregate_core import make_config

    door = [{"id": "door", "a": [0.2, 0.5], "b": [0.8, 0.5], "in_point": [0.5, 0.9]}]
    agg = Aggregator(make_config(lines=door, window_s=60, track_gone_s=5.0))
    fps = 10

    def persons(t):
        out = []
        if t < 3:  # two people side by side walking in
            y = 0.2 + 0.2 * t
            out += [(1, 0.40, y), (2, 0.46, y)]
        out.append((3, 0.6, 0.5 + 0.01 * np.sin(7 * t)))  # stands on the line the whole time
        if 4 <= t < 8:  # walks up to the line and turns back inside the band
            out.append((4, 0.3, 0.2 + 0.29 * (1 - abs(t - 6) / 2)))
        if 8 <= t < 12:  # on the walkway outside; then the id jumps to someone inside
            out.append((5, 0.3, 0.3) if t < 10 else (5, 0.7, 0.8))
        if 13 <= t < 16:  # walks out
            out.append((6, 0.5, 0.8 - 0.2 * (t - 13)))
        return out

    records = [FrameRecord.of("cam-a", k / fps, persons(k / fps)) for k in range(20 * fps)]
    agg.process(records)
    agg.flush()
    assert agg.state.line_totals[("s1", "door")] == [2, 1]


def ended(path, fps):
    """Events of one track walking ``path``, then what ``finish`` adds when the track ends there."""
    found, crossings = events(path, fps)
    x, d = path[-1]
    last = crossings.last_position(1)
    assert last == (x, 0.5 + d)
    at_end = crossings.finish(1, DOOR.sides(np.array([last]), 0.0)[0].tolist())
    return found, [crossed for _, crossed in at_end], crossings


def test_a_track_that_ends_in_the_band_just_past_the_line_crossed_it():
    # Walking out at 2 frames/s: the last foot point before the person leaves the picture is
    # 0.01 past the line, inside the 0.02 band: no frame saw them beyond it.
    found, at_end, crossings = ended([(0.5, 0.4), (0.5, 0.2), (0.5, -0.01)], fps=2)
    assert found == [] and at_end == ["exit"]
    assert not crossings.sides and 1 not in crossings.last  # the track is forgotten


def test_a_track_that_ends_in_the_band_before_the_line_did_not_cross_it():
    # The other side of the rule's boundary: last seen 0.01 before the line.
    found, at_end, _ = ended([(0.5, 0.4), (0.5, 0.2), (0.5, 0.01)], fps=2)
    assert found == [] and at_end == []


def test_a_crossing_seen_beyond_the_band_is_not_counted_again_when_the_track_ends():
    found, at_end, _ = ended([(0.5, 0.4), (0.5, -0.05), (0.5, -0.01)], fps=2)
    assert found == ["exit"] and at_end == []


def test_a_track_never_seen_beyond_the_band_counts_nothing_when_it_ends():
    # Standing on the line (jitter in the band) and then lost: nobody was seen crossing.
    found, at_end, _ = ended([(0.5, 0.01), (0.5, -0.01), (0.5, 0.005), (0.5, -0.015)], fps=10)
    assert found == [] and at_end == []


def test_a_track_that_ends_beside_the_segment_counts_nothing():
    short = LineSet([((0.0, 0.5), (0.4, 0.5), (0.2, 1.0))])
    crossings = counter()
    for t, y in ((0.0, 0.8), (0.5, 0.6)):
        crossings.move(1, t, (0.3, y))
        crossings.observe(0, 1, int(short.sides(np.array([[0.3, y]]), DEBOUNCE)[0, 0]))
    crossings.move(1, 1.0, (0.6, 0.49))  # past the line's height, but beyond its end
    assert crossings.finish(1, short.sides(np.array([[0.6, 0.49]]), 0.0)[0].tolist()) == []


def test_the_aggregator_counts_a_walk_out_at_two_frames_a_second_as_at_ten():
    """The person's last frame before the picture's edge is in the band past the line at 2 fps;
    at 10 fps a frame sees them beyond it. One exit either way, booked when the track ends."""
    from services.aggregate.aggregator import Aggregator
    from services.aggregate.records import FrameRecord, WindowStats
    from tests.unit.test_aggregate_core import make_config

    door = [{"id": "door", "a": [0.0, 0.5], "b": [1.0, 0.5], "in_point": [0.5, 0.9]}]
    for fps in (2, 10):
        agg = Aggregator(make_config(lines=door, window_s=60, track_gone_s=2.0))
        # Walks from y 0.9 up to 0.47 at 0.205/s (t = 0 .. 2.1), then out of the picture: the
        # 2 fps frames see 0.49 last (in the band), the 10 fps ones 0.4695 (beyond it).
        records = [FrameRecord.of("cam-a", k / fps, [(1, 0.5, 0.9 - 0.205 * k / fps)] if k / fps <= 2.1 else [])
                   for k in range(10 * fps)]
        out = agg.process(records) + agg.flush()
        assert agg.state.line_totals[("s1", "door")] == [0, 1], fps
        assert sum(o.exits or 0 for o in out if isinstance(o, WindowStats) and o.zone_id == "line:door") == 1
