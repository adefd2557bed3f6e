"""Input size from the frame: the cut YOLOv8 graph + NumPy decode, aspect-fit letterbox, per-camera sizes."""

from __future__ import annotations

import cv2
import numpy as np
import onnx
import pytest
import yaml

from services.detect.backends import OnnxBackend, network, resolve_model
from services.detect.letterbox import (
    InputSize,
    group_by_shape,
    input_shape,
    letterbox,
    letterbox_batch,
    place,
)
from services.detect.pipeline import Detector, camera_input
from services.detect.postprocess import iou_matrix
from services.detect.yolo_head import cut_head, decode_levels
from storesight.config import ConfigError, DetectSettings, parse_config


@pytest.fixture(scope="module")
def frames(intel_clip):
    """Intel clip frames with one person (130) and none (0), and a PETS frame with many people."""
    from tests.support.servers import PETS_DIR

    out = []
    for path, index in ((intel_clip, 130), (intel_clip, 0), (PETS_DIR / "vtest.avi", 100)):
        capture = cv2.VideoCapture(str(path))
        capture.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, image = capture.read()
        capture.release()
        assert ok, path
        out.append(image)
    return out


@pytest.fixture(scope="module")
def model():
    return resolve_model("onnxruntime", None)


@pytest.fixture(scope="module")
def square(model):
    return OnnxBackend(model, 640, 0.35, 0.5, fit="square")


def test_cut_graph_and_numpy_decode_equal_the_shipped_graph_at_640(frames, model, square):
    """Every anchor of the full graph's output (box centre/size in pixels, both class scores),
    from the cut graph + ``decode_levels``: within 0.01 px and 1e-5 in score."""
    import onnxruntime as ort

    full = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    net, cut = network(model), square.session
    batch, _ = letterbox_batch(frames, 640)
    for image in batch:
        expected = full.run(None, {"images": image[None]})[0][0]
        levels = cut.run(None, {"images": image[None]})
        got = decode_levels([level[0] for level in levels], 640, net.head, 0.0)
        assert got.shape == expected.shape == (6, 8400)
        assert np.abs(got[:4] - expected[:4]).max() < 0.01
        assert np.abs(got[4:] - expected[4:]).max() < 1e-5
        kept = decode_levels([level[0] for level in levels], 640, net.head, 0.3)
        assert np.array_equal(kept, got[:, got[4:].max(axis=0) >= 0.3])  # the filter only drops columns


def test_frame_shaped_input_finds_the_same_people_as_the_square_one(frames, model, square):
    """Same scale, less grey padding: the same people (IoU >= 0.5; most boxes >= 0.9: where people
    overlap, NMS may keep a slightly different box of the same person)."""
    fitted = OnnxBackend(model, 640, 0.35, 0.5, fit="frame")
    assert (square.inputs.fit, fitted.inputs.fit) == ("square", "frame")
    expected, _ = square.detect(frames)
    got, _ = fitted.detect(frames)
    assert [len(g) for g in got[:2]] == [1, 0] and len(got[2]) >= 5
    close = 0
    for e, g in zip(expected, got, strict=True):
        assert len(e) == len(g)
        if len(e):
            iou = iou_matrix(e[:, :4], g[:, :4])
            assert (iou.max(axis=1) >= 0.5).all() and np.abs(e[:, 4] - g[iou.argmax(axis=1), 4]).max() < 0.1
            close += int((iou.max(axis=1) >= 0.9).sum())
    assert close >= 0.8 * sum(len(e) for e in expected)
    # A larger input for one image of the batch: boxes still in that image's own pixels.
    (small, large), _ = fitted.detect(frames[2:] * 2, [InputSize(640), InputSize(960)])
    assert len(large) >= len(small) and large[:, [2, 3]].max() <= 768 and large[:, [0, 1]].min() >= 0


def test_a_graph_without_a_yolo_head_is_not_cut():
    node = onnx.helper.make_node("Relu", ["images"], ["out"])
    graph = onnx.helper.make_graph([node], "g", [onnx.helper.make_tensor_value_info("images", 1, [1, 3, 64, 64])],
                                   [onnx.helper.make_tensor_value_info("out", 1, [1, 3, 64, 64])])
    assert cut_head(onnx.helper.make_model(graph)) is None


