"""Loading a topic with detections for tests and benchmarks (one producer, flushed, closed), and reading
a topic's decoded messages back."""

from __future__ import annotations

import time
from collections.abc import Iterable

from google.protobuf.message import Message

from storesight.bus import TypedProducer
from storesight.config import KafkaSettings
from storesight.contracts import Detections
from storesight.topics import DETECTIONS, Topic


def send_detections(bootstrap: str, messages: Iterable[Detections], client_id: str = "test-detections",
                    topic: Topic = DETECTIONS) -> None:
    """Publish each message keyed by its camera id (as detect does) and wait until all are acknowledged."""
    producer = TypedProducer(KafkaSettings(bootstrap=bootstrap), client_id)
    sends = producer.batch()
    for message in messages:
        sends.send(topic, message.camera_id, message)
    if sends.settle().dead_lettered:
        raise RuntimeError("test detections were refused by the broker")
    producer.close()


def read_messages(bootstrap: str, topic: str, message_type: type[Message], want: int,
                  timeout_s: float = 60.0) -> list:
    """Every message of ``topic`` from the start: until ``want`` came (or the timeout), then one more
    second, so a duplicate shows up too."""
    from kafka import KafkaConsumer

    from storesight.contracts import decode
    from storesight.kafka_clients import client_kwargs

    consumer = KafkaConsumer(topic, **client_kwargs(bootstrap, "storesight-test-reader"), auto_offset_reset="earliest",
                             fetch_max_wait_ms=10, group_id=None, consumer_timeout_ms=500)
    got: list = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(got) < want and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=300).values():
                got.extend(decode(message_type, r.value) for r in batch)
        time.sleep(1.0)
        for batch in consumer.poll(timeout_ms=500).values():
            got.extend(decode(message_type, r.value) for r in batch)
    finally:
        consumer.close()
    return got
