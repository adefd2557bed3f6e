"""Queues: when a queue visit was served, and a queue window's length, waits and throughput.

A zone of kind ``queue`` may name the zone that serves it (``serves``: the till). Length =
occupancy; throughput = served visits per covered minute; Little's law wait = average length /
throughput; measured wait = mean dwell of served visits. Plus the plain arithmetic behind them.

>>> queue = Queue(till=2)
>>> queue.served(end_s=10.0, till_last_in=12.0), queue.served(end_s=10.0, till_last_in=None)
(True, False)
>>> queue.window(avg_length=3.0, served=6, waits=[20.0, 40.0], covered_s=60.0)
{'queue_length': 3.0, 'wait_estimate_s': 30.0, 'wait_measured_s': 30.0, 'throughput_per_min': 6.0}
>>> queue.live_wait(length=2, rate=0.1)
20.0
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Queue:
    """A queue zone; ``till``: the slot of the zone that serves it (None: every completed visit is served)."""

    till: int | None = None

    def served(self, end_s: float, till_last_in: float | None) -> bool:
        """A queue visit ending at ``end_s`` was served when its track was at the till at or after that."""
        return self.till is None or (till_last_in is not None and till_last_in >= end_s)

    @staticmethod
    def window(avg_length: float, served: int, waits: list[float], covered_s: float) -> dict:
        """The queue values of one window (None where unknown)."""
        return dict(queue_length=avg_length, wait_estimate_s=littles_law_wait(avg_length, served, covered_s),
                    wait_measured_s=(sum(waits) / len(waits)) if waits else None,
                    throughput_per_min=throughput_per_min(served, covered_s))

    @staticmethod
    def live_wait(length: int, rate: float | None) -> float | None:
        """Live wait: current length / the last closed window's served per second (None: unknown)."""
        return 0.0 if length == 0 else (length / rate if rate else None)


def littles_law_wait(avg_length: float, served: int, covered_s: float) -> float | None:
    """Average wait W = L / lambda, with lambda = served / covered seconds.

    An empty queue waits 0 s. A queue with people and nobody served in the window has no
    finite estimate: None (unknown), never a made-up number.

    >>> littles_law_wait(3.0, 6, 60.0)   # 3 people, 0.1 served/s -> 30 s
    30.0
    """
    if covered_s <= 0:
        return None
    if avg_length == 0:
        return 0.0
    if served == 0:
        return None
    return avg_length / (served / covered_s)


def throughput_per_min(served: int, covered_s: float) -> float | None:
    return None if covered_s <= 0 else served * 60.0 / covered_s


def percentile(values: list[float], q: float) -> float | None:
    """Linear-interpolated percentile (numpy's default); None for no values."""
    return float(np.percentile(values, q)) if values else None


def union_length(intervals: list[tuple[float, float]], start: float, end: float) -> float:
    """Length of the union of intervals clipped to [start, end)."""
    clipped = sorted((max(a, start), min(b, end)) for a, b in intervals if b > start and a < end)
    total, reach = 0.0, start
    for a, b in clipped:
        if b <= reach:
            continue
        total += b - max(a, reach)
        reach = b
    return total
