"""Typed Kafka producer and consumer for the protobuf contracts (kafka-python).

The settings here are right on a real Kafka cluster and also work on the embedded broker:
manual commits after processing (at-least-once), short session timeout, low fetch wait,
large message limits for frames. Messages that cannot be decoded go to ``<topic>.dlq``
with the reason in a header and are counted; they never stop the consumer.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import NamedTuple

from google.protobuf.message import Message
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata
from prometheus_client import Counter, Gauge

from storesight import kafka_clients
from storesight.config import KafkaSettings
from storesight.contracts import MalformedMessage, decode
from storesight.topics import BY_NAME, Topic

log = logging.getLogger(__name__)

DLQ_REASON_HEADER = "storesight-dlq-reason"
DLQ_SOURCE_HEADER = "storesight-dlq-source"

DLQ_MESSAGES = Counter("storesight_dlq_messages_total", "Messages sent to a dead-letter topic",
                       ["topic"])
CONSUMED = Counter("storesight_consumed_messages_total", "Messages consumed and decoded", ["topic"])
PRODUCED = Counter("storesight_produced_messages_total", "Messages produced", ["topic"])
CONSUMER_LAG = Gauge("storesight_consumer_lag_messages", "Messages behind the partition's end",
                     ["group", "topic", "partition"])


def bootstrap_from_env(settings: KafkaSettings) -> str:
    """KAFKA_BOOTSTRAP overrides the configured address (how production points at a cluster)."""
    return kafka_clients.bootstrap(settings)


def producer_config(settings: KafkaSettings, client_id: str) -> dict:
    """Producer keywords: the shared address and security (storesight.kafka_clients) plus delivery."""
    return {
        **kafka_clients.client_kwargs(settings, client_id),
        "acks": "all",
        "linger_ms": 2,
        "retries": 10,
        "max_request_size": settings.max_request_bytes,
        "request_timeout_ms": 30000,
    }


def consumer_config(settings: KafkaSettings, group: str, client_id: str) -> dict:
    """Consumer keywords: the shared address and security plus manual commits and fetch sizes."""
    return {
        **kafka_clients.client_kwargs(settings, client_id),
        "group_id": group,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "session_timeout_ms": settings.session_timeout_ms,
        "heartbeat_interval_ms": settings.heartbeat_interval_ms,
        "fetch_max_wait_ms": settings.fetch_max_wait_ms,
        "max_partition_fetch_bytes": settings.max_request_bytes,
        "fetch_max_bytes": settings.max_request_bytes,
        "request_timeout_ms": 30000,
    }


class TypedProducer:
    """Publishes protobuf messages to registered topics, keyed as the registry says."""

    def __init__(self, settings: KafkaSettings, client_id: str):
        kafka_clients.preflight(settings)  # a wrong CA or password: StartupError now, not retries
        self._producer = KafkaProducer(**producer_config(settings, client_id))

    def send(self, topic: Topic, key: str, message: Message | bytes,
             headers: list[tuple[str, bytes]] | None = None):
        value = message if isinstance(message, bytes) else message.SerializeToString()
        future = self._producer.send(topic.name, key=key.encode(), value=value, headers=headers or [])
        PRODUCED.labels(topic.name).inc()
        return future

    def flush(self, timeout: float | None = 30.0) -> None:
        self._producer.flush(timeout)

    def close(self, timeout: float = 10.0) -> None:
        self._producer.close(timeout)


class Record(NamedTuple):
    """One decoded message and where it came from (a tuple: built per message, so cheap)."""

    topic: str
    partition: int
    offset: int
    key: str
    value: Message
    timestamp_ms: int


class TypedConsumer:
    """Consumes registered topics in a consumer group and yields decoded, validated records.

    Offsets are committed only by ``commit()``, after the caller has processed (and, for
    outputs, flushed) what it got: a crash re-delivers, it never loses acknowledged data.
    """

    def __init__(self, settings: KafkaSettings, topics: Iterable[Topic], group: str, client_id: str,
                 dlq_producer: TypedProducer | None = None, listener=None):
        self._topics = {t.name: t for t in topics}
        kafka_clients.preflight(settings)
        self._consumer = KafkaConsumer(*self._topics, **consumer_config(settings, group, client_id))
        if listener is not None:
            # A kafka.ConsumerRebalanceListener: a stateful consumer restores state on assignment.
            self._consumer.subscribe(list(self._topics), listener=listener)
        self._dlq = dlq_producer or TypedProducer(settings, f"{client_id}-dlq")
        self._owns_dlq = dlq_producer is None
        self._group = group
        self.dead_lettered = 0
        for name in self._topics:
            # Label sets exist (at 0) from the start, so dashboards and alert rules see
            # "no messages yet" as 0 rather than as missing data.
            CONSUMED.labels(name)
            DLQ_MESSAGES.labels(name)

    def poll(self, timeout_ms: int = 500, max_records: int = 500) -> list[Record]:
        batches = self._consumer.poll(timeout_ms=timeout_ms, max_records=max_records)
        records: list[Record] = []
        dead = False
        for tp, messages in batches.items():
            topic = self._topics[tp.topic]
            decoded = 0
            for m in messages:
                try:
                    value = decode(topic.message_type, m.value)
                except MalformedMessage as exc:
                    self._dead_letter(topic, m, str(exc))
                    dead = True
                    continue
                decoded += 1
                records.append(Record(tp.topic, tp.partition, m.offset,
                                      (m.key or b"").decode("utf-8", "replace"), value, m.timestamp))
            if decoded:
                CONSUMED.labels(topic.name).inc(decoded)  # once per batch: cheap at high rates
        if dead:
            # The DLQ copy must be durable before the offset that skips the original is committed.
            self._dlq.flush()
        self._export_lag()
        return records

    def _export_lag(self) -> None:
        for tp in self._consumer.assignment():
            end = self._consumer.highwater(tp)
            if end is not None:
                lag = max(0, end - self._consumer.position(tp))
                CONSUMER_LAG.labels(self._group, tp.topic, str(tp.partition)).set(lag)

    def _dead_letter(self, topic: Topic, m, reason: str) -> None:
        source = f"{topic.name}/{m.partition}/{m.offset}"
        log.warning("message sent to DLQ", extra={"topic": topic.name, "source": source, "reason": reason})
        headers = [(DLQ_REASON_HEADER, reason.encode()), (DLQ_SOURCE_HEADER, source.encode())]
        self._dlq.send(BY_NAME[topic.dlq], (m.key or b"").decode("utf-8", "replace"), m.value or b"", headers)
        DLQ_MESSAGES.labels(topic.name).inc()
        self.dead_lettered += 1

    def commit(self) -> None:
        self._consumer.commit()

    def commit_offsets(self, offsets: dict[tuple[str, int], int]) -> None:
        """Commit explicit next-offsets per (topic, partition)."""
        self._consumer.commit({TopicPartition(t, p): OffsetAndMetadata(o, "", -1) for (t, p), o in offsets.items()})

    def seek(self, topic: str, partition: int, offset: int) -> None:
        """Read an assigned partition from ``offset`` next (e.g. a checkpoint's position)."""
        self._consumer.seek(TopicPartition(topic, partition), offset)

    def assignment(self) -> set:
        return self._consumer.assignment()

    def close(self) -> None:
        self._consumer.close(autocommit=False)
        if self._owns_dlq:
            self._dlq.close()
