"""The aggregator's plain records: frames and health reports in, window statistics, heatmaps and
the live view out. Plain dataclasses (no Kafka, no protobuf): ``convert.py`` maps them to the
wire, ``detections_file.py`` reads them from JSON lines.

>>> FrameRecord.of("cam-1", 100.0, [(7, 0.5, 0.9)])
FrameRecord(camera_id='cam-1', capture_s=100.0, track_ids=[7], feet=[(0.5, 0.9)], frame_seq=0, attributes=[], epoch='', effective_fps=None)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from storesight.attributes import AttributeGroup

OK, PARTIAL, UNKNOWN = "OK", "PARTIAL", "UNKNOWN"


# ---------------------------------------------------------------- records in


@dataclass
class FrameRecord:
    """Detections of one frame: track ids (0 = untracked) and foot points [(x, y)], normalised.

    Plain lists (numpy arrays are accepted too): the aggregator builds its arrays per batch.
    ``attributes``: the k-anonymous groups detect finished with this frame (usually none).
    ``epoch``: detect's tracker epoch (``Detections.tracker_epoch``; "" = unknown): a change marks
    a detect restart (``epochs.py``). The track ids are already keyed by it (``convert.track_key``).
    ``effective_fps``: detect's processed rate of this camera (``Detections.effective_fps``);
    None = unknown (detect sends 0 until it has seen two frames of the camera).
    """

    camera_id: str
    capture_s: float
    track_ids: list[int]
    feet: list[tuple[float, float]]
    frame_seq: int = 0
    attributes: list[AttributeGroup] = field(default_factory=list)
    epoch: str = ""
    effective_fps: float | None = None

    @classmethod
    def of(cls, camera_id: str, capture_s: float, persons: Iterable[tuple[int, float, float]],
           frame_seq: int = 0, epoch: str = "") -> FrameRecord:
        """Build from (track_id, foot_x, foot_y) tuples."""
        rows = list(persons)
        return cls(camera_id, capture_s, [int(p[0]) for p in rows], [(p[1], p[2]) for p in rows], frame_seq,
                   epoch=epoch)


@dataclass
class HealthRecord:
    camera_id: str
    report_s: float
    up: bool


# ---------------------------------------------------------------- records out


@dataclass
class WindowStats:
    """One zone (or ``line:<id>`` / ``camera:<id>``) over one window; None = unknown."""

    store_id: str
    zone_id: str
    zone_kind: str
    window_start: float
    window_end: float
    status: str
    coverage: float
    live: bool = False
    occupancy_avg: float | None = None
    occupancy_min: int | None = None
    occupancy_max: int | None = None
    entries: int | None = None
    exits: int | None = None
    unique_tracks: int | None = None
    dwell_p50_s: float | None = None
    dwell_p90_s: float | None = None
    dwell_max_s: float | None = None
    queue_length: float | None = None
    wait_estimate_s: float | None = None
    wait_measured_s: float | None = None
    throughput_per_min: float | None = None
    late_records: int = 0
    attributes: AttributeGroup | None = None  # merged k-anonymous group of this zone and window


@dataclass
class HeatmapWindow:
    camera_id: str
    store_id: str
    window_start: float
    window_end: float
    counts: np.ndarray  # (grid_y, grid_x) foot points per cell


@dataclass
class LiveZone:
    store_id: str
    zone_id: str
    zone_kind: str
    status: str  # "ok" | "unknown"
    capture_s: float | None
    occupancy: int | None
    queue_length: int | None = None
    wait_estimate_s: float | None = None
    effective_fps: float | None = None  # camera rows only: detect's processed rate; None = unknown
