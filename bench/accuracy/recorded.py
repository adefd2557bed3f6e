"""Record a clip's raw model outputs once, then replay them through the real Detector.

The model is by far the slowest step (~150 ms a frame on 2 cores), and everything after it
(confidence, NMS, tracking) is what the settings change. Recording keeps every anchor with a
score >= ``FLOOR``, which is below any threshold the detector uses, so a replay gives exactly
the boxes the live backend would. Recordings are cached on disk per clip, model, runtime
(backend) and precision, as plain
NumPy arrays (``.npz`` read with ``allow_pickle=False``: a cache file can hold no code).
"""

from __future__ import annotations

import hashlib
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


def _cache_path(video: Path, model: Path, every: int, runtime: str = "") -> Path:
    # The resolved model path: worktrees sharing one virtual environment share the cache.
    # ``runtime`` ("" for onnxruntime FP32, whose files predate it) keeps other runtimes' outputs apart.
    key = hashlib.sha256(f"{video.resolve()}|{video.stat().st_size}|{model.resolve()}|{model.stat().st_size}|{every}"
                         f"{runtime}".encode()).hexdigest()[:16]
    return CACHE_DIR / f"{video.stem}-{key}.npz"


def cached_recording(video: Path, every: int = 1, model_path: str | None = None,
                     settings: DetectSettings | None = None) -> Recording:
    """The recording of every ``every``-th frame; taken from a recording of every frame when there is one.

    Made by onnxruntime FP32, or by the runtime, precision and input size/fit ``settings`` name
    (then its model_path and int8_model_path apply)."""
    settings = settings or DetectSettings(backend="onnxruntime", model_path=model_path)
    backend = load_backend(settings.backend, "cpu", settings.model_path, settings.input_size, FLOOR, 0.5,
                           precision=settings.precision, int8_model_path=settings.int8_model_path,
                           fit=settings.input_fit)
    model = resolve_model(settings.backend, settings.int8_model_path if backend.precision == "int8"
                          else settings.model_path)
    runtime = "" if (backend.name, backend.precision) == ("onnxruntime", "fp32") else f"|{backend.name}|{backend.precision}"
    fit = backend.inputs.fit
    if (fit, backend.input_size) != ("square", 640):  # 640x640 recordings predate the input-shape choice
        runtime += f"|{fit}|{backend.input_size}"
    path = _cache_path(video, model, every, runtime)
    if path.exists():
        return load_recording(path)
    full = _cache_path(video, model, 1, runtime)
    if every > 1 and full.exists():
        return [frame for frame in load_recording(full) if frame[0] % every == 0]
    frames = record(((i, image) for i, _, image in every_nth_frame(video, every)), backend)
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    save_recording(path, frames)
    return frames


def save_recording(path: Path, recording: Recording) -> None:
    """Write a recording as arrays only: outputs side by side, with each frame's column count."""
    np.savez(path,
             index=np.array([i for i, _, _ in recording], dtype=np.int64),
             columns=np.array([o.shape[1] for _, o, _ in recording], dtype=np.int64),
             outputs=np.concatenate([o for _, o, _ in recording], axis=1) if recording else np.zeros((5, 0)),
             placement=np.array([(p.scale, p.pad_x, p.pad_y, p.width, p.height) for _, _, p in recording],
                                dtype=np.float64).reshape(-1, 5))


def load_recording(path: Path) -> Recording:
    """The recording ``save_recording`` wrote (no pickle: ``allow_pickle=False``)."""
    with np.load(path, allow_pickle=False) as data:
        ends = np.cumsum(data["columns"])
        outputs = np.split(data["outputs"], ends[:-1], axis=1) if len(ends) else []
        return [(int(i), o, Letterbox(float(s), int(x), int(y), int(w), int(h)))
                for i, o, (s, x, y, w, h) in zip(data["index"], outputs, data["placement"], strict=True)]


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
