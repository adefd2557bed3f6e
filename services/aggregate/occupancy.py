"""Zone occupancy over a window: persons whose foot point is in the zone, per frame; avg/min/max.

The per-frame counts come from the one geometry pass over the batch (``geometry.frame_geometry``):
one int per zone, plus the whole camera view as the last slot.

>>> occupancy = Occupancy.empty(zones=1)   # one zone + the camera view
>>> occupancy.add([2, 3])
>>> occupancy.add([0, 1])
>>> occupancy.frames, occupancy.summary(0), occupancy.summary(1)
(2, (1.0, 0, 2), (2.0, 1, 3))
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class Occupancy:
    """Per slot (zones, then the view): sum, minimum and maximum of the per-frame counts."""

    frames: int = 0
    total: list[int] = field(default_factory=list)
    low: list[float] = field(default_factory=list)  # inf until the first frame
    high: list[int] = field(default_factory=list)

    @classmethod
    def empty(cls, zones: int) -> Occupancy:
        n = zones + 1  # the last slot is the whole camera view
        return cls(0, [0] * n, [math.inf] * n, [0] * n)

    def add(self, counts: list[int]) -> None:
        """One frame's count per slot (plain ints)."""
        self.frames += 1
        total, low, high = self.total, self.low, self.high
        for z, c in enumerate(counts):
            total[z] += c
            if c < low[z]:
                low[z] = c
            if c > high[z]:
                high[z] = c

    def summary(self, slot: int) -> tuple[float, int, int]:
        """(average, minimum, maximum) over the frames; needs at least one frame."""
        return self.total[slot] / self.frames, int(self.low[slot]), self.high[slot]
