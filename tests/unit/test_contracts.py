"""Contracts round-trip and the validation that catches lenient protobuf parses."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from storesight.contracts import (
    AlertEvent,
    CameraHealth,
    Detections,
    Frame,
    MalformedMessage,
    ZoneStats,
    decode,
    from_timestamp,
    to_timestamp,
)

T0 = dt.datetime(2026, 11, 21, 9, 30, 15, 250000, tzinfo=dt.UTC)


def sample_messages():
    frame = Frame(camera_id="cam-1", store_id="s1", seq=7, capture_time=to_timestamp(T0), width=768,
                  height=432, jpeg=b"\xff\xd8jpeg\xff\xd9", motion_score=0.25)
    det = Detections(camera_id="cam-1", store_id="s1", frame_seq=7, capture_time=to_timestamp(T0), model="m")
    person = det.persons.add(confidence=0.9, track_id=3)
    person.box.x1, person.box.y1, person.box.x2, person.box.y2 = 0.1, 0.2, 0.3, 0.9
    person.foot.x, person.foot.y = 0.2, 0.9
    health = CameraHealth(camera_id="cam-1", store_id="s1", status=CameraHealth.STATUS_DOWN,
                          report_time=to_timestamp(T0), reason="connection refused", reconnects=2)
    stats = ZoneStats(store_id="s1", zone_id="q1", zone_kind="queue", window_start=to_timestamp(T0),
                      window_end=to_timestamp(T0 + dt.timedelta(seconds=60)), status=ZoneStats.STATUS_OK,
                      coverage=1.0, occupancy_avg=2.5, queue_length=2.5, wait_estimate_s=75.0)
    alert = AlertEvent(event_id="e1", incident_id="i1", rule_id="r1", store_id="s1", zone_id="q1",
                       from_state=AlertEvent.STATE_PENDING, to_state=AlertEvent.STATE_FIRING,
                       value=5, threshold=4, at=to_timestamp(T0))
    alert.deliveries.add(channel="sms", recipient="+1555***0100", provider_id="SM1")
    return [frame, det, health, stats, alert]


@pytest.mark.parametrize("message", sample_messages(), ids=lambda m: m.DESCRIPTOR.name)
def test_round_trip(message):
    again = decode(type(message), message.SerializeToString())
    assert again == message


def test_unknown_is_not_zero_in_zone_stats():
    stats = ZoneStats(store_id="s1", zone_id="z", status=ZoneStats.STATUS_UNKNOWN,
                      window_start=to_timestamp(T0), window_end=to_timestamp(T0))
    again = decode(ZoneStats, stats.SerializeToString())
    assert not again.HasField("occupancy_avg")
    again.occupancy_avg = 0
    assert again.HasField("occupancy_avg")


def test_timestamps_keep_microseconds_and_utc():
    assert from_timestamp(to_timestamp(T0)) == T0
    with pytest.raises(ValueError):
        to_timestamp(dt.datetime(2026, 1, 1))


@pytest.mark.parametrize("data", [b"", b"\xff\xff\xff\xff", random.Random(1).randbytes(64), b"\x0a\x00"])
def test_garbage_is_malformed(data):
    with pytest.raises(MalformedMessage):
        decode(Frame, data)


def test_box_outside_the_image_is_malformed():
    det = sample_messages()[1]
    det.persons[0].box.x2 = 1.5
    with pytest.raises(MalformedMessage, match="box outside"):
        decode(Detections, det.SerializeToString())
