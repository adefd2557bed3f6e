"""Per-camera multi-person tracking: OC-SORT from Roboflow's ``trackers`` package, behind our interface.

Why a library: downstream counts visitors and door crossings by track id, so an id switch is a
double count, and a well-kept, benchmarked tracker switches less than our own did. On the same
detector boxes (bench/ACCURACY.md, ``python -m bench.tracking``) ``trackers``' OC-SORT had the
best IDF1 and the fewest id switches of the trackers tried, on every labelled clip.

What this wrapper adds, all in time rather than frames so it holds at any effective frame rate
(a camera processed at 2 fps or at 25):
- capture timestamps go to the library (``timestamp=``): its Kalman prediction and its track
  memory (``max_lost_s``) are in seconds;
- association compares a track's predicted box with each detection by ``association``: plain IoU
  (``match_iou``, the library's default), or buffered IoU (BIoU) whose boxes are enlarged by
  ``buffer_per_s`` box sizes per second of gap between this camera's processed frames, so a
  person who moves a body width between two frames 0.5 s apart still overlaps their track at
  2 frames/s, while at the camera's full rate the buffer (and the reach) stays small;
- a new track needs ``min_hits`` detections, and at least ``confirm_s`` of them at the camera's
  frame rate, which is derived from the capture times, before it gets an id;
- ids come from our own counter (``first_id``), so a reset camera never reuses an id;
- a confirmed person hidden for at most ``report_hidden_s`` is still reported, at the library's
  prediction, flagged ``predicted`` (people behind others are still there), while the predicted
  centre stays in view (``data["predicted"]``);
- a confident detection not (yet) on a confirmed track is reported with id 0: it is a person
  in this frame, for occupancy, but no visitor until its track is confirmed.
People come in and go out as ``supervision.Detections`` (services/detect/people.py), the
library's own type; boxes are xyxy in any consistent unit (the service uses normalised 0..1).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import supervision as sv

from services.detect.people import people

ASSOCIATIONS = ("iou", "biou", "diou", "giou")


@dataclass(frozen=True)
class TrackerSettings:
    high_confidence: float = 0.35
    match_iou: float = 0.3
    # "biou" (buffer grows with the frame gap: ``buffer_per_s`` box sizes per second on each side),
    # "iou", "diou" or "giou" (both in -1..1, compared with ``match_iou`` as they are).
    association: str = "biou"
    buffer_per_s: float = 1.0
    max_lost_s: float = 2.0
    min_hits: int = 2
    confirm_s: float = 0.2
    report_hidden_s: float = 0.5
    # Report a confident detection whose track is not confirmed yet (id 0): it counts in occupancy.
    report_unconfirmed: bool = True
    view: tuple[float, float] = (1.0, 1.0)  # width, height of the image in box units
    # The library's Kalman filter is tuned in pixels: boxes are scaled by this before it sees them.
    scale: float = 1000.0


# The library counts its lost-track buffer in frames of a 30 fps video.
_LIBRARY_FPS = 30.0


class Tracker:
    """Tracks of one camera. ``update`` takes one frame's people and its capture time, returns them tracked."""

    def __init__(self, settings: TrackerSettings | None = None, first_id: int = 1):
        from trackers import OCSORTTracker

        self.settings = s = settings or TrackerSettings()
        if s.association not in ASSOCIATIONS:
            raise ValueError(f"association must be one of {ASSOCIATIONS}, got {s.association!r}")
        self._lib = OCSORTTracker(iou=_metric(s.association, 0.0),
                                  lost_track_buffer=max(1, round(s.max_lost_s * _LIBRARY_FPS)),
                                  frame_rate=_LIBRARY_FPS, minimum_consecutive_frames=max(1, s.min_hits - 1),
                                  minimum_iou_threshold=s.match_iou, high_conf_det_threshold=s.high_confidence)
        self.next_id = first_id
        self._ids: dict[int, int] = {}  # library id -> ours
        self._last_time: float | None = None
        self._frame_s: float | None = None  # smoothed time between frames

    def update(self, found: sv.Detections, now: float) -> sv.Detections:
        """``tracker_id`` set (0: not a confirmed track yet); hidden people appended, ``predicted`` True."""
        s = self.settings
        gap = self._observe_rate(now)
        if s.association == "biou":
            self._lib.iou = _metric("biou", s.buffer_per_s * gap)
        # The library counts updates after the first detection: n of them = n + 1 detections.
        self._lib.minimum_consecutive_frames = max(1, self._hits_needed() - 1)
        found = sv.Detections(xyxy=found.xyxy.astype(np.float32) * s.scale,
                              confidence=found.confidence.astype(np.float32))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = self._lib.update(found, timestamp=now)
        # The library reports a confirmed track found again after a miss as -1 until it has had
        # min_hits detections in a row again; it is the same person, so it keeps its id here.
        again = {tuple(np.asarray(t.last_observation, dtype=np.float32).reshape(-1)[:4].tolist()): t.tracker_id
                 for t in self._lib.tracks if t.time_since_update == 0 and t.tracker_id in self._ids}
        boxes = out.xyxy / s.scale
        ids = np.zeros(len(out), dtype=int)
        keep = np.zeros(len(out), dtype=bool)
        for k, (box, score, lib_id) in enumerate(zip(boxes, out.confidence, out.tracker_id.tolist(), strict=True)):
            if lib_id < 0:
                lib_id = again.get(tuple((box * s.scale).astype(np.float32).tolist()), -1)
            if lib_id >= 0:
                ids[k], keep[k] = self._id(lib_id), True
            else:
                keep[k] = s.report_unconfirmed and score >= s.high_confidence
        tracked = people(boxes[keep], out.confidence[keep], ids[keep], np.zeros(int(keep.sum()), dtype=bool))
        hidden_boxes, hidden_ids = self._hidden()
        if not hidden_ids:
            return tracked
        hidden = people(np.array(hidden_boxes, dtype=np.float64), np.zeros(len(hidden_ids)), hidden_ids,
                        [True] * len(hidden_ids))
        return sv.Detections.merge([tracked, hidden])

    def _observe_rate(self, now: float) -> float:
        """Seconds since this camera's previous frame (0 for the first), folded into the frame rate."""
        if self._last_time is None:
            self._last_time = now
            return 0.0
        dt = now - self._last_time
        if dt <= 0:
            return 0.0
        self._frame_s = dt if self._frame_s is None else 0.8 * self._frame_s + 0.2 * dt
        self._last_time = now
        return dt

    def _hits_needed(self) -> int:
        s = self.settings
        if not self._frame_s:
            return s.min_hits
        return max(s.min_hits, math.ceil(s.confirm_s / self._frame_s - 1e-9))

    def _id(self, lib_id: int) -> int:
        ours = self._ids.get(lib_id)
        if ours is None:
            ours = self._ids[lib_id] = self.next_id
            self.next_id += 1
        return ours

    def _hidden(self) -> tuple[list[np.ndarray], list[int]]:
        """Boxes and ids of the confirmed tracks missed for at most ``report_hidden_s`` whose predicted
        centre is in view."""
        s = self.settings
        boxes, ids = [], []
        for track in self._lib.tracks:
            if track.time_since_update == 0 or track.tracker_id not in self._ids:
                continue
            if (track.time_since_update_seconds or 0.0) > s.report_hidden_s:
                continue
            box = np.asarray(track.get_state_bbox(), dtype=np.float64).reshape(4) / s.scale
            if not np.all(np.isfinite(box)):
                continue
            cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
            if 0 <= cx <= s.view[0] and 0 <= cy <= s.view[1]:
                boxes.append(box)
                ids.append(self._ids[track.tracker_id])
        return boxes, ids


