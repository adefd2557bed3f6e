"""Detector + tracker as a library: the same code behind the Kafka service and ``detect-file``.

``Detector.process`` takes a batch of images from any cameras and returns, per image, the
tracked people in normalised coordinates, one ``supervision.Detections`` (services/detect/people.py).
``detect_video`` runs a video file through it and yields one ``FrameResult`` per processed frame;
``FrameResult.to_json`` is the stable JSON-lines format of ``storesight detect-file``
(documented in services/detect/README.md).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import supervision as sv

from services.detect.backends import Backend, load_backend
from services.detect.fixtures import FixtureSettings, StaticFixtures
from services.detect.letterbox import InputSize
from services.detect.people import clipped, from_rows, people, rows
from services.detect.regions import Polygon, drop_ignored
from services.detect.tracker import CameraTrackers, TrackerSettings
from storesight.config import DetectSettings
from storesight.video import every_nth_frame

FORMAT_VERSION = 1
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class FrameResult:
    frame: int
    t: float  # seconds since the start of the clip (files) or capture time (service)
    capture_time: dt.datetime
    width: int
    height: int
    persons: sv.Detections
    inference_ms: float
    model: str

    def to_json(self) -> str:
        return json.dumps({
            "v": FORMAT_VERSION,
            "frame": self.frame,
            "t": round(self.t, 4),
            "capture_time": self.capture_time.isoformat().replace("+00:00", "Z"),
            "width": self.width,
            "height": self.height,
            "model": self.model,
            "inference_ms": round(self.inference_ms, 2),
            "persons": [{"box": [round(v, 5) for v in box], "conf": round(confidence, 4),
                         "track_id": track_id, "foot": [round(v, 5) for v in foot], "predicted": predicted}
                        for box, confidence, track_id, foot, predicted in rows(self.persons)],
        }, separators=(",", ":"))

    @classmethod
    def from_json(cls, line: str) -> FrameResult:
        d = json.loads(line)
        found = d["persons"]
        persons = people([p["box"] for p in found], [p["conf"] for p in found], [p["track_id"] for p in found],
                         [p["predicted"] for p in found])
        when = dt.datetime.fromisoformat(d["capture_time"].replace("Z", "+00:00"))
        return cls(d["frame"], d["t"], when, d["width"], d["height"], persons, d["inference_ms"], d["model"])


def tracker_settings(settings: DetectSettings) -> TrackerSettings:
    return TrackerSettings(high_confidence=settings.confidence, max_lost_s=settings.track_memory_s,
                           report_hidden_s=settings.track_report_hidden_s,
                           association=settings.track_association, match_iou=settings.track_match_iou,
                           buffer_per_s=settings.track_buffer_per_s)


class Detector:
    """A backend plus per-camera trackers. Not thread-safe: one caller at a time."""

    def __init__(self, settings: DetectSettings, backend: Backend | None = None,
                 ignore_regions: dict[str, list[Polygon]] | None = None,
                 input_sizes: dict[str, InputSize] | None = None):
        self.settings = settings
        self.ignore_regions = ignore_regions or {}
        # Cameras with their own model input (Camera.detect_input_size/_fit); others: the settings'.
        self.input_sizes = input_sizes or {}
        self.default_input = InputSize(settings.input_size, settings.input_fit)
        # The backend keeps weak candidates too: they help recognise static fixtures (whose
        # confidence wanders); the tracker (OC-SORT) uses only those >= ``confidence``.
        self.backend = backend or load_backend(settings.backend, settings.device, settings.model_path,
                                               settings.input_size, settings.track_low_confidence,
                                               settings.iou, settings.max_batch, settings.tensorrt,
                                               settings.precision, settings.int8_model_path, settings.input_fit)
        self.trackers = CameraTrackers(settings.track_gap_s, tracker_settings(settings))
        self.fixtures: dict[str, StaticFixtures] = {}
        # CPU seconds of the last ``process``: model (the process's CPU during the backend call,
        # its runtime threads included) and track (this thread's CPU in fixtures + tracker).
        self.cpu_spent: dict[str, float] = {"model": 0.0, "track": 0.0}

    @property
    def model_name(self) -> str:
        return self.backend.model_name

    def process(self, cameras: list[str], images: list[np.ndarray],
                times: list[float]) -> tuple[list[sv.Detections], float]:
        """Detect and track; ``times`` are capture times in seconds. Returns per-image people and seconds."""
        cpu = time.process_time()
        if self.input_sizes:
            sizes = [self.input_sizes.get(camera, self.default_input) for camera in cameras]
            boxes, spent = self.backend.detect(images, sizes)
        else:
            boxes, spent = self.backend.detect(images)
        self.cpu_spent["model"] = time.process_time() - cpu
        cpu = time.thread_time()
        results = []
        for camera, image, now, pixel_rows in zip(cameras, images, times, boxes, strict=True):
            height, width = image.shape[:2]
            found = drop_ignored(normalise(pixel_rows, width, height), self.ignore_regions.get(camera, []))
            if self.settings.fixture_after_s > 0:
                found = self._fixtures(camera).filter(found, now)
            tracked = self.trackers.update(camera, found, now)
            # Ordered and inside the image, as the Detections contract requires: a hidden person's
            # predicted box can leave the image or come out inverted when its sides' velocities differ.
            results.append(clipped(tracked))
        self.cpu_spent["track"] = time.thread_time() - cpu
        return results, spent

    def _fixtures(self, camera: str) -> StaticFixtures:
        fixtures = self.fixtures.get(camera)
        if fixtures is None:
            fixtures = self.fixtures[camera] = StaticFixtures(FixtureSettings(
                fixture_after_s=self.settings.fixture_after_s))
        return fixtures


def camera_input(settings: DetectSettings, size: int | None, fit: str | None) -> InputSize | None:
    """A camera's own model input where it sets a size or fit (the rest from ``settings``), else None."""
    if size is None and fit is None:
        return None
    return InputSize(size or settings.input_size, fit or settings.input_fit)


