"""Decoding and validation of the protobuf contracts, and timestamp helpers.

Protobuf decoding is lenient (random bytes may parse), so every message is also checked
for the fields its consumers rely on: a message that fails is malformed and goes to the DLQ.
"""

from __future__ import annotations

import datetime as dt

from google.protobuf.message import DecodeError, Message
from google.protobuf.timestamp_pb2 import Timestamp

from storesight.v1 import alert_pb2, detections_pb2, frame_pb2, health_pb2, store_stats_pb2, zone_stats_pb2

Frame = frame_pb2.Frame
Detections = detections_pb2.Detections
Person = detections_pb2.Person
AttributeAggregate = detections_pb2.AttributeAggregate
CameraHealth = health_pb2.CameraHealth
ZoneStats = zone_stats_pb2.ZoneStats
StoreStats = store_stats_pb2.StoreStats
AlertEvent = alert_pb2.AlertEvent
Delivery = alert_pb2.Delivery


class MalformedMessage(ValueError):
    """A message that cannot be used; ``reason`` is short and safe to put in a header."""


def to_timestamp(when: dt.datetime) -> Timestamp:
    if when.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware (UTC)")
    ts = Timestamp()
    ts.FromDatetime(when.astimezone(dt.UTC))
    return ts


def from_timestamp(ts: Timestamp) -> dt.datetime:
    return ts.ToDatetime(tzinfo=dt.UTC)


def seconds(ts: Timestamp) -> float:
    """Timestamp as float seconds since the epoch (for window maths)."""
    return ts.seconds + ts.nanos / 1e9


def _require(condition: bool, reason: str) -> None:
    if not condition:
        raise MalformedMessage(reason)


def _check_frame(msg: Frame) -> None:
    _require(bool(msg.camera_id), "missing camera_id")
    _require(msg.HasField("capture_time"), "missing capture_time")
    _require(len(msg.jpeg) > 0, "missing jpeg")


def _check_detections(msg: Detections) -> None:
    _require(bool(msg.camera_id), "missing camera_id")
    _require(msg.HasField("capture_time"), "missing capture_time")
    for person in msg.persons:
        box = person.box
        _require(0.0 <= box.x1 <= box.x2 <= 1.0 and 0.0 <= box.y1 <= box.y2 <= 1.0, "box outside 0..1")


def _check_health(msg: CameraHealth) -> None:
    _require(bool(msg.camera_id), "missing camera_id")
    _require(msg.status != CameraHealth.STATUS_UNSPECIFIED, "missing status")
    _require(msg.HasField("report_time"), "missing report_time")


def _check_zone_stats(msg: ZoneStats) -> None:
    _require(bool(msg.store_id) and bool(msg.zone_id), "missing store_id or zone_id")
    _require(msg.HasField("window_start") and msg.HasField("window_end"), "missing window")
    _require(msg.status != ZoneStats.STATUS_UNSPECIFIED, "missing status")


def _check_store_stats(msg: StoreStats) -> None:
    _require(bool(msg.store_id), "missing store_id")
    _require(msg.HasField("window_start") and msg.HasField("window_end"), "missing window")
    _require(msg.status != StoreStats.STATUS_UNSPECIFIED, "missing status")


def _check_alert(msg: AlertEvent) -> None:
    _require(bool(msg.incident_id) and bool(msg.rule_id), "missing incident_id or rule_id")
    _require(msg.HasField("at"), "missing at")


_CHECKS = {
    Frame: _check_frame,
    Detections: _check_detections,
    CameraHealth: _check_health,
    ZoneStats: _check_zone_stats,
    StoreStats: _check_store_stats,
    AlertEvent: _check_alert,
}


def decode(message_type: type[Message], data: bytes | None) -> Message:
    """Parse and validate one message; raise MalformedMessage with a short reason."""
    if not data:
        raise MalformedMessage("empty value")
    msg = message_type()
    try:
        msg.ParseFromString(data)
    except DecodeError:
        raise MalformedMessage("not a valid protobuf " + message_type.DESCRIPTOR.name) from None
    check = _CHECKS.get(message_type)
    if check is not None:
        check(msg)
    return msg
