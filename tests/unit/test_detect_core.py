"""Pure core of the detect service: letterbox, decode, NMS and batching against known values."""

from __future__ import annotations

import numpy as np
import pytest

from services.detect.batching import BatchPolicy, split_stale
from services.detect.letterbox import PAD_VALUE, letterbox_batch, place
from services.detect.postprocess import decode, detect_people, iou_matrix, nms


def test_letterbox_places_a_wide_image_centred_with_grey_bars():
    image = np.zeros((432, 768, 3), dtype=np.uint8)
    image[:, :, 2] = 255  # pure red in BGR
    batch, (box,) = letterbox_batch([image], 640)
    assert batch.shape == (1, 3, 640, 640) and batch.dtype == np.float32
    assert box.scale == pytest.approx(640 / 768)
    assert (box.pad_x, box.pad_y) == (0, 140)  # 432 * 5/6 = 360 rows, 140 above and below
    assert batch[0, :, 0, 0] == pytest.approx([PAD_VALUE / 255] * 3)  # bar
    assert batch[0, :, 320, 320] == pytest.approx([1.0, 0.0, 0.0])  # RGB order, scaled to 0..1
    assert batch[0, :, 140 + 360, 320] == pytest.approx([PAD_VALUE / 255] * 3)


def test_letterbox_round_trip_maps_boxes_back_to_image_pixels():
    box = place(384, 288, 640)
    image_boxes = np.array([[10, 20, 110, 220], [0, 0, 384, 288]], dtype=np.float32)
    model_boxes = image_boxes * box.scale + [box.pad_x, box.pad_y, box.pad_x, box.pad_y]
    assert box.to_image(model_boxes) == pytest.approx(image_boxes, abs=1e-3)
    # Boxes spilling into the bars are clipped to the image.
    assert box.to_image(np.array([[-50, -50, 700, 700]], dtype=np.float32))[0] == pytest.approx([0, 0, 384, 288])


def test_letterbox_batches_images_of_different_sizes():
    batch, boxes = letterbox_batch([np.zeros((100, 200, 3), np.uint8), np.zeros((300, 100, 3), np.uint8)], 320)
    assert batch.shape == (2, 3, 320, 320)
    assert [(b.pad_x, b.pad_y) for b in boxes] == [(0, 80), (106, 0)]


def _raw_output(rows: list[tuple[float, float, float, float, float, float]], anchors: int = 20) -> np.ndarray:
    """A YOLOv8-style (4 + 2, anchors) output with given (cx, cy, w, h, normal, fall) columns."""
    out = np.zeros((6, anchors), dtype=np.float32)
    out[4:] = 0.01
    for i, row in enumerate(rows):
        out[:, i] = row
    return out


def test_decode_takes_the_best_class_and_converts_centre_size_to_corners():
    out = _raw_output([(100, 200, 40, 80, 0.2, 0.9), (300, 300, 10, 10, 0.1, 0.2)])
    boxes, scores = decode(out, confidence=0.5)
    assert boxes.tolist() == [[80, 160, 120, 240]]
    assert scores == pytest.approx([0.9])  # "Fall" is a person too


def test_iou_matrix_known_values():
    a = np.array([[0, 0, 10, 10]], dtype=np.float32)
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]], dtype=np.float32)
    assert iou_matrix(a, b)[0] == pytest.approx([1.0, 50 / 150, 0.0])


def test_nms_keeps_the_best_of_overlapping_boxes_and_separate_people():
    boxes = np.array([[0, 0, 10, 20], [1, 0, 11, 20], [30, 0, 40, 20], [0.5, 0, 10.5, 20]], dtype=np.float32)
    scores = np.array([0.8, 0.9, 0.7, 0.6], dtype=np.float32)
    assert nms(boxes, scores, iou=0.5).tolist() == [1, 2]
    # Two people standing close overlap by ~0.33: a 0.5 threshold keeps both.
    close = np.array([[0, 0, 10, 20], [5, 0, 15, 20]], dtype=np.float32)
    assert len(nms(close, np.array([0.9, 0.8], dtype=np.float32), iou=0.5)) == 2
    assert len(nms(close, np.array([0.9, 0.8], dtype=np.float32), iou=0.3)) == 1