def _metric(association: str, buffer_ratio: float):
    from trackers.utils.iou import BIoU, DIoU, GIoU, IoU

    if association == "biou":
        return BIoU(buffer_ratio=max(0.0, buffer_ratio))
    return {"iou": IoU, "diou": DIoU, "giou": GIoU}[association]()


class CameraTrackers:
    """One Tracker per camera, reset when a camera's stream has a gap (or goes back in time).

    After a gap the old tracks say nothing about who is there now, so matching against them
    would only create false continuity. Ids keep increasing across resets so a new person
    never reuses an id the aggregator has already seen for that camera.
    """

    def __init__(self, gap_s: float, settings: TrackerSettings | None = None):
        self.gap_s = gap_s
        self.settings = settings or TrackerSettings()
        self._trackers: dict[str, Tracker] = {}
        self._last: dict[str, float] = {}
        self.resets = 0

    def update(self, camera_id: str, found: sv.Detections, now: float) -> sv.Detections:
        tracker = self._trackers.get(camera_id)
        last = self._last.get(camera_id)
        if tracker is not None and last is not None and not 0 <= now - last <= self.gap_s:
            tracker = Tracker(self.settings, first_id=tracker.next_id)
            self.resets += 1
        if tracker is None:
            tracker = Tracker(self.settings)
        self._trackers[camera_id] = tracker
        self._last[camera_id] = now
        return tracker.update(found, now)
