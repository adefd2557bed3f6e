"""Staff exclusion: staff tracks are taken out of the frames before they are aggregated.

Rule (stores with ``staff_share``): a track is staff when it appears inside a staff-only zone
(behind a till, at a stockroom door: customers do not start there), or once it has been seen for
``staff_min_seen_s`` and has spent more than ``staff_share`` of that time in staff-only zones. It
stays staff until it is gone (``track_gone_s``). Its foot points are removed from every later frame,
so it is in no customer occupancy, visit, dwell, queue or line count, and counted apart instead.
What a track did before it was found to be staff (a shop-floor walk before going behind the till)
was already counted: the rule looks back at nothing.

Time accrues per track only forwards (``t`` past the track's last frame, at most ``MAX_STEP_S`` per
step), so a replayed or out-of-order frame changes no share. The state is plain JSON per camera.

>>> from storesight.config import parse_config
>>> till = {"id": "behind-till", "kind": "area", "staff_only": True, "polygon": [[0, 0], [0.3, 0], [0.3, 1], [0, 1]]}
>>> cfg = parse_config({"region": "r", "stores": [{"id": "s", "timezone": "UTC", "staff_share": 0.5,
...        "cameras": [{"id": "c", "source": "c.mp4", "zones": [till]}]}]})
>>> staff = StaffFilter(cfg)
>>> [f.track_ids for f in staff.filter([FrameRecord.of("c", 0.0, [(1, 0.1, 0.5), (2, 0.8, 0.5)])])]
[[2]]
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import numpy as np

from services.aggregate.geometry import PolygonSet
from services.aggregate.records import FrameRecord
from storesight.config import Config

MAX_STEP_S = 1.0  # a gap longer than this adds only this much time (the track was not seen)


@dataclass
class TrackTime:
    first_t: float
    last_t: float
    seen_s: float = 0.0
    staff_s: float = 0.0
    staff: bool = False


@dataclass
class _Camera:
    store_id: str
    staff_zones: PolygonSet
    share: float
    min_seen_s: float


class StaffFilter:
    def __init__(self, config: Config):
        self.gone_s = config.pipeline.aggregate.track_gone_s
        self.cameras: dict[str, _Camera] = {}
        for store in config.stores:
            if store.staff_share is None:
                continue
            for camera in store.cameras:
                polygons = [z.polygon for z in camera.zones if z.staff_only]
                if polygons:
                    self.cameras[camera.id] = _Camera(store.id, PolygonSet(polygons), store.staff_share,
                                                      store.staff_min_seen_s)
        self.tracks: dict[str, dict[int, TrackTime]] = {}
        self.staff_now: dict[str, int] = {}  # camera -> staff in its latest frame
        self.new_staff: Counter = Counter()  # store -> tracks found to be staff (for a counter metric)

    @property
    def enabled(self) -> bool:
        return bool(self.cameras)

    def filter(self, records: Iterable) -> list:
        """The records with staff persons removed from frames of cameras with staff-only zones."""
        if not self.cameras:
            return list(records)
        return [self._frame(r) if isinstance(r, FrameRecord) and r.camera_id in self.cameras else r
                for r in records]

    def _frame(self, frame: FrameRecord) -> FrameRecord:
        cam = self.cameras[frame.camera_id]
        tracks = self.tracks.setdefault(frame.camera_id, {})
        t = frame.capture_s
        ids = frame.track_ids if isinstance(frame.track_ids, list) else np.asarray(frame.track_ids).tolist()
        feet = frame.feet if isinstance(frame.feet, list) else np.asarray(frame.feet).tolist()
        if not ids:
            self.staff_now[frame.camera_id] = 0
            return frame
        inside = cam.staff_zones.contains(np.asarray(feet, dtype=np.float64).reshape(-1, 2)).any(axis=1).tolist()
        keep, staff = [], 0
        for k, track_id in enumerate(ids):
            if track_id == 0:
                keep.append(k)  # untracked: nothing to judge it by
                continue
            track = tracks.get(track_id)
            if track is not None and t - track.last_t > self.gone_s:
                track = None  # a reused id: a new person
            if track is None:
                track = tracks[track_id] = TrackTime(t, t, staff=inside[k])
                if track.staff:
                    self.new_staff[cam.store_id] += 1
            elif t > track.last_t:
                step = min(t - track.last_t, MAX_STEP_S)
                track.seen_s += step
                track.staff_s += step if inside[k] else 0.0
                track.last_t = t
                if not track.staff and track.seen_s >= cam.min_seen_s and track.staff_s > cam.share * track.seen_s:
                    track.staff = True
                    self.new_staff[cam.store_id] += 1
            if track.staff:
                staff += 1
            else:
                keep.append(k)
        for track_id in [i for i, tr in tracks.items() if t - tr.last_t > self.gone_s]:
            del tracks[track_id]
        self.staff_now[frame.camera_id] = staff
        if len(keep) == len(ids):
            return frame
        return FrameRecord(frame.camera_id, t, [ids[k] for k in keep], [tuple(feet[k]) for k in keep],
                           frame.frame_seq, frame.attributes, frame.epoch)

    def staff_per_store(self) -> dict[str, int]:
        """Staff in each camera's latest frame, summed per store (cameras that overlap count twice)."""
        out: Counter = Counter()
        for camera_id, cam in self.cameras.items():
            out[cam.store_id] += self.staff_now.get(camera_id, 0)
        return dict(out)

    # ------------------------------------------------------------ state

    def state_json(self) -> dict[str, str]:
        """Camera id -> its tracks as JSON (a hash field per camera: workers own different cameras)."""
        return {cam: json.dumps({str(i): asdict(tr) for i, tr in tracks.items()}) for cam, tracks in self.tracks.items()}

    def load_json(self, saved: dict) -> None:
        """Restore from ``state_json``'s mapping (bytes or str keys); cameras no longer configured are skipped."""
        for cam, text in saved.items():
            cam = cam.decode() if isinstance(cam, bytes) else cam
            if cam in self.cameras:
                self.tracks[cam] = {int(i): TrackTime(**tr) for i, tr in json.loads(text).items()}
