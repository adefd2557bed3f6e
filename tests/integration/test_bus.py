"""The bus on the real embedded broker: big frames, committed offsets, DLQ, topics ensure."""

from __future__ import annotations

import datetime as dt
import random
import time

import cv2
import numpy as np
import pytest
from kafka import KafkaConsumer

from storesight.bus import DLQ_MESSAGES, DLQ_REASON_HEADER, TypedConsumer, TypedProducer
from storesight.contracts import Frame, to_timestamp
from storesight.kafka_clients import client_kwargs
from storesight.topics import ALL_TOPICS, FRAMES, Topic, ensure_topics
from storesight.v1 import frame_pb2

T0 = dt.datetime(2026, 11, 21, 9, 0, tzinfo=dt.UTC)


def noisy_jpeg(min_bytes: int) -> bytes:
    """A real JPEG of at least min_bytes (noise compresses badly)."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, size=(720, 1280, 3), dtype=np.uint8)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok and len(buf) >= min_bytes
    return buf.tobytes()


def own_topic(name: str) -> Topic:
    """A test's own topic, typed as frames, so tests do not see each other's messages."""
    return Topic(name, frame_pb2.Frame, partitions=2, retention_ms=60_000, max_message_bytes=16 << 20)


def make_frame(seq: int, jpeg: bytes = b"\xff\xd8x\xff\xd9") -> Frame:
    return Frame(camera_id="cam-1", store_id="s1", seq=seq, capture_time=to_timestamp(T0), jpeg=jpeg)


def drain(consumer: TypedConsumer, want: int, timeout_s: float = 30.0):
    got = []
    deadline = time.monotonic() + timeout_s
    while len(got) < want and time.monotonic() < deadline:
        got.extend(consumer.poll(timeout_ms=200))
    return got


def test_200kb_frame_goes_through_the_broker_intact(kafka_settings, broker):
    topic = own_topic("t.bigframe")
    ensure_topics(broker.bootstrap, (topic,))
    jpeg = noisy_jpeg(200_000)
    producer = TypedProducer(kafka_settings, "test")
    producer.send(topic, "cam-1", make_frame(1, jpeg)).get(timeout=30)
    producer.close()
    consumer = TypedConsumer(kafka_settings, [topic], "g-bigframe", "test")
    try:
        records = drain(consumer, 1)
    finally:
        consumer.close()
    assert len(records) == 1
    assert records[0].key == "cam-1"
    assert records[0].value.jpeg == jpeg
    assert cv2.imdecode(np.frombuffer(records[0].value.jpeg, np.uint8), cv2.IMREAD_COLOR).shape == (720, 1280, 3)


def test_consumer_resumes_at_the_committed_offset(kafka_settings, broker):
    topic = own_topic("t.resume")
    ensure_topics(broker.bootstrap, (topic,))
    producer = TypedProducer(kafka_settings, "test")
    for seq in range(10):
        producer.send(topic, "cam-1", make_frame(seq))
    producer.flush()

    first = TypedConsumer(kafka_settings, [topic], "g-resume", "test")
    got = drain(first, 10)
    assert sorted(r.value.seq for r in got) == list(range(10))
    first.commit()
    first.close()

    for seq in range(10, 15):
        producer.send(topic, "cam-1", make_frame(seq))
    producer.flush()
    producer.close()

    second = TypedConsumer(kafka_settings, [topic], "g-resume", "test")
    try:
        again = drain(second, 5)
        time.sleep(0.5)
        again.extend(second.poll(timeout_ms=300))
    finally:
        second.close()
    assert sorted(r.value.seq for r in again) == list(range(10, 15))


def test_uncommitted_messages_are_delivered_again(kafka_settings, broker):
    topic = own_topic("t.redeliver")
    ensure_topics(broker.bootstrap, (topic,))
    producer = TypedProducer(kafka_settings, "test")
    for seq in range(5):
        producer.send(topic, "cam-1", make_frame(seq))
    producer.close()
    first = TypedConsumer(kafka_settings, [topic], "g-redeliver", "test")
    assert len(drain(first, 5)) == 5
    first.close()  # no commit: as if it crashed before finishing
    second = TypedConsumer(kafka_settings, [topic], "g-redeliver", "test")
    try:
        assert sorted(r.value.seq for r in drain(second, 5)) == list(range(5))
    finally:
        second.close()


def test_1000_malformed_messages_land_in_the_dlq_and_the_consumer_keeps_going(kafka_settings, fresh_broker):
    settings = kafka_settings.model_copy(update={"bootstrap": fresh_broker.bootstrap})
    ensure_topics(fresh_broker.bootstrap)
    rng = random.Random(7)
    raw = TypedProducer(settings, "test")
    bad_values = [b"", b"\xff" * 8, make_frame(1, jpeg=b"").SerializeToString()]
    for i in range(1000):
        value = bad_values[i % 3] if i % 4 else rng.randbytes(rng.randint(1, 300))
        raw.send(FRAMES, f"cam-{i % 5}", value)
        if i == 500:
            raw.send(FRAMES, "cam-good", make_frame(42))
    raw.flush()
    before = DLQ_MESSAGES.labels(FRAMES.name)._value.get()

    consumer = TypedConsumer(settings, [FRAMES], "g-dlq", "test")
    try:
        good = drain(consumer, 1, timeout_s=20)
        deadline = time.monotonic() + 30
        while consumer.dead_lettered < 1000 and time.monotonic() < deadline:
            good.extend(consumer.poll(timeout_ms=200))
        consumer.commit()
    finally:
        consumer.close()
    raw.close()

    assert [r.value.seq for r in good] == [42]
    assert consumer.dead_lettered == 1000
    assert DLQ_MESSAGES.labels(FRAMES.name)._value.get() - before == 1000

    dlq = KafkaConsumer(FRAMES.dlq, **client_kwargs(settings.bootstrap, "storesight-test-reader"), auto_offset_reset="earliest",
                        consumer_timeout_ms=3000, fetch_max_wait_ms=10)
    reasons = [dict(m.headers)[DLQ_REASON_HEADER].decode() for m in dlq]
    dlq.close()
    assert len(reasons) == 1000
    assert {"empty value", "not a valid protobuf Frame", "missing jpeg"} <= set(reasons)


def test_topics_ensure_twice_gives_the_same_topics(fresh_broker):
    first = ensure_topics(fresh_broker.bootstrap)
    assert set(first.values()) == {"created"}
    second = ensure_topics(fresh_broker.bootstrap)
    assert set(second) == {t.name for t in ALL_TOPICS}
    assert set(second.values()) == {"exists"}
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(**client_kwargs(fresh_broker.bootstrap, "storesight-test-admin"))
    try:
        partitions = {t["name"]: len(t["partitions"]) for t in admin.describe_topics([t.name for t in ALL_TOPICS])}
    finally:
        admin.close()
    assert partitions == {t.name: t.partitions for t in ALL_TOPICS}


@pytest.mark.parametrize("verb", ["config", "broker", "topics", "demo"])
def test_cli_help_lists_the_verbs(verb):
    from tools.cli import build_parser

    assert verb in build_parser().format_help()
