"""Health reports of a replayed file follow the replay clock, not the wall clock.

A replay dated in the past (the demo clip starts 2026-11-20) must not move later stages' event
time to "now": aggregate's windows would all close before the replay's detections arrive.
"""

from __future__ import annotations

import datetime as dt
import threading

import numpy as np

from services.ingest.backoff import Backoff
from services.ingest.camera import CameraWorker
from services.ingest.sources import Captured
from storesight.config import Camera, IngestSettings
from storesight.contracts import from_timestamp

START = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)


def worker(source: str) -> CameraWorker:
    camera = Camera(id="cam", source=source, start_time=START)
    return CameraWorker("store", camera, IngestSettings(), lambda _f: None, lambda _h: None, threading.Event())


def test_file_replay_health_uses_the_replay_clock():
    w = worker("/clips/replay.mp4")
    assert from_timestamp(w.health().report_time) == START  # before any frame: the replay's start
    first = START + dt.timedelta(seconds=30)
    w._replay_offset = first - dt.datetime.now(dt.UTC)  # as set when the first frame is read
    reported = from_timestamp(w.health().report_time)
    assert first <= reported < first + dt.timedelta(seconds=5)


class OneFrameSource:
    """Gives one frame, then asks the worker to stop (as if the replay was interrupted)."""

    def __init__(self, worker: CameraWorker, captured: Captured):
        self.worker, self.captured = worker, captured

    def next_frame(self, timeout_s: float):
        self.worker.stopping.set()
        return self.captured


def test_first_frame_anchors_the_replay_clock():
    w = worker("/clips/replay.mp4")
    first = START + dt.timedelta(seconds=2)
    w._stream(OneFrameSource(w, Captured(np.zeros((48, 64, 3), np.uint8), first)), Backoff(0.5, 30))
    assert abs(from_timestamp(w.health().report_time) - first) < dt.timedelta(seconds=5)


def test_live_camera_health_uses_the_wall_clock():
    w = worker("rtsp://127.0.0.1:8554/cam")
    reported = from_timestamp(w.health().report_time)
    assert abs(reported - dt.datetime.now(dt.UTC)) < dt.timedelta(seconds=5)
