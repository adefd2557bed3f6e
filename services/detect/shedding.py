"""Load shedding with a steady cadence: which queued frames the detector runs, which it skips.

When the detector is slower than the cameras, running frames first-in-first-out makes it fall
ever further behind until whole bursts go stale at once; the gaps those bursts leave split
tracks, and each fragment counts as a new visitor. Instead each camera keeps only its newest
frames: a queued frame is skipped (``superseded``) once the camera has a frame more than
``window_s`` newer queued, and a frame no newer than the last one run for its camera is
skipped (``behind``: redelivered or out of order). The detector then runs each camera at
whatever rate it sustains, with evenly spaced frames, and ``take`` shares it fairly: round
robin over the cameras, the camera served longest ago first.

Skipping is a decision, not a loss: a skipped frame's offset is committed like a processed
one (``committable``), so a restart does not redeliver it.

>>> s = Shedder(window_s=0.0)
>>> [r for _, r in s.offer("a", 1.0, "f1", ("t", 0, 10))]
[]
>>> [r for _, r in s.offer("a", 1.1, "f2", ("t", 0, 11))]
['superseded']
>>> s.take(8), s.committable()
(['f2'], {('t', 0): 12})
>>> [r for _, r in s.offer("a", 1.0, "f0", ("t", 0, 9))]
['behind']
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")

SUPERSEDED = "superseded"  # a newer frame of the same camera won
BEHIND = "behind"  # not newer than the camera's last processed frame
SKIP_REASONS = (SUPERSEDED, BEHIND)

Position = tuple[str, int, int]  # (topic, partition, offset)


@dataclass
class _Queued(Generic[T]):
    capture_s: float
    item: T
    position: Position


@dataclass
class _Camera(Generic[T]):
    queue: deque = field(default_factory=deque)  # _Queued, in capture order
    last_taken_s: float = -math.inf  # capture time of the newest frame handed to the detector
    served: int = -1  # round-robin tick of the last take (lower = waited longer)


class Shedder(Generic[T]):
    """Per-camera newest-wins queues, a fair pick across cameras, and the offsets safe to commit.

    ``offer`` returns the (item, reason) pairs it skipped; ``take`` returns up to ``n`` items
    for the detector. Not thread-safe.
    """

    def __init__(self, window_s: float = 0.0):
        if window_s < 0:
            raise ValueError("window_s must be >= 0")
        self.window_s = window_s
        self._cameras: dict[str, _Camera[T]] = {}
        self._tick = itertools.count()
        self._pending: dict[tuple[str, int], dict[int, int]] = {}  # (topic, partition) -> offset -> count
        self._seen: dict[tuple[str, int], int] = {}  # highest offset decided or queued, per partition

    def __len__(self) -> int:
        return sum(len(c.queue) for c in self._cameras.values())

    def offer(self, camera: str, capture_s: float, item: T, position: Position) -> list[tuple[T, str]]:
        cam = self._cameras.setdefault(camera, _Camera())
        self._note(position)
        if capture_s <= cam.last_taken_s or (cam.queue and capture_s <= cam.queue[-1].capture_s):
            # Not newer than what this camera already ran or has queued: a redelivery or too late.
            return [(item, BEHIND)]
        cam.queue.append(_Queued(capture_s, item, position))
        self._hold(position)
        skipped = []
        while cam.queue and cam.queue[0].capture_s < capture_s - self.window_s:
            old = cam.queue.popleft()
            self._release(old.position)
            skipped.append((old.item, SUPERSEDED))
        return skipped

    def take(self, n: int) -> list[T]:
        """Up to ``n`` frames: one per waiting camera per round (longest-unserved camera first),
        each camera's in capture order."""
        out: list[T] = []
        while len(out) < n:
            waiting = sorted((c for c in self._cameras.values() if c.queue), key=lambda c: c.served)
            if not waiting:
                break
            for cam in waiting[:n - len(out)]:
                queued = cam.queue.popleft()
                cam.last_taken_s = queued.capture_s
                cam.served = next(self._tick)
                self._release(queued.position)
                out.append(queued.item)
        return out

    def committable(self) -> dict[tuple[str, int], int]:
        """Per partition, the next offset to commit: every earlier frame was run or skipped."""
        out = {}
        for key, seen in self._seen.items():
            held = self._pending.get(key)
            out[key] = min(held) if held else seen + 1
        return out

    def _note(self, position: Position) -> None:
        key = position[:2]
        self._seen[key] = max(self._seen.get(key, -1), position[2])

    def _hold(self, position: Position) -> None:
        held = self._pending.setdefault(position[:2], {})
        held[position[2]] = held.get(position[2], 0) + 1

    def _release(self, position: Position) -> None:
        held = self._pending[position[:2]]
        held[position[2]] -= 1
        if not held[position[2]]:
            del held[position[2]]


class RateMeter:
    """Frames per second of one camera's processed frames, over the last ``span_s`` of capture time.

    >>> m = RateMeter(span_s=5.0)
    >>> for t in (0.0, 0.5, 1.0, 1.5, 2.0):
    ...     m.add(t)
    >>> m.fps
    2.0
    """

    def __init__(self, span_s: float = 10.0):
        self.span_s = span_s
        self._times: deque[float] = deque()

    def add(self, capture_s: float) -> None:
        if self._times and capture_s <= self._times[-1]:
            return
        self._times.append(capture_s)
        while self._times[0] < capture_s - self.span_s:
            self._times.popleft()

    @property
    def fps(self) -> float:
        """0 until two frames were seen."""
        if len(self._times) < 2:
            return 0.0
        return (len(self._times) - 1) / (self._times[-1] - self._times[0])

    @property
    def last_s(self) -> float | None:
        return self._times[-1] if self._times else None


def replay(capture_s: list[float], capacity_fps: float, window_s: float = 0.0,
           camera: str = "camera", service_s: Callable[[int], float] | None = None) -> list[int]:
    """Indices of the frames run (``replay_timed`` without the times).

    >>> replay([i / 10 for i in range(10)], capacity_fps=2.5)
    [0, 4, 8, 9]
    """
    return [index for index, _ in replay_timed(capture_s, capacity_fps, window_s, camera, service_s)]


def replay_timed(capture_s: list[float], capacity_fps: float, window_s: float = 0.0, camera: str = "camera",
                 service_s: Callable[[int], float] | None = None) -> list[tuple[int, float]]:
    """Indices of the frames a detector running ``capacity_fps`` frames a second would run, one
    at a time, if frames arrived at their capture times: the offline form of the live loop
    (bench.overload and the tests use it). ``service_s(k)``: seconds the k-th run takes
    (default ``1 / capacity_fps`` each). Returns (index, time its detections are out).

    >>> replay_timed([0.0, 0.1, 0.2], capacity_fps=4)
    [(0, 0.25), (2, 0.5)]
    """
    shedder: Shedder[int] = Shedder(window_s)
    service = service_s or (lambda _: 1.0 / capacity_fps)
    run: list[tuple[int, float]] = []
    free_at = -math.inf
    arrived = 0
    while True:
        if not len(shedder):
            if arrived == len(capture_s):
                return run
            free_at = max(free_at, capture_s[arrived])
        while arrived < len(capture_s) and capture_s[arrived] <= free_at + 1e-9:
            shedder.offer(camera, capture_s[arrived], arrived, ("frames", 0, arrived))
            arrived += 1
        for index in shedder.take(1):
            free_at += service(len(run) + 1)
            run.append((index, free_at))
