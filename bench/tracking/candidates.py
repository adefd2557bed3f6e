"""The trackers compared, each behind one interface: pixel boxes + scores in, tracked boxes out.

Every candidate sees the same boxes (the product's detector, everything >= 0.05 with its
score) and the same thresholds: ``CONFIDENT`` (the product's ``detect.confidence``) is what
starts or confidently extends a track; trackers with a second, low-confidence pass (ByteTrack,
BoT-SORT, the old tracker) use the rest as they are designed to. Trackers without one (SORT,
norfair) see only confident boxes. Time is passed as capture timestamps where the library
takes them, and the clip's frame rate otherwise. The MOT metrics score boxes with a track id
(confirmed); the per-frame count is every box a tracker reports, as the product counts them
(the project's trackers also report a confident box whose track is not confirmed yet, id 0).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bench.tracking.old_tracker import Tracker, TrackerSettings
from storesight.config import DetectSettings

DEFAULTS = DetectSettings()
CONFIDENT = DEFAULTS.confidence

Tracked = tuple[np.ndarray, np.ndarray]  # (track ids, (N, 4) pixel xyxy)
EMPTY: Tracked = (np.zeros(0, int), np.zeros((0, 4)))


class Candidate:
    def update(self, dets: np.ndarray, t: float, width: int, height: int) -> Tracked:
        raise NotImplementedError


class OldTracker(Candidate):
    """services/detect/tracker.py as it was (ByteTrack-style, in normalised coordinates)."""

    def __init__(self, fps: float):
        self.tracker = Tracker(TrackerSettings(high_confidence=DEFAULTS.confidence,
                                               low_confidence=DEFAULTS.track_low_confidence,
                                               max_lost_s=DEFAULTS.track_memory_s,
                                               report_hidden_s=DEFAULTS.track_report_hidden_s))

    def update(self, dets, t, width, height):
        scale = np.array([width, height, width, height], dtype=np.float32)
        norm = dets.astype(np.float32, copy=True)
        norm[:, :4] /= scale
        people = self.tracker.update(norm, t)
        if not people:
            return EMPTY
        return (np.array([p.track_id for p in people]), np.array([p.box for p in people]) * scale)


class Adopted(Candidate):
    """services/detect/tracker.py now: the product's wrapper, with the product's settings."""

    def __init__(self, fps: float):
        from services.detect.pipeline import tracker_settings
        from services.detect.tracker import Tracker as ProductTracker

        self.tracker = ProductTracker(tracker_settings(DEFAULTS))

    def update(self, dets, t, width, height):
        from services.detect.pipeline import normalise

        people = self.tracker.update(normalise(dets, width, height), t)
        return people.tracker_id, people.xyxy.astype(np.float64) * np.array([width, height, width, height],
                                                                            dtype=np.float32)


class AdoptedNoHidden(Adopted):
    """The same, without reporting hidden people (``track_report_hidden_s`` 0)."""

    def __init__(self, fps: float):
        from services.detect.pipeline import tracker_settings
        from services.detect.tracker import Tracker as ProductTracker

        self.tracker = ProductTracker(tracker_settings(DEFAULTS.model_copy(update={"track_report_hidden_s": 0.0})))


class LibraryTracker(Candidate):
    """A ``trackers`` tracker: sv.Detections in, tracker_id -1 = not (yet) a track."""

    def __init__(self, make: Callable[[], object], min_confidence: float = 0.0):
        import supervision as sv

        self.sv = sv
        self.tracker = make()
        self.min_confidence = min_confidence

    def update(self, dets, t, width, height):
        dets = dets[dets[:, 4] >= self.min_confidence]
        out = self.tracker.update(self.sv.Detections(xyxy=dets[:, :4].astype(np.float32),
                                                     confidence=dets[:, 4].astype(np.float32),
                                                     class_id=np.zeros(len(dets), int)), timestamp=t)
        keep = out.tracker_id >= 0
        return out.tracker_id[keep] + 1, out.xyxy[keep]  # the library counts ids from 0


class Norfair(Candidate):
    """norfair with IoU distance (match at IoU >= 0.3); memory one second of frames."""

    def __init__(self, fps: float):
        import norfair

        self.norfair = norfair
        self.tracker = norfair.Tracker(distance_function="iou", distance_threshold=0.7,
                                       hit_counter_max=max(1, round(fps)))

    def update(self, dets, t, width, height):
        dets = dets[dets[:, 4] >= CONFIDENT]
        found = [self.norfair.Detection(points=d[:4].reshape(2, 2).astype(float), scores=np.array([d[4], d[4]]))
                 for d in dets]
        objects = [o for o in self.tracker.update(found) if o.id is not None]
        if not objects:
            return EMPTY
        return np.array([o.id for o in objects]), np.array([o.estimate.reshape(4) for o in objects])


@dataclass(frozen=True)
class Entry:
    name: str
    make: Callable[[float], Candidate]  # clip frame rate -> a fresh tracker


def _trackers(cls_name: str, min_confidence: float = 0.0, **kwargs) -> Callable[[float], Candidate]:
    def make(fps: float) -> Candidate:
        import trackers

        cls = getattr(trackers, cls_name)
        return LibraryTracker(lambda: cls(frame_rate=fps, **kwargs), min_confidence)
    return make


ENTRIES = [
    Entry("old tracker (services/detect/tracker.py before this change)", OldTracker),
    Entry("adopted: services/detect/tracker.py (OC-SORT wrapper, product defaults)", Adopted),
    Entry("adopted, hidden people not reported", AdoptedNoHidden),
    Entry("trackers 2.6.1 OCSORTTracker", _trackers("OCSORTTracker", high_conf_det_threshold=CONFIDENT)),
    Entry("trackers 2.6.1 ByteTrackTracker", _trackers("ByteTrackTracker", high_conf_det_threshold=CONFIDENT,
                                                       track_activation_threshold=CONFIDENT)),
    Entry("trackers 2.6.1 SORTTracker", _trackers("SORTTracker", CONFIDENT, track_activation_threshold=CONFIDENT)),
    Entry("trackers 2.6.1 BoTSORTTracker (no ReID, no camera-motion compensation)",
          _trackers("BoTSORTTracker", high_conf_det_threshold=CONFIDENT, track_activation_threshold=CONFIDENT,
                    enable_cmc=False)),
    Entry("trackers 2.6.1 OCSORTTracker, library thresholds (0.6)", _trackers("OCSORTTracker")),
    Entry("trackers 2.6.1 ByteTrackTracker, library thresholds (0.6/0.7)", _trackers("ByteTrackTracker")),
    Entry("norfair 2.3.0 (IoU distance)", Norfair),
]
