"""When to run the detector, and which frames are too old to be worth it.

``BatchPolicy`` says a batch is due when enough frames wait (``max_batch``) or the oldest of
them has waited ``max_wait_s``: full batches for throughput, bounded waiting for latency. The
frames themselves wait in the shedder (``shedding.py``), which decides which of them run.
``split_stale`` is the last guard: frames older than ``max_age_s`` (by capture time) are
dropped and counted rather than run, so latency stays bounded even when every camera is behind.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class BatchPolicy:
    """Timing only: the caller says how many frames wait (``waiting``) and when they started to."""

    def __init__(self, max_batch: int, max_wait_s: float):
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self._since: float | None = None

    def note(self, waiting: int, now: float) -> None:
        """Call after frames were added or taken: starts (or stops) the wait clock."""
        if not waiting:
            self._since = None
        elif self._since is None:
            self._since = now

    def due(self, waiting: int, now: float) -> bool:
        if not waiting:
            return False
        return waiting >= self.max_batch or now - (self._since if self._since is not None else now) >= self.max_wait_s

    def wait_s(self, waiting: int, now: float) -> float:
        """How long the caller may block waiting for more frames before a batch is due."""
        if not waiting:
            return self.max_wait_s if self.max_wait_s > 0 else 0.0
        if waiting >= self.max_batch:
            return 0.0
        since = self._since if self._since is not None else now
        return max(0.0, since + self.max_wait_s - now)

    def taken(self, waiting: int, now: float) -> None:
        """A batch was taken; ``waiting`` frames are left, and their wait starts now."""
        self._since = now if waiting else None

def split_stale(items: list[T], capture_time: Callable[[T], float], now: float,
                max_age_s: float) -> tuple[list[T], list[T]]:
    """(fresh, stale): stale items were captured more than ``max_age_s`` before ``now``."""
    fresh, stale = [], []
    for item in items:
        (stale if now - capture_time(item) > max_age_s else fresh).append(item)
    return fresh, stale
