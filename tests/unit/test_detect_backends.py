"""Backends: model resolution, lazy heavy imports, and the GPU path where CUDA exists."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from services.detect.backends import (
    BackendUnavailable,
    OnnxBackend,
    OpenVinoBackend,
    choose_precision,
    cuda_available,
    resolve_model,
)
from services.detect.postprocess import iou_matrix
from tests.support import servers


def test_shipped_models_are_found_and_a_missing_path_is_an_error(tmp_path):
    assert resolve_model("onnxruntime", None).name == "best_fp16.onnx"
    assert resolve_model("ultralytics", None).name == "best.pt"
    assert resolve_model("openvino", None).name == "best_fp16.onnx"
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


def test_precision_auto_takes_bf16_only_where_the_cpu_has_it():
    assert choose_precision("auto", ["FP32", "INT8", "BIN"]) == "fp32"
    assert choose_precision("auto", ["FP32", "BF16", "FP16", "INT8"]) == "bf16"
    assert choose_precision("fp32", ["FP32", "BF16"]) == "fp32"
    with pytest.raises(BackendUnavailable, match="no BF16 support"):
        choose_precision("bf16", ["FP32", "INT8"])
    with pytest.raises(ValueError, match="unknown detect.precision"):
        choose_precision("fp8", ["FP32"])


def test_openvino_finds_the_same_person_as_onnxruntime(person_frame):
    """Same model, same letterbox and NMS: only the runtime differs. At FP32 the boxes agree to
    IoU >= 0.99 and scores within 0.01; at BF16 (where the CPU has it) IoU >= 0.95 and 0.05."""
    import openvino

    model = resolve_model("openvino", None)
    ort = OnnxBackend(model, 640, 0.35, 0.5)
    empty = np.zeros_like(person_frame)
    (expected, none), _ = ort.detect([person_frame, empty])
    assert len(expected) == 1 and len(none) == 0
    capabilities = openvino.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    for precision, min_iou, score_tol in (("fp32", 0.99, 0.01), ("auto", 0.95, 0.05)):
        backend = OpenVinoBackend(model, 640, 0.35, 0.5, precision=precision)
        assert backend.device == "cpu" and backend.provider.startswith("openvino ")
        assert backend.precision == ("bf16" if precision == "auto" and "BF16" in capabilities else "fp32")
        # More images than infer requests: the request ring wraps and results stay in order.
        frames = [person_frame, empty] * (len(backend.requests) + 1)
        results, seconds = backend.detect(frames)
        assert seconds > 0 and [len(r) for r in results] == [1, 0] * (len(backend.requests) + 1)
        for got in results[::2]:
            assert iou_matrix(got[:, :4], expected[:, :4])[0, 0] >= min_iou
            assert abs(got[0, 4] - expected[0, 4]) <= score_tol


def _detect_exit(tmp_path, backend: str, device: str) -> subprocess.CompletedProcess:
    config = tmp_path / f"{backend}-{device}.yaml"
    config.write_text("region: test\npipeline:\n  kafka:\n    bootstrap: '127.0.0.1:1'\n"
                      f"  detect:\n    backend: {backend}\n    device: {device}\n"
                      "stores:\n- id: s1\n  timezone: UTC\n  cameras:\n  - id: cam-1\n    source: x.mp4\n")
    env = {k: v for k, v in os.environ.items() if k not in ("DETECT_BACKEND", "DETECT_DEVICE")}
    env.update(STORESIGHT_HTTP_PORT="0", PYTHONPATH=str(servers.REPO))
    return subprocess.run([sys.executable, "-m", "tools", "detect", "--config", str(config)], cwd=servers.REPO,
                          env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(("backend", "missing"), [
    ("onnxruntime", "has no CUDAExecutionProvider"),
    ("openvino", "runs on the CPU only"),
    ("ultralytics", "is not installed"),
])
def test_asking_for_cuda_without_it_exits_2_naming_what_is_missing(tmp_path, backend, missing):
    if backend == "ultralytics" and importlib.util.find_spec("torch") is not None:
        missing = "sees no CUDA device"
    if cuda_available():
        pytest.skip("this machine has CUDA: the cuda start would succeed")
    done = _detect_exit(tmp_path, backend, "cuda")
    assert done.returncode == 2, done.stderr[-2000:]
    assert missing in done.stderr and "storesight detect: cannot start:" in done.stderr
    assert "Traceback" not in done.stderr


def test_int8_and_bf16_are_errors_where_they_cannot_run():
    from services.detect.backends import load_backend

    shipped = str(resolve_model("openvino", None))
    with pytest.raises(BackendUnavailable, match="int8_model_path is not set"):
        load_backend("openvino", "cpu", None, 640, 0.35, 0.5, precision="int8")
    with pytest.raises(BackendUnavailable, match="is not an INT8 model"):
        load_backend("openvino", "cpu", None, 640, 0.35, 0.5, precision="int8", int8_model_path=shipped)
    with pytest.raises(BackendUnavailable, match="needs backend openvino"):
        load_backend("onnxruntime", "cpu", None, 640, 0.35, 0.5, precision="bf16")


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
