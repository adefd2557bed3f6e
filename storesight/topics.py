"""The topic registry: every topic's name, partitions, retention and size limit, in one place.

Topics are created by ``storesight topics ensure`` (idempotent), never left to broker
auto-creation. Each data topic has a ``<name>.dlq`` twin for messages that cannot be decoded.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from google.protobuf.message import Message

from storesight.config import KafkaSettings
from storesight.kafka_clients import admin_client
from storesight.v1 import alert_pb2, detections_pb2, frame_pb2, health_pb2, store_stats_pb2, zone_stats_pb2

log = logging.getLogger(__name__)

MINUTE_MS = 60_000
DAY_MS = 24 * 60 * MINUTE_MS


@dataclass(frozen=True)
class Topic:
    name: str
    message_type: type[Message] | None
    partitions: int
    retention_ms: int
    max_message_bytes: int = 1024 * 1024
    key: str = "camera_id"

    @property
    def dlq(self) -> str:
        return f"{self.name}.dlq"

    def configs(self) -> dict[str, str]:
        return {
            "retention.ms": str(self.retention_ms),
            "max.message.bytes": str(self.max_message_bytes),
            "cleanup.policy": "delete",
        }


# Frames are the only topic with pixels: a minute of retention bounds how long any image exists.
FRAMES = Topic("storesight.frames", frame_pb2.Frame, partitions=4, retention_ms=MINUTE_MS,
               max_message_bytes=16 * 1024 * 1024)
DETECTIONS = Topic("storesight.detections", detections_pb2.Detections, partitions=4, retention_ms=DAY_MS)
CAMERA_HEALTH = Topic("storesight.camera-health", health_pb2.CameraHealth, partitions=4, retention_ms=DAY_MS)
ZONE_STATS = Topic("storesight.zone-stats", zone_stats_pb2.ZoneStats, partitions=2, retention_ms=7 * DAY_MS,
                   key="store_id/zone_id")
# One record per store and window, from the store's entrance lines (occupancy, footfall).
STORE_STATS = Topic("storesight.store-stats", store_stats_pb2.StoreStats, partitions=2, retention_ms=7 * DAY_MS,
                    key="store_id")
ALERTS = Topic("storesight.alerts", alert_pb2.AlertEvent, partitions=2, retention_ms=30 * DAY_MS, key="store_id")

DATA_TOPICS: tuple[Topic, ...] = (FRAMES, DETECTIONS, CAMERA_HEALTH, ZONE_STATS, ALERTS, STORE_STATS)


def dlq_topic(topic: Topic) -> Topic:
    return Topic(topic.dlq, None, partitions=1, retention_ms=14 * DAY_MS,
                 max_message_bytes=topic.max_message_bytes, key=topic.key)


ALL_TOPICS: tuple[Topic, ...] = DATA_TOPICS + tuple(dlq_topic(t) for t in DATA_TOPICS)
BY_NAME: dict[str, Topic] = {t.name: t for t in ALL_TOPICS}


def topic_ids(kafka: KafkaSettings | str, names: list[str]) -> dict[str, str]:
    """Kafka's id of each topic (a new one when a topic is recreated or lives on another broker).

    ``kafka``: the pipeline's settings (address and security), or a plaintext ``host:port``."""
    admin = admin_client(kafka, "storesight-topic-ids")
    try:
        return {t["name"]: str(t.get("topic_id") or "") for t in admin.describe_topics(names) if not t.get("error_code")}
    finally:
        admin.close()


def ensure_topics(kafka: KafkaSettings | str, topics: tuple[Topic, ...] = ALL_TOPICS) -> dict[str, str]:
    """Create missing topics and grow partitions where needed; return name -> what was done.

    Running it twice is safe: existing topics with enough partitions are left alone.
    ``kafka``: the pipeline's settings (address and security), or a plaintext ``host:port``.
    """
    from kafka.admin import NewPartitions, NewTopic

    admin = admin_client(kafka, "storesight-topics")
    try:
        existing = {t["name"]: len(t["partitions"]) for t in admin.describe_topics()
                    if not t.get("error_code")}
        result: dict[str, str] = {}
        missing = [t for t in topics if t.name not in existing]
        if missing:
            admin.create_topics([NewTopic(t.name, t.partitions, 1, topic_configs=t.configs()) for t in missing])
            result.update({t.name: "created" for t in missing})
        for topic in topics:
            have = existing.get(topic.name)
            if have is None:
                continue
            if have < topic.partitions:
                admin.create_partitions({topic.name: NewPartitions(topic.partitions)})
                result[topic.name] = f"partitions {have} -> {topic.partitions}"
            else:
                result[topic.name] = "exists"
        return result
    finally:
        admin.close()
