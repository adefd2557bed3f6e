"""Loading a topic with detections for tests and benchmarks (one producer, flushed, closed)."""

from __future__ import annotations

from collections.abc import Iterable

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