def normalise(pixel_rows: np.ndarray, width: int, height: int) -> sv.Detections:
    """The backend's (N, 5) pixel xyxy+score rows -> people with coordinates divided by the image size.

    Where people enter the one type they travel as (services/detect/people.py).
    """
    found = from_rows(pixel_rows.astype(np.float32, copy=True))
    found.xyxy[:, [0, 2]] /= width
    found.xyxy[:, [1, 3]] /= height
    return found




def detect_video(path: str | Path, settings: DetectSettings, every: int = 1,
                 start_time: dt.datetime = EPOCH, camera_id: str = "file",
                 detector: Detector | None = None,
                 ignore_regions: list[Polygon] | None = None,
                 input_size: InputSize | None = None) -> Iterator[FrameResult]:
    """Run detector + tracker over a video file, batch by batch, yielding one result per processed frame.

    ``input_size``: the camera's own model input (default ``settings.input_size``/``input_fit``)."""
    detector = detector or Detector(settings, ignore_regions={camera_id: ignore_regions or []},
                                    input_sizes={camera_id: input_size} if input_size else None)
    pending: list[tuple[int, float, np.ndarray]] = []

    def flush() -> Iterator[FrameResult]:
        images = [p[2] for p in pending]
        people, spent = detector.process([camera_id] * len(pending), images, [p[1] for p in pending])
        per_frame_ms = spent * 1000 / len(pending)
        for (index, t, image), persons in zip(pending, people, strict=True):
            yield FrameResult(index, t, start_time + dt.timedelta(seconds=t), image.shape[1], image.shape[0],
                              persons, per_frame_ms, detector.model_name)
        pending.clear()

    for item in every_nth_frame(path, every):
        pending.append(item)
        if len(pending) >= settings.max_batch:
            yield from flush()
    if pending:
        yield from flush()
