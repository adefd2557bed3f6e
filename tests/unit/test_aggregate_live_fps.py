"""Detect's effective rate per camera reaches the live view (``camera:<id>`` row): the latest
frame's value, unknown (null, never 0) before detect knows it, when the camera is down, and after
a checkpoint written before the field existed."""

from __future__ import annotations

import json

from services.aggregate.aggregator import Aggregator
from services.aggregate.checkpoint import decode, encode
from services.aggregate.convert import frame_from_proto, live_to_json
from services.aggregate.records import FrameRecord, HealthRecord
from storesight.contracts import Detections
from tests.unit.test_aggregate_core import make_config


def frame(t: float, fps: float | None) -> FrameRecord:
    rec = FrameRecord.of("cam-a", t, [(1, 0.2, 0.5)])
    rec.effective_fps = fps
    return rec


def rows(agg: Aggregator) -> dict[str, dict]:
    return {z.zone_id: live_to_json(z, 0.0) for z in agg.live()}


def test_detections_rate_is_read_and_zero_or_unset_is_unknown():
    msg = Detections(camera_id="c", effective_fps=2.5)
    msg.capture_time.FromSeconds(100)
    assert frame_from_proto(msg).effective_fps == 2.5
    # detect's RateMeter sends 0.0 until it has two frames of the camera; proto3 cannot tell it from unset
    msg.effective_fps = 0.0
    assert frame_from_proto(msg).effective_fps is None
    assert frame_from_proto(Detections(camera_id="c")).effective_fps is None


def test_the_camera_row_carries_the_latest_frames_rate():
    agg = Aggregator(make_config())
    agg.process([frame(0.0, None)])
    assert rows(agg)["camera:cam-a"]["effective_fps"] is None  # known status, rate not yet known
    assert rows(agg)["camera:cam-a"]["status"] == "ok"
    agg.process([frame(0.5, 2.0), frame(1.0, 2.5)])
    live = rows(agg)
    assert live["camera:cam-a"]["effective_fps"] == 2.5
    assert "effective_fps" not in live["left"]  # zone rows do not repeat the camera's rate
    agg.process([frame(0.8, 9.0)])  # an older frame arriving late does not overwrite the latest
    assert rows(agg)["camera:cam-a"]["effective_fps"] == 2.5
    # detect restarted: its new meter sends 0 again, which is unknown, not the old rate nor 0
    agg.process([frame_from_proto(_message(1.5, 0.0))])
    assert rows(agg)["camera:cam-a"]["effective_fps"] is None
    assert json.loads(json.dumps(rows(agg)["camera:cam-a"]))["effective_fps"] is None


def test_a_down_camera_has_no_rate():
    agg = Aggregator(make_config(stale_after_s=5))
    agg.process([frame(0.0, 3.0), frame(0.5, 3.0)])
    assert rows(agg)["camera:cam-a"]["effective_fps"] == 3.0
    agg.process([HealthRecord("cam-a", 1.0, up=False)])
    row = rows(agg)["camera:cam-a"]
    assert row["status"] == "unknown" and row["effective_fps"] is None


def test_rate_survives_a_checkpoint_and_old_checkpoints_read_as_unknown():
    config = make_config()
    agg = Aggregator(config)
    agg.process([frame(0.0, 4.0), frame(0.5, 4.0)])
    blob = encode(agg.state, {}, {}, generation=1)
    restored = Aggregator(config, state=decode(blob).state)
    assert rows(restored)["camera:cam-a"]["effective_fps"] == 4.0
    doc = json.loads(blob)  # a checkpoint written before the field existed
    for _, cam in doc["state"]["f"]["cameras"]["$m"]:
        del cam["f"]["effective_fps"]
    old = Aggregator(config, state=decode(json.dumps(doc).encode()).state)
    assert rows(old)["camera:cam-a"]["effective_fps"] is None
    assert rows(old)["camera:cam-a"]["status"] == "ok"


def _message(t: float, fps: float) -> Detections:
    msg = Detections(camera_id="cam-a", effective_fps=fps)
    msg.capture_time.FromNanoseconds(int(t * 1e9))
    p = msg.persons.add(track_id=1)
    p.foot.x, p.foot.y = 0.2, 0.5
    return msg
