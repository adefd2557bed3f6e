"""Record a clip's raw model outputs once, then replay them through the real Detector.

The model is by far the slowest step (~150 ms a frame on 2 cores), and everything after it
(confidence, NMS, tracking) is what the settings change. Recording keeps every anchor with a
score >= ``FLOOR``, which is below any threshold the detector uses, so a replay gives exactly
the boxes the live backend would. Recordings are cached on disk per clip, model, runtime
(backend) and precision.
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from services.detect.backends import load_backend, people_in_image, resolve_model
from services.detect.letterbox import Letterbox
from storesight.config import DetectSettings
from storesight.video import every_nth_frame

FLOOR = 0.05
CACHE_DIR = Path.home() / ".cache" / "storesight-bench"

Recording = list[tuple[int, np.ndarray, Letterbox]]  # (frame index, kept output columns, placement)


def record(frames: Iterable[tuple[int, np.ndarray]], backend, batch: int = 8) -> Recording:
    """Run (index, BGR image) frames through the backend's model (its ``raw``); keep each output's candidates."""
    recording: Recording = []
    pending: list[tuple[int, np.ndarray]] = []

    def flush() -> None:
        outputs, placements, _ = backend.raw([image for _, image in pending])
        for (index, _), output, placement in zip(pending, outputs, placements, strict=True):
            recording.append((index, output[:, output[4:].max(axis=0) >= FLOOR].copy(), placement))
        pending.clear()

    for index, image in frames:
        pending.append((index, image))
        if len(pending) == batch:
            flush()
    if pending:
        flush()
    return recording


def cached_recording(video: Path, every: int, settings: DetectSettings) -> Recording:
    """The clip's recording with the settings' backend, precision and model (made once, then cached)."""
    backend = load_backend(settings.backend, "cpu", settings.model_path, settings.input_size, FLOOR, 0.5,
                           precision=settings.precision, int8_model_path=settings.int8_model_path)
    model = resolve_model(settings.backend, settings.int8_model_path if backend.precision == "int8"
                          else settings.model_path)
    key = hashlib.sha256(f"{video.resolve()}|{video.stat().st_size}|{model}|{model.stat().st_size}|{every}|"
                         f"{backend.name}|{backend.precision}".encode()).hexdigest()[:16]
    path = CACHE_DIR / f"{video.stem}-{key}.pkl"
    if path.exists():
        return pickle.loads(path.read_bytes())
    frames = record(((i, image) for i, _, image in every_nth_frame(video, every)), backend)
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(frames))
    return frames


class RecordedBackend:
    """A Backend that replays a recording in order, applying the configured confidence and NMS."""

    name = "recorded"
    input_size = 640

    def __init__(self, recording: Recording, confidence: float, iou: float, model_name: str = "best_fp16.onnx"):
        self._frames = list(recording)
        self._next = 0
        self.confidence, self.iou = confidence, iou
        self.model_name = model_name

    def detect(self, images: list[np.ndarray]) -> tuple[list[np.ndarray], float]:
        chunk = self._frames[self._next:self._next + len(images)]
        self._next += len(images)
        return [people_in_image(o, p, self.confidence, self.iou) for _, o, p in chunk], 0.0
