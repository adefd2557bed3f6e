"""Detect service with sentiment on, through the real embedded broker: only k-anonymous groups leave it.

The detections then go through the aggregate worker (real broker, real Redis): its ZoneStats,
Redis keys (live state, heatmap, checkpoint) and logs hold no per-person attribute either.

Runs once the detect service takes an ``attributes`` stage (``DetectLoop(..., attributes=...)``);
skips cleanly before that. The person detector is replaced by a script of boxes (the detector has
its own tests); faces, expressions, ages and genders come from the real models on a real portrait.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from pathlib import Path

import cv2
import numpy as np
import pytest
from kafka import KafkaConsumer, TopicPartition
from prometheus_client import generate_latest

from services.detect import service
from services.detect.people import people
from storesight.bus import TypedProducer
from storesight.config import parse_config
from storesight.contracts import Frame, to_timestamp
from storesight.kafka_clients import client_kwargs
from storesight.topics import Topic, ensure_topics
from storesight.v1 import detections_pb2, frame_pb2, health_pb2, zone_stats_pb2
from tests.support.privacy import assert_no_leaks, check_aggregates, find_leaks, redis_values

T0 = dt.datetime(2026, 11, 21, 9, 0, tzinfo=dt.UTC)
FRAMES_PER_SHOPPER = 4
BOX = (0.2, 0.15, 0.85, 1.0)


class ScriptedDetector:
    """Stands in for the person model: the portrait is one person, whose track id the script gives."""

    model_name = "scripted"

    def __init__(self, track_of_time):
        self.track_of_time = track_of_time

    def process(self, cameras, images, times):
        out = []
        for image, now in zip(images, times, strict=True):
            track = self.track_of_time(now) if image.mean() > 5 else None
            out.append(people([BOX], [0.9], [track], [False]) if track else people([], [], [], []))
        return out, 0.001


def region(tmp_topics: str):
    camera = {"id": "cam-p", "source": "/dev/null", "attributes_enabled": True,
              "zones": [{"id": "endcap-1", "kind": "aisle", "polygon": [[0, 0], [1, 0], [1, 1], [0, 1]]}]}
    return parse_config({
        "region": "r",
        "pipeline": {"detect": {"attributes_every_n_frames": 1, "attributes_head_fraction": 0.6,
                                "max_batch": 4, "max_wait_ms": 5, "max_frame_age_s": 1e9,
                                "shed_window_s": 1e9}},
        "stores": [{"id": "s", "timezone": "UTC", "cameras": [camera],
                    "privacy": {"attributes_enabled": True, "k_anonymity": 5, "min_observations": 3}}],
    })


def frames_for(n_shoppers: int, portrait: bytes, black: bytes) -> list[Frame]:
    """Shopper k is in view at 10k .. 10k+3 s, an empty frame at 10k+6 s; a last empty frame at 300 s."""
    frames, seq = [], 0
    for k in range(n_shoppers):
        for t, jpeg in [(10 * k + i, portrait) for i in range(FRAMES_PER_SHOPPER)] + [(10 * k + 6, black)]:
            seq += 1
            frames.append(Frame(camera_id="cam-p", store_id="s", seq=seq, width=512, height=600, jpeg=jpeg,
                                capture_time=to_timestamp(T0 + dt.timedelta(seconds=t))))
    frames.append(Frame(camera_id="cam-p", store_id="s", seq=seq + 1, width=512, height=600, jpeg=black,
                        capture_time=to_timestamp(T0 + dt.timedelta(seconds=300))))
    return frames


def raw_values(bootstrap: str, topic: str, want: int, timeout_s: float = 30) -> list[bytes]:
    """The raw bytes of a one-partition topic, read from the start without a consumer group."""
    consumer = KafkaConsumer(**client_kwargs(bootstrap, "storesight-test-reader"), group_id=None, enable_auto_commit=False,
                             consumer_timeout_ms=300, fetch_max_wait_ms=10)
    consumer.assign([TopicPartition(topic, 0)])
    consumer.seek_to_beginning()
    values, deadline = [], time.monotonic() + timeout_s
    try:
        while len(values) < want and time.monotonic() < deadline:
            values.extend(m.value for m in consumer)
    finally:
        consumer.close()
    return values


def aggregate(config, bootstrap: str, redis_url: str, detections_topic: Topic, suffix: str,
              frames: int, records: int) -> tuple[list[bytes], dict[str, bytes]]:
    """Run the aggregate worker over the detections topic; its ``records`` ZoneStats payloads and Redis values."""
    import redis

    from services.aggregate.service import AggregateWorker

    health = Topic(f"t.attr-health-{suffix}", health_pb2.CameraHealth, 1, 60_000)
    stats = Topic(f"t.attr-stats-{suffix}", zone_stats_pb2.ZoneStats, 1, 60_000, key="store_id/zone_id")
    ensure_topics(bootstrap, (health, stats))
    prefix = f"storesight:test-attr-{suffix}:"
    worker = AggregateWorker(config, group=f"g-attr-agg-{suffix}", redis_prefix=prefix,
                             detections=detections_topic, health=health, stats=stats)
    worker.open()
    client = redis.Redis.from_url(redis_url)
    try:
        deadline = time.monotonic() + 60
        while not (worker.tasks and worker.tasks[0].offsets.get((detections_topic.name, 0), 0) >= frames):
            assert time.monotonic() < deadline, "aggregate did not take every detection"
            worker.step(timeout_ms=100)
        worker.close()
        worker = None
        return raw_values(bootstrap, stats.name, records, timeout_s=10), redis_values(client, f"{prefix}*")
    finally:
        if worker is not None:
            worker.close()
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
        client.close()


@pytest.mark.parametrize("n_shoppers", [4, 5])
def test_only_k_anonymous_groups_reach_the_detections_topic(kafka_settings, broker, redis_url, caplog, monkeypatch,
                                                            n_shoppers):
    import matplotlib

    from services.detect.attributes.stage import AttributeStage

    for name in ("services", "storesight"):  # our own logs, all levels (the Kafka client's are noise)
        caplog.set_level(logging.DEBUG, logger=name)
    image = cv2.imread(str(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"))
    portrait = cv2.imencode(".jpg", image)[1].tobytes()
    black = cv2.imencode(".jpg", np.zeros_like(image))[1].tobytes()
    suffix = uuid.uuid4().hex[:8]
    frames_topic = Topic(f"t.attr-frames-{suffix}", frame_pb2.Frame, 1, 60_000, max_message_bytes=16 << 20)
    detections_topic = Topic(f"t.attr-detections-{suffix}", detections_pb2.Detections, 1, 60_000)
    ensure_topics(broker.bootstrap, (frames_topic, detections_topic))
    config = region(suffix)
    frames = frames_for(n_shoppers, portrait, black)
    producer = TypedProducer(kafka_settings, "test")
    for frame in frames:
        producer.send(frames_topic, frame.camera_id, frame)
    producer.close()

    detector = ScriptedDetector(lambda now: 1 + int(now - T0.timestamp()) // 10)
    loop = service.DetectLoop(config.pipeline.detect, kafka_settings, {"cam-p"}, frames_topic=frames_topic,
                              detections_topic=detections_topic, group=f"g-attr-{suffix}", detector=detector,
                              attributes=AttributeStage(config))
    try:
        deadline = time.monotonic() + 60
        while loop.published < len(frames) and time.monotonic() < deadline:
            loop.step()
    finally:
        loop.close()
    assert loop.published == len(frames)

    raw = raw_values(broker.bootstrap, detections_topic.name, len(frames))
    assert len(raw) == len(frames)
    messages = [detections_pb2.Detections.FromString(value) for value in raw]
    groups = [g for m in messages for g in m.attributes]
    if n_shoppers == 4:
        assert groups == []
    else:
        assert len(groups) == 1 and groups[0].distinct_tracks == 5 and groups[0].zone_id == "endcap-1"
        assert dict(groups[0].age_bands) == {"60+": 5}
    assert check_aggregates(messages, k=5) == []

    # Aggregate takes the group, whole, into the zone's ZoneStats of that window; writes nothing per person.
    monkeypatch.setenv("KAFKA_BOOTSTRAP", broker.bootstrap)
    monkeypatch.setenv("REDIS_URL", redis_url)
    stats_raw, redis_data = aggregate(config, broker.bootstrap, redis_url, detections_topic, suffix, len(frames),
                                      records=8)  # 2 zones x windows 0, 60, 120, 180 (240 still open)
    zone_stats = [zone_stats_pb2.ZoneStats.FromString(value) for value in stats_raw]
    assert {(s.zone_id, s.window_start.seconds - int(T0.timestamp())) for s in zone_stats} == {
        (zone, start) for zone in ("endcap-1", "camera:cam-p") for start in (0, 60, 120, 180)}
    carried = {(s.zone_id, s.window_start.seconds - int(T0.timestamp())): list(s.attributes)
               for s in zone_stats if s.attributes}
    if n_shoppers == 4:
        assert carried == {}
    else:
        assert carried == {("endcap-1", 0): groups}
    assert check_aggregates(zone_stats, k=5) == []
    assert any(key.endswith(":live:s") for key in redis_data) and any(":checkpoint:" in key for key in redis_data)
    assert_no_leaks({"detections topic": raw, "zone-stats topic": stats_raw, "redis": list(redis_data.values()),
                     "logs": caplog.text, "metrics": generate_latest()})
    # The scanner is not blind: the frames topic (the one place pixels may be) is flagged.
    assert any("JPEG" in f for f in find_leaks(raw_values(broker.bootstrap, frames_topic.name, 1)[0]))
