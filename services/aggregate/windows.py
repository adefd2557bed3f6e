"""Event-time windows and their coverage: which window a time falls in, and how much of it was seen.

A record belongs to the tumbling window ``floor(capture / window_s)``. A frame at time t covers
[t, t + stale_after_s), cut short by a DOWN health report; coverage = covered share of the
window. 0 -> UNKNOWN (values absent), < 1 -> PARTIAL, (nearly) 1 -> OK.

>>> window_start(125.0, 60.0)
120.0
>>> seen = Coverage()
>>> for t in (0.0, 1.0, 2.0):
...     seen.add_frame(t)
>>> seen.fraction(0.0, 10.0, stale_s=2.0)      # the frames cover [0, 4)
0.4
>>> seen.add_down(1.5)                         # the camera reported DOWN at 1.5
>>> seen.fraction(0.0, 10.0, stale_s=2.0), status_of(0.35), status_of(0.0)
(0.35, 'PARTIAL', 'UNKNOWN')
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field

from services.aggregate.queues import union_length
from services.aggregate.records import OK, PARTIAL, UNKNOWN

FULL_COVERAGE = 0.999


def window_start(t: float, window_s: float) -> float:
    return math.floor(t / window_s) * window_s


def status_of(coverage: float) -> str:
    return UNKNOWN if coverage <= 0 else (OK if coverage >= FULL_COVERAGE else PARTIAL)


@dataclass
class Coverage:
    """Sorted frame and DOWN-report times of one camera, as far back as an open window needs them."""

    frame_times: list[float] = field(default_factory=list)
    down_times: list[float] = field(default_factory=list)

    def add_frame(self, t: float) -> None:
        bisect.insort(self.frame_times, t)

    def add_down(self, t: float) -> None:
        bisect.insort(self.down_times, t)

    def fraction(self, start: float, end: float, stale_s: float) -> float:
        """Share of [start, end) covered by frames (each good for ``stale_s``, up to the next DOWN)."""
        frames, downs = self.frame_times, self.down_times
        lo = bisect.bisect_left(frames, start - stale_s)
        hi = bisect.bisect_left(frames, end)
        intervals = []
        for t in frames[lo:hi]:
            cut = t + stale_s
            d = bisect.bisect_right(downs, t)
            if d < len(downs):
                cut = min(cut, downs[d])
            intervals.append((t, cut))
        return union_length(intervals, start, end) / (end - start)

    def forget_before(self, t: float) -> None:
        """Drop times no later window can need."""
        del self.frame_times[:bisect.bisect_left(self.frame_times, t)]
        del self.down_times[:bisect.bisect_left(self.down_times, t)]
