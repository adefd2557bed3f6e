"""Load shedding: newest frames win, never one older than the last run, fair across cameras,
evenly spaced at the detector's rate, and every offset committed only once its frame is decided."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.detect.shedding import BEHIND, SUPERSEDED, RateMeter, Shedder, replay

# (camera index, capture time step, take after this frame?) per arriving frame
arrivals = st.lists(st.tuples(st.integers(0, 3), st.floats(-0.3, 1.0), st.integers(0, 3)), max_size=80)


@settings(max_examples=200, deadline=None)
@given(arrivals, st.sampled_from([0.0, 0.25, 1.0]))
def test_every_frame_is_run_once_or_skipped_once_and_never_behind_its_camera(events, window_s):
    shedder: Shedder[tuple[str, float, int]] = Shedder(window_s)
    clock = {c: 0.0 for c in range(4)}
    decided: dict[int, str] = {}
    last_run: dict[str, float] = {}
    for offset, (c, step, take) in enumerate(events):
        clock[c] += step  # a negative step: a frame out of order
        camera, capture = f"cam{c}", clock[c]
        for (_, _, o), reason in shedder.offer(camera, capture, (camera, capture, offset), ("f", offset % 2, offset)):
            assert o not in decided
            decided[o] = reason
        for cam, t, o in shedder.take(take):
            assert o not in decided
            decided[o] = "run"
            assert t > last_run.get(cam, float("-inf")), "a frame older than the camera's last run frame"
            last_run[cam] = t
        committable = shedder.committable()
        for partition, next_offset in committable.items():
            # Everything below the committed offset in that partition was run or skipped.
            assert all(o in decided for o in range(offset + 1) if o % 2 == partition[1] and o < next_offset)
    for _, _, o in shedder.take(len(events)):
        decided[o] = "run"
    assert sorted(decided) == list(range(len(events)))
    assert set(decided.values()) <= {"run", SUPERSEDED, BEHIND}
    assert all(next_offset == max(o for o in decided if o % 2 == p) + 1
               for (_, p), next_offset in shedder.committable().items())


def test_newest_frame_of_a_camera_wins_and_an_older_one_is_behind():
    shedder: Shedder[str] = Shedder(0.0)
    assert shedder.offer("a", 1.0, "a1", ("f", 0, 0)) == []
    assert shedder.offer("a", 2.0, "a2", ("f", 0, 1)) == [("a1", SUPERSEDED)]
    assert shedder.offer("b", 1.5, "b1", ("f", 0, 2)) == []
    assert shedder.committable() == {("f", 0): 1}  # a2 waits: nothing after it may be committed
    assert shedder.take(8) == ["a2", "b1"]
    assert shedder.committable() == {("f", 0): 3}
    assert shedder.offer("a", 2.0, "again", ("f", 0, 3)) == [("again", BEHIND)]  # redelivered
    assert shedder.committable() == {("f", 0): 4}


def test_a_window_keeps_a_short_burst_of_one_camera():
    shedder: Shedder[int] = Shedder(0.5)
    for i in range(10):
        shedder.offer("a", i * 0.1, i, ("f", 0, i))
    assert shedder.take(8) == [4, 5, 6, 7, 8, 9][:8]  # the last 0.5 s, in capture order


def test_cameras_share_the_detector_round_robin():
    shedder: Shedder[str] = Shedder(10.0)
    for i in range(6):
        for camera in ("a", "b", "c"):
            shedder.offer(camera, float(i), f"{camera}{i}", ("f", 0, 0))
    served = [shedder.take(1)[0][0] for _ in range(9)]
    assert served == ["a", "b", "c"] * 3
    # A batch takes one frame per camera per round.
    assert shedder.take(5) == ["a3", "b3", "c3", "a4", "b4"]


@settings(max_examples=60, deadline=None)
@given(st.sampled_from([1.0, 2.0, 3.0, 5.0, 7.0]), st.sampled_from([0.0, 0.5]))
def test_processed_frames_are_evenly_spaced_at_the_detectors_rate(capacity, window_s):
    camera_fps = 10.0
    times = [i / camera_fps for i in range(600)]
    run = replay(times, capacity, window_s)
    # Past the start and before the end of the input (where the queue just drains): every
    # interval is the detector's service time, quantised to the camera's frame interval (one
    # more frame interval of jitter when a window keeps more than the newest frame).
    steady = [times[i] for i in run if 2.0 <= times[i] <= times[-1] - 2.0]
    gaps = [b - a for a, b in zip(steady, steady[1:], strict=False)]
    jitter = (1 if window_s == 0 else 2) / camera_fps
    assert gaps and all(abs(g - 1 / capacity) <= jitter + 1e-9 for g in gaps)
    assert len(steady) == pytest.approx((times[-1] - 4.0) * capacity, abs=2)


def test_a_detector_faster_than_the_camera_runs_every_frame():
    times = [i / 10 for i in range(100)]
    assert replay(times, 25.0) == list(range(100))


def test_rate_meter_counts_frames_over_its_span():
    meter = RateMeter(span_s=2.0)
    assert meter.fps == 0.0
    for i in range(50):
        meter.add(i / 5)
    assert meter.fps == pytest.approx(5.0)
    meter.add(20.0)  # after a 10 s gap only the new frame and nothing older than 2 s counts
    assert meter.fps == 0.0
