"""The pure cores of ingest: sampling, backoff, sharding, still ordering, motion gate."""

from __future__ import annotations

import datetime as dt
import doctest
import random
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.ingest import backoff, motion, sampling, sharding, stills
from services.ingest.backoff import Backoff
from services.ingest.motion import MotionGate
from services.ingest.sampling import CaptureTimeSampler, ClipSampler, LiveSchedule
from services.ingest.sharding import assign, replica_index_from_env
from services.ingest.stills import Still, capture_time_from_name, new_stills


@pytest.mark.parametrize("module", [backoff, motion, sampling, sharding, stills])
def test_docstring_examples(module):
    assert doctest.testmod(module).failed == 0


# --- sampling ---------------------------------------------------------------------------
@pytest.mark.parametrize(("clip_fps", "fps", "frames", "expected"),
                         [(10, 5, 100, 50), (30, 7, 300, 70), (25, 1, 250, 10), (10, 15, 40, 40), (10, 10, 40, 40)])
def test_clip_sampler_takes_fps_frames_per_second(clip_fps, fps, frames, expected):
    sampler = ClipSampler(clip_fps, fps)
    taken = [i for i in range(frames) if sampler.wants(i)]
    assert len(taken) == expected
    assert taken[0] == 0


def test_clip_sampler_spaces_frames_evenly():
    taken = [i for i in range(100) if ClipSampler(10, 5).wants(i)]
    assert taken == list(range(0, 100, 2))


def test_live_schedule_counts_missed_due_times_and_never_bursts():
    schedule = LiveSchedule(fps=5)
    assert schedule.taken(0.0) == 0
    assert schedule.wait_s(0.05) == pytest.approx(0.15)
    assert schedule.taken(0.2) == 0
    assert schedule.taken(1.05) == 3  # due 0.4, 0.6, 0.8, 1.0: one taken, three missed
    assert schedule.wait_s(1.05) == pytest.approx(0.15)  # next at 1.2, not a burst of catch-up frames


def test_live_schedule_slow_camera_is_not_counted_as_dropped():
    schedule = LiveSchedule(fps=5)
    schedule.taken(0.0)
    # A 2 fps camera: each frame arrives long after its due time and is taken at once.
    assert [schedule.taken(t + 0.01, waiting_since=t) for t in (0.5, 1.0, 1.5, 2.0)] == [0, 0, 0, 0]


def test_live_schedule_counts_drops_from_when_a_frame_was_waiting():
    schedule = LiveSchedule(fps=5)
    schedule.taken(0.0)
    # Due at 0.2; a frame waited from 0.5 but processing only got to it at 1.0: 0.6, 0.8, 1.0 passed.
    assert schedule.taken(1.0, waiting_since=0.5) == 2


def test_capture_time_sampler_thins_a_burst_of_stills():
    sampler = CaptureTimeSampler(fps=2)
    assert [t for t in np.arange(0, 3, 0.1) if sampler.offer(float(t))] == pytest.approx([0, 0.5, 1.0, 1.5, 2.0, 2.5])


# --- backoff ----------------------------------------------------------------------------
def test_backoff_doubles_with_jitter_caps_and_resets():
    b = Backoff(0.5, 8.0, rng=random.Random(7))
    delays = [b.next_delay() for _ in range(8)]
    ceilings = [0.5, 1, 2, 4, 8, 8, 8, 8]
    for delay, ceiling in zip(delays, ceilings, strict=True):
        assert ceiling / 2 <= delay <= ceiling
    b.reset()
    assert 0.25 <= b.next_delay() <= 0.5


def test_backoff_jitter_spreads_cameras_that_failed_together():
    delays = {round(Backoff(1, 30, rng=random.Random(seed)).next_delay(), 3) for seed in range(20)}
    assert len(delays) > 15


# --- sharding ---------------------------------------------------------------------------
@given(st.sets(st.from_regex(r"[a-z][a-z0-9-]{0,8}", fullmatch=True), max_size=40), st.integers(1, 7))
def test_shards_are_disjoint_complete_and_balanced(ids, replicas):
    shards = [assign(ids, i, replicas) for i in range(replicas)]
    flat = [c for shard in shards for c in shard]
    assert sorted(flat) == sorted(ids)
    sizes = [len(s) for s in shards]
    assert max(sizes) - min(sizes) <= 1


def test_shard_assignment_ignores_config_order():
    assert assign(["b", "a", "c"], 0, 2) == assign(["c", "b", "a"], 0, 2) == ["a", "c"]


