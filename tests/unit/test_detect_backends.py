"""Backends: model resolution, lazy heavy imports, and the GPU path where CUDA exists."""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest

from services.detect.backends import OnnxBackend, cuda_available, resolve_model
from services.detect.postprocess import iou_matrix
from tests.support import servers


def test_shipped_models_are_found_and_a_missing_path_is_an_error(tmp_path):
    assert resolve_model("onnxruntime", None).name == "best_fp16.onnx"
    assert resolve_model("ultralytics", None).name == "best.pt"
    with pytest.raises(FileNotFoundError, match="does not exist"):
        resolve_model("onnxruntime", str(tmp_path / "nope.onnx"))


def test_cpu_path_never_imports_torch_or_ultralytics():
    code = ("import sys; from tools.cli import build_parser; build_parser();"
            "from services.detect.pipeline import Detector; from storesight.config import DetectSettings;"
            "Detector(DetectSettings());"
            "print(sorted(m for m in ('torch', 'ultralytics') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=servers.REPO, capture_output=True, text=True,
                         timeout=120, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


@pytest.fixture(scope="module")
def person_frame(intel_clip):
    capture = cv2.VideoCapture(str(intel_clip))
    capture.set(cv2.CAP_PROP_POS_FRAMES, 130)  # visit 1: one woman at the table
    ok, image = capture.read()
    capture.release()
    assert ok
    return image


def test_onnx_backend_finds_the_one_person(person_frame):
    backend = OnnxBackend(resolve_model("onnxruntime", None), 640, 0.35, 0.5)
    assert backend.providers == ["CPUExecutionProvider"]
    (people,), seconds = backend.detect([person_frame])
    assert len(people) == 1 and people[0, 4] > 0.5 and seconds > 0
    x1, y1, x2, y2 = people[0, :4]
    assert 0 <= x1 < x2 <= 768 and 0 <= y1 < y2 <= 432 and (y2 - y1) > 100


@pytest.mark.gpu
def test_ultralytics_fp16_on_cuda_matches_the_onnx_backend(person_frame):
    if not cuda_available():
        pytest.skip("needs torch with a CUDA device")
    pytest.importorskip("ultralytics")
    from services.detect.backends import UltralyticsBackend

    gpu = UltralyticsBackend(resolve_model("ultralytics", None), 640, 0.35, 0.5, device="cuda")
    cpu = OnnxBackend(resolve_model("onnxruntime", None), 640, 0.35, 0.5)
    results, _ = gpu.detect([person_frame] * 4)
    (c,), _ = cpu.detect([person_frame])
    assert [len(r) for r in results] == [1, 1, 1, 1] and len(c) == 1
    g = results[0]
    assert iou_matrix(g[:, :4], c[:, :4])[0, 0] > 0.9
    batch, _ = gpu.detect([person_frame, np.zeros_like(person_frame)])
    assert [len(b) for b in batch] == [1, 0]


def test_recorded_replay_gives_exactly_the_live_backends_boxes(person_frame):
    """bench/accuracy replays recorded outputs: they must equal what the live backend returns."""
    from bench.accuracy.recorded import FLOOR, RecordedBackend, record

    model = resolve_model("onnxruntime", None)
    frames = [person_frame, np.ascontiguousarray(person_frame[:, ::-1])]
    expected, _ = OnnxBackend(model, 640, 0.05, 0.6).detect(frames)
    recording = record(enumerate(frames), OnnxBackend(model, 640, FLOOR, 0.5))
    replayed, _ = RecordedBackend(recording, 0.05, 0.6).detect(frames)
    assert [len(r) for r in replayed] == [len(e) for e in expected] and len(expected[0]) >= 1
    for r, e in zip(replayed, expected, strict=True):
        assert np.allclose(r, e)


def test_a_cached_recording_round_trips_without_pickle(person_frame, tmp_path):
    """The benchmark cache holds plain arrays: saved and loaded, the replay gives the same boxes."""
    from bench.accuracy.recorded import FLOOR, RecordedBackend, load_recording, record, save_recording

    model = resolve_model("onnxruntime", None)
    frames = [person_frame, np.zeros_like(person_frame), np.ascontiguousarray(person_frame[:, ::-1])]
    recording = record(enumerate(frames), OnnxBackend(model, 640, FLOOR, 0.5))
    save_recording(tmp_path / "clip.npz", recording)
    loaded = load_recording(tmp_path / "clip.npz")
    assert [i for i, _, _ in loaded] == [0, 1, 2] and [p for _, _, p in loaded] == [p for _, _, p in recording]
    before, _ = RecordedBackend(recording, 0.05, 0.6).detect(frames)
    after, _ = RecordedBackend(loaded, 0.05, 0.6).detect(frames)
    assert [len(b) for b in after] == [len(b) for b in before] and len(after[0]) >= 1
    for a, b in zip(after, before, strict=True):
        assert np.array_equal(a, b)
