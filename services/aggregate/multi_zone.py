"""Occupancy of zones several cameras watch (config ``multi_zones``), each person counted once.

Fed the same frame records as the aggregator (other cameras are ignored). Per time slot of
``slot_s`` (default 0.2 s, one frame at 5 fps) the latest frame of each part's camera no older than
``stale_after_s`` is taken; foot points inside that camera's part polygon are projected to the floor
plan and merged across cameras (``floor_merge.merge_people``, ``merge_distance_m``); the persons left
are the zone's occupancy in that slot. A slot where a part's camera has no fresh frame is not
counted. Per event-time window (closed ``allowed_lateness_s`` after its end, like the aggregator's):
occupancy avg/min/max over the counted slots, coverage = counted / all slots (OK, PARTIAL or UNKNOWN
with no values). Entries, exits and dwell need tracks across cameras and are not computed (absent).

Frames are kept per (camera, capture time), so a frame seen twice (a replay) changes nothing; frames
of closed windows are late and counted. The state is plain data (``state_json`` / ``load_json``).
"""

from __future__ import annotations

import bisect
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from services.aggregate.floor_merge import merge_people
from services.aggregate.geometry import PolygonSet
from services.aggregate.records import OK, PARTIAL, UNKNOWN, FrameRecord, WindowStats
from storesight.config import AggregateSettings, Config
from storesight.floorplane import fit_homography, project

FULL = 0.999


@dataclass
class _Part:
    camera: str
    polygon: PolygonSet
    homography: np.ndarray | None


@dataclass
class _Zone:
    store_id: str
    zone_id: str
    kind: str
    merge_m: float
    parts: list[_Part]


@dataclass
class MultiZoneState:
    watermark: float = -math.inf
    next_close: float | None = None
    late: int = 0
    # camera -> sorted capture times, and capture time -> (track ids, feet)
    times: dict[str, list[float]] = field(default_factory=dict)
    frames: dict[str, dict[float, tuple[list[int], list[list[float]]]]] = field(default_factory=dict)


class MultiZoneCounter:
    def __init__(self, config: Config, settings: AggregateSettings | None = None, slot_s: float = 0.2):
        self.settings = settings or config.pipeline.aggregate
        self.slot_s = slot_s
        self.zones: list[_Zone] = []
        for store in config.stores:
            cameras = {c.id: c for c in store.cameras}
            for zone in store.multi_zones:
                parts = []
                for part in zone.parts:
                    floor = cameras[part.camera].floor
                    h = fit_homography(floor.image, floor.floor) if floor is not None else None
                    parts.append(_Part(part.camera, PolygonSet([part.polygon]), h))
                self.zones.append(_Zone(store.id, zone.id, zone.kind.value, store.merge_distance_m, parts))
        self.cameras = {p.camera for z in self.zones for p in z.parts}
        self.state = MultiZoneState()

    # ------------------------------------------------------------ input

    def add(self, records: Iterable) -> list[WindowStats]:
        """Take frame records (others and other cameras are ignored); return the windows that closed."""
        st, w = self.state, self.settings.window_s
        for rec in records:
            if not isinstance(rec, FrameRecord) or rec.camera_id not in self.cameras:
                continue
            t = rec.capture_s
            if st.next_close is None:
                st.next_close = math.floor(t / w) * w
            if t < st.next_close:
                st.late += 1
                continue
            frames = st.frames.setdefault(rec.camera_id, {})
            if t not in frames:
                bisect.insort(st.times.setdefault(rec.camera_id, []), t)
            ids = rec.track_ids if isinstance(rec.track_ids, list) else np.asarray(rec.track_ids).tolist()
            feet = rec.feet if isinstance(rec.feet, list) else np.asarray(rec.feet).tolist()
            frames[t] = (list(ids), [list(p) for p in feet])
            st.watermark = max(st.watermark, t)
        return self.advance(st.watermark)

    def advance(self, watermark: float) -> list[WindowStats]:
        st, w = self.state, self.settings.window_s
        st.watermark = max(st.watermark, watermark)
        out: list[WindowStats] = []
        while st.next_close is not None and st.next_close + w + self.settings.allowed_lateness_s <= st.watermark:
            out += self._close(st.next_close)
            st.next_close += w
        return out

    # ------------------------------------------------------------ windows

    def _latest(self, camera: str, at: float) -> tuple[list[int], list[list[float]]] | None:
        times = self.state.times.get(camera, [])
        k = bisect.bisect_right(times, at)
        if k == 0 or at - times[k - 1] > self.settings.stale_after_s:
            return None
        return self.state.frames[camera][times[k - 1]]

    def persons(self, zone: _Zone, at: float) -> int | None:
        """Persons in the zone at time ``at``; None when a part's camera has no fresh frame."""
        points = []
        for part in zone.parts:
            frame = self._latest(part.camera, at)
            if frame is None:
                return None
            ids, feet = frame
            if not feet:
                continue
            feet_arr = np.asarray(feet, dtype=np.float64).reshape(-1, 2)
            inside = part.polygon.contains(feet_arr)[:, 0]
            if not inside.any():
                continue
            chosen = feet_arr[inside]
            floor = project(part.homography, chosen) if part.homography is not None else chosen
            tracks = np.asarray(ids)[inside].tolist()
            points += [(part.camera, int(tr), float(x), float(y)) for tr, (x, y) in zip(tracks, floor, strict=True)]
        if len(zone.parts) == 1:
            return len(points)
        return len(merge_people(points, zone.merge_m))

    def _close(self, start: float) -> list[WindowStats]:
        st, end = self.state, start + self.settings.window_s
        slots = max(1, round((end - start) / self.slot_s))
        out = []
        for zone in self.zones:
            counts = [c for k in range(slots)
                      if (c := self.persons(zone, start + (k + 1) * (end - start) / slots)) is not None]
            coverage = len(counts) / slots
            status = UNKNOWN if not counts else (OK if coverage >= FULL else PARTIAL)
            values = {}
            if counts:
                values = dict(occupancy_avg=sum(counts) / len(counts), occupancy_min=min(counts),
                              occupancy_max=max(counts))
            out.append(WindowStats(zone.store_id, zone.zone_id, zone.kind, start, end, status, coverage,
                                   late_records=st.late, **values))
        st.late = 0
        keep_from = end - self.settings.stale_after_s
        for camera, times in st.times.items():
            cut = bisect.bisect_left(times, keep_from)
            for t in times[:cut][:-1]:  # keep the last frame before the cut: it may still be the latest
                del st.frames[camera][t]
            del times[:max(0, cut - 1)]
        return out

    # ------------------------------------------------------------ state

    def state_json(self) -> str:
        st = self.state
        return json.dumps({"watermark": st.watermark if math.isfinite(st.watermark) else None,
                           "next_close": st.next_close, "late": st.late,
                           "frames": {cam: [[t, *frames[t]] for t in st.times[cam]] for cam, frames in st.frames.items()}})

    def load_json(self, text: str | bytes) -> None:
        data = json.loads(text)
        st = MultiZoneState(watermark=-math.inf if data["watermark"] is None else data["watermark"],
                            next_close=data["next_close"], late=data["late"])
        for cam, rows in data["frames"].items():
            st.times[cam] = [row[0] for row in rows]
            st.frames[cam] = {row[0]: (row[1], row[2]) for row in rows}
        self.state = st
