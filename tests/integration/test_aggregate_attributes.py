"""Attribute groups through the real broker and Redis: Detections with groups in, ZoneStats with groups out.

Scripted stream (window 5 s, lateness 2 s, base T0; cam-s at 5 fps, one person in 'endcap'):
- window 0: an 'endcap' group of 5 tracks (3 happy, 2 neutral) and a camera-level group of 6;
- window 5: two 'endcap' groups (5, then 6 tracks) with a worker restart between them: merged, 11;
  and a group of 4 (below k: detect never sends one; aggregate drops it all the same);
- a group for window 0 arriving at T0+13, after window 0 closed: late, not merged;
- window 10: an 'endcap' group of 7 (the metrics then show window 10's counts).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid

import redis
from kafka import KafkaConsumer, TopicPartition
from prometheus_client import generate_latest

from services.aggregate.service import AggregateWorker
from storesight import attributes as wire
from storesight.attributes import AttributeGroup
from storesight.bus import TypedProducer
from storesight.config import parse_config
from storesight.contracts import CameraHealth, Detections, ZoneStats, to_timestamp
from storesight.kafka_clients import client_kwargs
from storesight.topics import Topic, ensure_topics
from tests.support.privacy import assert_no_leaks, check_aggregates, redis_values

T0 = 1_800_000_000.0
STORE = "s-attr"


def region(bootstrap: str, redis_url: str):
    camera = {"id": "cam-s", "source": "x.mp4", "attributes_enabled": True,
              "zones": [{"id": "endcap", "kind": "area", "polygon": [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]}]}
    return parse_config({
        "region": "r",
        "pipeline": {"kafka": {"bootstrap": bootstrap}, "redis_url": redis_url,
                     "aggregate": {"window_s": 5, "allowed_lateness_s": 2, "stale_after_s": 2,
                                   "checkpoint_interval_s": 0.2}},
        "stores": [{"id": STORE, "timezone": "UTC", "cameras": [camera],
                    "privacy": {"attributes_enabled": True, "k_anonymity": 5, "track_close_s": 1}}],
    })


def group(zone: str, start: float, tracks: int, happy: int = 0) -> AttributeGroup:
    expressions = {"happy": happy, "neutral": tracks - happy} if happy else {"neutral": tracks}
    return AttributeGroup(zone, T0 + start, T0 + start + 5, tracks, expressions,
                          {"18-29": 2, "30-44": tracks - 2}, {"female": 3, "male": tracks - 3})


CARRIED = {
    6.0: [group("endcap", 0, 5, happy=3), group("", 0, 6)],
    11.0: [group("endcap", 5, 5, happy=1)],
    11.4: [group("endcap", 5, 6, happy=2), group("endcap", 5, 4)],
    13.0: [group("endcap", 0, 8)],
    16.2: [group("endcap", 10, 7, happy=7)],
}


def stream(start: float, end: float) -> list[Detections]:
    out = []
    for i in range(int(round(start * 5)), int(round(end * 5))):
        t = i / 5
        msg = Detections(camera_id="cam-s", store_id=STORE, frame_seq=i)
        msg.capture_time.CopyFrom(to_timestamp(dt.datetime.fromtimestamp(T0 + t, dt.UTC)))
        person = msg.persons.add(track_id=1, confidence=0.9)
        person.box.x1, person.box.y1, person.box.x2, person.box.y2 = 0.15, 0.2, 0.25, 0.5
        person.foot.x, person.foot.y = 0.2, 0.5
        msg.attributes.extend(wire.to_proto(g) for g in CARRIED.get(round(t, 1), []))
        out.append(msg)
    return out


def run_until(worker: AggregateWorker, done, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < deadline, "aggregate worker did not get there"
        worker.step(timeout_ms=100)


def read_raw(bootstrap: str, topic: str) -> list[bytes]:
    consumer = KafkaConsumer(**client_kwargs(bootstrap, "storesight-test-reader"), group_id=None, enable_auto_commit=False,
                             consumer_timeout_ms=500, fetch_max_wait_ms=10)
    consumer.assign([TopicPartition(topic, 0)])
    consumer.seek_to_beginning()
    try:
        return [m.value for m in consumer]
    finally:
        consumer.close()


def test_groups_reach_zone_stats_across_a_restart(broker, kafka_settings, redis_url, caplog, monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("KAFKA_BOOTSTRAP", raising=False)
    caplog.set_level(logging.DEBUG, logger="services")
    suffix = uuid.uuid4().hex[:8]
    detections = Topic(f"t.agg-attr-det-{suffix}", Detections, 1, 600_000)
    health = Topic(f"t.agg-attr-health-{suffix}", CameraHealth, 1, 600_000)
    stats_topic = Topic(f"t.agg-attr-stats-{suffix}", ZoneStats, 1, 600_000, key="store_id/zone_id")
    ensure_topics(broker.bootstrap, (detections, health, stats_topic))
    config = region(broker.bootstrap, redis_url)
    prefix = f"storesight:test-attr-{suffix}:"
    options = dict(group=f"agg-attr-{suffix}", redis_prefix=prefix, detections=detections, health=health,
                   stats=stats_topic)
    producer = TypedProducer(kafka_settings, "test-agg-attr")
    client = redis.Redis.from_url(redis_url)

    def send(msgs):
        for m in msgs:
            producer.send(detections, m.camera_id, m)
        producer.flush()

    def handled(worker, count):
        return lambda: worker.tasks and worker.tasks[0].offsets.get((detections.name, 0), 0) >= count

    try:
        first_part = stream(0, 11.2)  # window 0 closed and published; one group of window 5 in the state
        send(first_part)
        worker = AggregateWorker(config, client_id=f"a-{suffix}", **options)
        worker.open()
        try:
            run_until(worker, handled(worker, len(first_part)))
        finally:
            worker.close()  # checkpoint, then gone: the successor must not lose window 5's first group
        rest = stream(11.2, 20.0)
        send(rest)
        worker = AggregateWorker(config, client_id=f"b-{suffix}", **options)
        worker.open()
        try:
            run_until(worker, handled(worker, len(first_part) + len(rest)))
            metrics = generate_latest().decode()
        finally:
            worker.close()

        raw = read_raw(broker.bootstrap, stats_topic.name)
        published = [ZoneStats.FromString(v) for v in raw]
        got = {(s.zone_id, s.window_start.seconds - T0): s for s in published}
        assert len(got) == len(published) == 6  # (endcap, camera view) x windows 0, 5, 10: each once
        w0 = got[("endcap", 0)].attributes
        assert len(w0) == 1 and w0[0].distinct_tracks == 5 and dict(w0[0].expressions) == {"happy": 3, "neutral": 2}
        view = got[("camera:cam-s", 0)].attributes
        assert len(view) == 1 and view[0].zone_id == "" and view[0].distinct_tracks == 6
        w5 = got[("endcap", 5)].attributes
        assert len(w5) == 1 and w5[0].distinct_tracks == 11  # 5 before the restart + 6 after; the 4 dropped
        assert dict(w5[0].expressions) == {"happy": 3, "neutral": 8}
        assert dict(w5[0].genders) == {"female": 6, "male": 5}
        assert got[("endcap", 10)].late_records == 1  # the window-0 group that came after window 0 closed
        assert not got[("camera:cam-s", 5)].attributes
        assert got[("endcap", 10)].attributes[0].distinct_tracks == 7

        # Gauges hold window 10: set over the whole fixed label set, absent where the window had no group.
        labels = f'store="{STORE}",zone="endcap"'
        assert f'storesight_zone_expression_tracks{{expression="happy",{labels}}} 7.0' in metrics
        assert f'storesight_zone_expression_tracks{{expression="sad",{labels}}} 0.0' in metrics
        assert f'storesight_zone_age_band_tracks{{band="30-44",{labels}}} 5.0' in metrics
        assert f'storesight_zone_gender_tracks{{gender="male",{labels}}} 4.0' in metrics
        assert 'zone="camera:cam-s"' not in "\n".join(
            line for line in metrics.splitlines() if line.startswith("storesight_zone_expression_tracks"))

        # Nothing per person anywhere the aggregator writes.
        assert check_aggregates(published, k=5) == []
        assert_no_leaks({"zone-stats": raw, "redis": list(redis_values(client, f"{prefix}*").values()),
                         "logs": caplog.text, "metrics": metrics})
    finally:
        producer.close()
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
        client.close()
