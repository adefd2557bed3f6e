"""The aggregator's changing state: plain dataclasses of plain data (numbers, strings, lists, dicts,
sets), so a checkpoint can store it and a restart continue from it.

One ``AggregatorState`` per input partition; per camera a ``CameraState``; per open window of a
camera a ``Window``, which holds one tally per idea (occupancy, visits, line counts, heat,
attribute groups).

>>> window = Window.empty(start=60.0, zones=2, lines=1, grid=(4, 3))
>>> window.occupancy.add([1, 0, 1])
>>> window.frames, len(window.heat.counts), window.lines.entries
(1, 12, [0])
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from services.aggregate.epochs import EpochState
from services.aggregate.heat import HeatGrid
from services.aggregate.line_counts import LineCounts
from services.aggregate.lines import LineCrossings
from services.aggregate.occupancy import Occupancy
from services.aggregate.visits import TrackPresence, VisitTally
from services.aggregate.windows import Coverage
from storesight.attributes import AttributeGroup


@dataclass
class Window:
    """What one camera saw in one open window; slots are the zones, then the camera view."""

    start: float
    occupancy: Occupancy
    visits: VisitTally
    lines: LineCounts
    heat: HeatGrid
    attributes: dict[int, AttributeGroup] | None = None  # slot -> merged k-anonymous group

    @classmethod
    def empty(cls, start: float, zones: int, lines: int, grid: tuple[int, int]) -> Window:
        return cls(start, Occupancy.empty(zones), VisitTally.empty(zones), LineCounts.empty(lines),
                   HeatGrid.empty(grid))

    @property
    def frames(self) -> int:
        return self.occupancy.frames


@dataclass
class CameraState:
    watermark: float = -math.inf  # event time of this camera: its highest capture (or health) time
    last_sweep: float = -math.inf  # watermark when its gone tracks were last ended
    next_close: float | None = None  # start of the oldest open window (None: no frame yet)
    windows: dict[float, Window] = field(default_factory=dict)
    coverage: Coverage = field(default_factory=Coverage)
    up: bool | None = None  # the last health report's verdict
    tracks: dict[int, TrackPresence] = field(default_factory=dict)
    crossings: LineCrossings = field(default_factory=LineCrossings)
    live_capture: float | None = None
    live_counts: list[int] = field(default_factory=list)
    effective_fps: float | None = None  # detect's processed rate on the latest frame; None = unknown
    late_pending: int = 0  # late records since the last closed window
    # served per second of the last closed window, per zone (live wait estimate)
    last_rate: list[float | None] = field(default_factory=list)
    # detect's tracker epoch: replays skipped, tracks continued across a restart (epochs.py)
    epochs: EpochState = field(default_factory=EpochState)


@dataclass
class AggregatorState:
    watermark: float = -math.inf  # the highest camera watermark (for reports: windows close per camera)
    cameras: dict[str, CameraState] = field(default_factory=dict)
    late_total: dict[str, int] = field(default_factory=dict)  # store -> late records
    line_totals: dict[tuple[str, str], list[int]] = field(default_factory=dict)  # (store, line) -> [in, out]
    records: int = 0