def test_input_shape_follows_the_frame_in_multiples_of_32():
    assert input_shape(768, 432, 640) == (640, 384)  # Intel: 40 % fewer pixels than 640x640
    assert input_shape(768, 576, 640) == (640, 480)  # PETS
    assert input_shape(384, 288, 384) == (384, 288)  # CAVIAR at its own size: no upscale
    assert input_shape(1920, 1080, 960) == (960, 544)
    assert input_shape(1080, 1920, 1280) == (736, 1280)  # portrait
    assert input_shape(768, 432, 640, "square") == (640, 640)
    with pytest.raises(ValueError, match="not a multiple of 32"):
        input_shape(768, 432, 650)
    with pytest.raises(ValueError, match="unknown letterbox fit"):
        input_shape(768, 432, 640, "stretch")


def test_frame_fit_letterbox_centres_the_image_and_boxes_map_back():
    image = np.zeros((432, 768, 3), np.uint8)
    image[:, :, 2] = 255
    batch, (box,) = letterbox([image], input_shape(768, 432, 640))
    assert batch.shape == (1, 3, 384, 640)
    assert box.scale == pytest.approx(640 / 768) and (box.pad_x, box.pad_y) == (0, 12)  # 360 rows + 2 x 12
    assert batch[0, :, 11, 0] == pytest.approx([114 / 255] * 3) and batch[0, :, 12, 0] == pytest.approx([1, 0, 0])
    assert box == place(768, 432, 640, 384)
    frame_boxes = np.array([[10, 20, 110, 220], [0, 0, 768, 432]], np.float32)
    model_boxes = frame_boxes * box.scale + [box.pad_x, box.pad_y, box.pad_x, box.pad_y]
    assert box.to_image(model_boxes) == pytest.approx(frame_boxes, abs=1e-3)
    assert group_by_shape([(640, 384), (640, 480), (640, 384)]) == {(640, 384): [0, 2], (640, 480): [1]}


class _SizesSeen:
    """A backend that records the input sizes it was asked for and finds nobody."""

    name, model_name, input_size = "fake", "fake", 640

    def __init__(self):
        self.sizes = []

    def detect(self, images, sizes=None):
        self.sizes.append(sizes)
        return [np.zeros((0, 5), np.float32) for _ in images], 0.0


def test_each_camera_gets_its_own_input_size():
    backend = _SizesSeen()
    settings = DetectSettings(input_size=512, input_fit="square")
    far = camera_input(settings, 1280, "frame")
    assert camera_input(settings, None, None) is None and camera_input(settings, 960, None) == InputSize(960, "square")
    detector = Detector(settings, backend=backend, input_sizes={"far": far})
    image = np.zeros((1080, 1920, 3), np.uint8)
    detector.process(["near", "far"], [image, image], [0.0, 0.0])
    assert backend.sizes == [[InputSize(512, "square"), InputSize(1280, "frame")]]


CONFIG = """
region: r
stores:
- id: s
  timezone: UTC
  cameras:
  - id: far
    source: x.mp4
    detect_input_size: {size}
"""


def test_a_camera_input_size_must_be_a_multiple_of_32():
    assert parse_config(yaml.safe_load(CONFIG.format(size=1280))).camera("far")[1].detect_input_size == 1280
    with pytest.raises(ConfigError, match=r"detect_input_size[\s\S]*multiple of 32"):
        parse_config(yaml.safe_load(CONFIG.format(size=1000)))
    with pytest.raises(ValueError, match="multiple of 32"):
        DetectSettings(input_size=650)


def test_the_cut_model_is_cached_on_disk_or_kept_in_memory(tmp_path, monkeypatch, model):
    import services.detect.backends as backends

    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache directory should be")
    monkeypatch.setattr(backends, "CUT_CACHE", blocked)
    backends.load_network.cache_clear()
    in_memory = network(model)
    assert isinstance(in_memory.source, bytes) and (in_memory.head.bins, in_memory.head.classes) == (16, 2)
    monkeypatch.setattr(backends, "CUT_CACHE", tmp_path / "cache")
    backends.load_network.cache_clear()
    written = network(model)
    assert written.source == str(next((tmp_path / "cache").glob("best_fp16-*-bins16-classes2.onnx")))
    backends.load_network.cache_clear()
    assert network(model) == written  # read back from the file, not cut again
    backends.load_network.cache_clear()


def test_detect_file_rejects_an_input_size_not_a_multiple_of_32(capsys):
    from tools.cli import build_parser

    with pytest.raises(SystemExit) as stop:
        build_parser().parse_args(["detect-file", "x.mp4", "--input-size", "1000"])
    assert stop.value.code == 2 and "--input-size: 1000: Input should be a multiple of 32" in capsys.readouterr().err
    assert build_parser().parse_args(["detect-file", "x.mp4", "--input-size", "960"]).input_size == 960
