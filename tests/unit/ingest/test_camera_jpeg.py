"""A camera's own JPEG (an MJPEG stream read undecoded): sent as it is when it fits, decoded
at a reduced scale and re-encoded when it is larger, decoded for the motion gate only when the
gate is on, and an undecodable one is a counted skip."""

from __future__ import annotations

import datetime as dt
import doctest
import threading

import cv2
import numpy as np
import pytest

from services.ingest import imaging, metrics
from services.ingest.camera import CameraWorker
from services.ingest.imaging import decode_jpeg, encode_jpeg, fit_width, jpeg_size
from services.ingest.sources import Captured, is_mjpeg
from storesight.config import Camera, IngestSettings

NOW = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)


def scene(width: int, height: int, seed: int = 0) -> np.ndarray:
    """Smooth shapes plus mild noise: compresses like a camera picture, not like pure noise."""
    rng = np.random.default_rng(seed)
    image = np.full((height, width, 3), 110, np.uint8)
    for _ in range(12):
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        cv2.rectangle(image, (x, y), (x + width // 6, y + height // 4), colour, -1)
    noise = rng.normal(0, 4, image.shape)
    return np.clip(image + noise, 0, 255).astype(np.uint8)


def worker(max_width: int = 768, gate: bool = False) -> tuple[CameraWorker, list]:
    sent: list = []
    camera = Camera(id="cam-jpeg", source="http://127.0.0.1:1/stream.mjpg", max_width=max_width,
                    jpeg_quality=80, motion_gate={"enabled": gate})
    return CameraWorker("store", camera, IngestSettings(), sent.append, lambda _h: None, threading.Event()), sent


def test_docstring_examples():
    assert doctest.testmod(imaging).failed == 0


@pytest.mark.parametrize("params", [[], [cv2.IMWRITE_JPEG_PROGRESSIVE, 1], [cv2.IMWRITE_JPEG_OPTIMIZE, 1]])
def test_jpeg_size_reads_the_header_of_every_kind_of_jpeg(params):
    image = scene(1000, 563)
    data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 70, *params])[1].tobytes()
    assert jpeg_size(data) == (1000, 563)
    assert jpeg_size(data[:20]) is None  # cut before the frame header
    assert jpeg_size(b"\x89PNG\r\n\x1a\n" + data[2:]) is None


def test_a_jpeg_that_fits_is_sent_unchanged_without_decoding():
    w, sent = worker(max_width=768)
    data = encode_jpeg(scene(640, 360), 92)
    decoded_before = metrics.STAGE_CPU.labels("decode")._value.get()
    frame = w.process(Captured(None, NOW, data))
    assert frame is sent[0] and frame.jpeg == data
    assert (frame.width, frame.height, frame.seq) == (640, 360, 1)
    assert metrics.STAGE_CPU.labels("decode")._value.get() == decoded_before  # never decoded


def test_a_larger_jpeg_is_decoded_reduced_then_resized_to_max_width():
    image = scene(1920, 1080)
    data = encode_jpeg(image, 90)
    w, sent = worker(max_width=768)
    frame = w.process(Captured(None, NOW, data))
    assert (frame.width, frame.height) == (768, 432) and frame.jpeg != data
    assert jpeg_size(frame.jpeg) == (768, 432)
    # Decoded at 1/2 (960 wide, still >= 768) then resized: the same picture as a full decode
    # + resize, to within JPEG noise.
    sent_pixels = cv2.imdecode(np.frombuffer(frame.jpeg, np.uint8), cv2.IMREAD_COLOR).astype(np.float32)
    reference = fit_width(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), 768).astype(np.float32)
    assert np.abs(sent_pixels - reference).mean() < 3.0
    assert decode_jpeg(data, 768, (1920, 1080)).shape == (540, 960, 3)
    assert decode_jpeg(data, 400, (1920, 1080)).shape == (270, 480, 3)  # 1/4: 480 >= 400
    assert decode_jpeg(data, 1920, (1920, 1080)).shape == (1080, 1920, 3)


def test_with_the_motion_gate_the_jpeg_is_decoded_for_it_and_still_sent_unchanged():
    w, sent = worker(max_width=768, gate=True)
    data = encode_jpeg(scene(640, 360), 85)
    first = w.process(Captured(None, NOW, data))
    assert first is not None and first.jpeg == data  # the first frame always passes the gate
    assert w.process(Captured(None, NOW + dt.timedelta(seconds=0.2), data)) is None  # static scene: gated
    assert len(sent) == 1


def test_an_undecodable_camera_jpeg_is_a_counted_skip():
    w, sent = worker()
    errors = w._errors._value.get()
    assert w.process(Captured(None, NOW, b"\xff\xd8\xff\xe0 not really a jpeg")) is None
    assert w.process(Captured(None, NOW, b"")) is None
    assert sent == [] and w._errors._value.get() == errors + 2


def test_a_decoded_frame_is_still_resized_and_encoded():
    w, _ = worker(max_width=640)
    frame = w.process(Captured(scene(1280, 720), NOW))
    assert (frame.width, frame.height) == (640, 360) and jpeg_size(frame.jpeg) == (640, 360)


class FakeCapture:
    def __init__(self, fourcc: float):
        self.fourcc = fourcc

    def get(self, prop: int) -> float:
        assert prop == cv2.CAP_PROP_FOURCC
        return self.fourcc


@pytest.mark.parametrize(("fourcc", "mjpeg"), [
    (cv2.VideoWriter_fourcc(*"MJPG"), True), (cv2.VideoWriter_fourcc(*"mjpg"), True),
    (cv2.VideoWriter_fourcc(*"avc1"), False), (cv2.VideoWriter_fourcc(*"H264"), False), (-1, False), (0, False)])
def test_only_a_motion_jpeg_stream_is_read_undecoded(fourcc, mjpeg):
    assert is_mjpeg(FakeCapture(float(fourcc))) is mjpeg