def test_shard_rejects_an_index_outside_the_replicas():
    with pytest.raises(ValueError):
        assign(["a"], 2, 2)


@pytest.mark.parametrize(("env", "expected"), [({"POD_NAME": "ingest-2"}, 2), ({"POD_NAME": "store-ingest-10"}, 10),
                                               ({"POD_NAME": "ingest"}, None), ({}, None)])
def test_replica_index_from_pod_name(env, expected):
    assert replica_index_from_env(env) == expected


# --- stills -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["20261121093015-01.jpg", "cam1-2026-11-21_09-30-15.jpg",
                                  "2026-11-21T09:30:15Z.png", "snap_20261121_093015.jpeg"])
def test_capture_time_from_common_still_names(name):
    assert capture_time_from_name(name) == dt.datetime(2026, 11, 21, 9, 30, 15, tzinfo=dt.UTC).timestamp()


def test_still_names_are_local_camera_time_unless_marked_utc():
    lisbon_summer = capture_time_from_name("20260701120000-00.jpg", ZoneInfo("Europe/Lisbon"))
    assert lisbon_summer == dt.datetime(2026, 7, 1, 11, 0, tzinfo=dt.UTC).timestamp()
    assert capture_time_from_name("2026-07-01T12:00:00Z.jpg", ZoneInfo("Europe/Lisbon")) == \
        dt.datetime(2026, 7, 1, 12, 0, tzinfo=dt.UTC).timestamp()


def test_a_batch_sync_is_ordered_by_name_time_not_mtime():
    # All synced in one go: same mtime, written in reverse order.
    listing = {"20261121090003-00.jpg": 500.0, "20261121090001-00.jpg": 500.0, "20261121090002-00.jpg": 500.0}
    assert [s.name for s in new_stills(listing, None)] == [
        "20261121090001-00.jpg", "20261121090002-00.jpg", "20261121090003-00.jpg"]


def test_names_without_time_fall_back_to_mtime_and_the_cursor_skips_seen_files():
    listing = {"b.jpg": 30.0, "a.jpg": 20.0, "c.jpg": 40.0, "thumbs.db": 50.0, ".hidden.jpg": 60.0}
    assert [s.name for s in new_stills(listing, None)] == ["a.jpg", "b.jpg", "c.jpg"]
    assert [s.name for s in new_stills(listing, Still(30.0, "b.jpg"))] == ["c.jpg"]


# --- motion gate ------------------------------------------------------------------------
def scene(rng: np.random.Generator, person_at: int | None = None) -> np.ndarray:
    """A 160x90 grey scene with sensor noise, and optionally a dark 'person' blob."""
    image = np.full((90, 160), 120, np.float32) + rng.normal(0, 3, (90, 160))
    if person_at is not None:
        image[30:80, person_at:person_at + 15] = 40
    return np.clip(image, 0, 255).astype(np.uint8)


def test_static_scene_is_skipped_except_keepalives():
    rng = np.random.default_rng(0)
    gate = MotionGate(threshold=0.004, pixel_delta=25, keepalive_s=5)
    decisions = [gate.decide(scene(rng), t * 0.2) for t in range(100)]  # 20 s at 5 fps
    sent = [i for i, d in enumerate(decisions) if d.send]
    assert sent == [0, 25, 50, 75]  # first frame, then one keep-alive every 5 s
    assert all(decisions[i].keepalive for i in sent[1:])


def test_a_person_is_sent_while_walking_and_while_standing_still():
    rng = np.random.default_rng(1)
    gate = MotionGate(threshold=0.004, pixel_delta=25, keepalive_s=5)
    for t in range(25):  # 5 s empty
        gate.decide(scene(rng), t * 0.2)
    walking = [gate.decide(scene(rng, 10 + 4 * k), 5 + k * 0.2) for k in range(20)]
    standing = [gate.decide(scene(rng, 90), 9 + k * 0.2) for k in range(300)]  # 60 s without moving
    assert all(d.send and not d.keepalive for d in walking + standing)
    after = [gate.decide(scene(rng), 70 + k * 0.2) for k in range(10)]
    assert after[0].send and not any(d.send for d in after[2:])  # the empty scene once, then quiet


def test_gate_reset_forgets_the_scene():
    rng = np.random.default_rng(2)
    gate = MotionGate(threshold=0.004, pixel_delta=25, keepalive_s=5)
    gate.decide(scene(rng), 0.0)
    assert not gate.decide(scene(rng), 0.2).send
    gate.reset()
    assert gate.decide(scene(rng), 0.4).send
