"""When to run the detector, and which frames are too old to be worth it.

``BatchPolicy`` gathers frames from every camera and says a batch is due when it is full
(``max_batch``) or its oldest frame has waited ``max_wait_s``: full batches for throughput,
bounded waiting for latency. ``split_stale`` is the backpressure rule: when the detector is
slower than the cameras, frames older than ``max_age_s`` (by capture time) are dropped and
counted rather than queued, so latency stays bounded instead of growing without end.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class BatchPolicy(Generic[T]):
    def __init__(self, max_batch: int, max_wait_s: float):
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self._items: list[T] = []
        self._oldest_arrival: float | None = None

    def __len__(self) -> int:
        return len(self._items)

    def add(self, item: T, arrived_at: float) -> None:
        if not self._items:
            self._oldest_arrival = arrived_at
        self._items.append(item)

    def due(self, now: float) -> bool:
        if not self._items:
            return False
        return len(self._items) >= self.max_batch or now - self._oldest_arrival >= self.max_wait_s

    def wait_s(self, now: float) -> float:
        """How long the caller may block waiting for more frames before a batch is due."""
        if not self._items:
            return self.max_wait_s if self.max_wait_s > 0 else 0.0
        if len(self._items) >= self.max_batch:
            return 0.0
        return max(0.0, self._oldest_arrival + self.max_wait_s - now)

    def take(self, now: float) -> list[T]:
        """Remove and return up to ``max_batch`` items, oldest first."""
        batch, self._items = self._items[:self.max_batch], self._items[self.max_batch:]
        self._oldest_arrival = now if self._items else None
        return batch


def split_stale(items: list[T], capture_time: Callable[[T], float], now: float,
                max_age_s: float) -> tuple[list[T], list[T]]:
    """(fresh, stale): stale items were captured more than ``max_age_s`` before ``now``."""
    fresh, stale = [], []
    for item in items:
        (stale if now - capture_time(item) > max_age_s else fresh).append(item)
    return fresh, stale