def test_detect_people_end_to_end_on_a_raw_output():
    out = _raw_output([(100, 100, 20, 40, 0.9, 0.0), (101, 100, 20, 40, 0.85, 0.0), (300, 100, 20, 40, 0.0, 0.6),
                       (500, 500, 20, 20, 0.05, 0.05)])
    people = detect_people(out, confidence=0.3, iou=0.5)
    assert people[:, 4] == pytest.approx([0.9, 0.6])
    assert people[0, :4].tolist() == [90, 80, 110, 120]
    assert detect_people(_raw_output([]), 0.3, 0.5).shape == (0, 5)


def test_batch_policy_runs_when_full_or_when_the_oldest_waited_long_enough():
    policy = BatchPolicy(max_batch=3, max_wait_s=0.02)
    assert not policy.due(0, 0.0) and policy.wait_s(0, 0.0) == 0.02
    policy.note(1, 0.0)
    policy.note(2, 0.005)
    assert not policy.due(2, 0.01) and policy.wait_s(2, 0.01) == pytest.approx(0.01)
    assert policy.due(2, 0.02)
    policy.note(4, 0.012)
    assert policy.due(4, 0.012) and policy.wait_s(4, 0.012) == 0.0
    policy.taken(1, 0.012)
    assert not policy.due(1, 0.013) and policy.due(1, 0.033)
    policy.taken(0, 0.04)
    assert not policy.due(0, 1.0)


def test_split_stale_drops_frames_older_than_the_max_age():
    frames = [("a", 100.0), ("b", 95.0), ("c", 89.0)]
    fresh, stale = split_stale(frames, lambda f: f[1], now=100.0, max_age_s=10.0)
    assert [f[0] for f in fresh] == ["a", "b"] and [f[0] for f in stale] == ["c"]


def test_detections_message_carries_capture_time_and_boxes_never_pixels():
    import datetime as dt

    from services.detect.people import people
    from services.detect.service import detections_message
    from storesight.contracts import Frame, decode, to_timestamp
    from storesight.v1 import detections_pb2

    when = dt.datetime(2026, 11, 21, 9, 0, 1, 500000, tzinfo=dt.UTC)
    frame = Frame(camera_id="cam-1", store_id="s1", seq=42, capture_time=to_timestamp(when),
                  width=768, height=432, jpeg=b"\xff" * 50_000)
    persons = people([[0.1, 0.2, 0.3, 0.9], [0.5, 0.2, 0.6, 0.8]], [0.8, 0.6], [7, 3], [False, True])
    message = detections_message(frame, persons, "best_fp16.onnx", 12.5, 768, 432, tracker_epoch="3f2a9c")
    data = message.SerializeToString()
    assert len(data) < 200  # the 50 kB JPEG is not in it
    back = decode(detections_pb2.Detections, data)
    assert (back.camera_id, back.store_id, back.frame_seq, back.model) == ("cam-1", "s1", 42, "best_fp16.onnx")
    assert back.tracker_epoch == "3f2a9c"  # track ids are named by (camera, epoch, id) downstream
    assert back.capture_time == frame.capture_time
    first, second = back.persons
    assert first.track_id == 7 and not first.predicted and second.predicted
    assert (first.foot.x, first.foot.y) == pytest.approx((0.2, 0.9))
    assert (first.box.x1, first.box.y2) == pytest.approx((0.1, 0.9))


def test_a_predicted_box_that_comes_out_inverted_is_published_ordered_and_in_the_image():
    # Seen on the Intel clip (frame 452): a person leaving at the bottom right, hidden for a frame;
    # the tracker's prediction had y1 past the bottom edge and y1 > y2. The Detections contract
    # (storesight.contracts) rejects such a box, and aggregate sent the whole frame to the DLQ.
    import datetime as dt

    from services.detect.people import clipped, people
    from services.detect.service import detections_message
    from storesight.contracts import Detections, Frame, decode, to_timestamp

    person = clipped(people([[0.90085, 1.04, 1.03, 0.83299]], [0.53], [3], [True]))
    x1, y1, x2, y2 = person.xyxy[0]
    assert 0 <= x1 <= x2 <= 1 and 0 <= y1 <= y2 <= 1
    assert tuple(person.xyxy[0]) == pytest.approx((0.90085, 0.83299, 1.0, 1.0))
    frame = Frame(camera_id="cam", store_id="s", seq=1, capture_time=to_timestamp(dt.datetime.now(dt.UTC)))
    message = detections_message(frame, person, "m", 1.0, 768, 432)
    assert decode(Detections, message.SerializeToString()).persons[0].predicted
