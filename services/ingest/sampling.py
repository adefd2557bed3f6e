"""Sampling decisions: which frames to take so a camera sends ``fps`` frames per second.

Three cases, one rule each:
- a clip (file): by frame index, so a replay always takes the same frames (deterministic);
- a live stream: by wall clock, always the newest frame at each due time; due times missed
  because processing was too slow are counted as dropped, never queued;
- stills (image folder): by capture time, as the stills say when they were taken.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class ClipSampler:
    """Take frame ``i`` of a clip at ``clip_fps`` when it starts a new 1/fps slot.

    >>> s = ClipSampler(clip_fps=10, fps=4)
    >>> [i for i in range(10) if s.wants(i)]
    [0, 3, 5, 8]
    """

    clip_fps: float
    fps: float

    def slot(self, index: int) -> int:
        # A tiny epsilon keeps float maths from moving a frame that sits exactly on a boundary.
        return math.floor(index * self.fps / self.clip_fps + 1e-9)

    def wants(self, index: int) -> bool:
        if self.fps >= self.clip_fps:
            return True
        return index == 0 or self.slot(index) > self.slot(index - 1)


@dataclass
class LiveSchedule:
    """Due times for a live camera: ``wait_s(now)`` until the next one, ``taken(now)`` after.

    ``taken(now, waiting_since)`` returns how many due times passed while a frame was waiting
    to be taken (processing slower than ``fps``): those frames are dropped, and the schedule
    restarts from now instead of bursting. Due times when the camera had no new frame (a
    camera slower than ``fps``) are not drops.

    >>> s = LiveSchedule(fps=5)
    >>> s.wait_s(100.0), s.taken(100.0), s.wait_s(100.1)
    (0.0, 0, 0.1)
    >>> s.taken(100.7)   # due at 100.2, 100.4, 100.6, a frame waiting all along: took one, missed two
    2
    >>> s.taken(101.45, waiting_since=101.4)   # due at 100.8..101.4 but no frame until 101.4
    0
    """

    fps: float
    next_due: float | None = None

    @property
    def period(self) -> float:
        return 1.0 / self.fps

    def wait_s(self, now: float) -> float:
        return 0.0 if self.next_due is None else max(0.0, round(self.next_due - now, 9))

    def taken(self, now: float, waiting_since: float | None = None) -> int:
        if self.next_due is None:
            self.next_due = now + self.period
            return 0
        first_due = max(self.next_due, waiting_since if waiting_since is not None else self.next_due)
        missed = max(0, math.floor((now - first_due) / self.period + 1e-9))
        self.next_due += (missed + 1) * self.period
        if self.next_due <= now:
            self.next_due = now + self.period
        return missed


@dataclass
class CaptureTimeSampler:
    """Take a still when its capture time is at least 1/fps after the last one taken.

    >>> s = CaptureTimeSampler(fps=1)
    >>> [t for t in (0.0, 0.4, 1.0, 1.5, 2.2) if s.offer(t)]
    [0.0, 1.0, 2.2]
    """

    fps: float
    last_taken: float | None = None

    def offer(self, capture_s: float) -> bool:
        if self.last_taken is not None and capture_s < self.last_taken + 1.0 / self.fps - 1e-6:
            return False
        self.last_taken = capture_s
        return True
