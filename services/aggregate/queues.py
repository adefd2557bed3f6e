"""Queue and dwell arithmetic: Little's law, throughput, percentiles. Plain functions."""

from __future__ import annotations

import numpy as np


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
