"""Typed Kafka producer and consumer for the protobuf contracts (kafka-python).

The settings here are right on a real Kafka cluster and also work on the embedded broker:
manual commits after processing (at-least-once), short session timeout, low fetch wait,
large message limits for frames. Messages that cannot be decoded go to ``<topic>.dlq``
with the reason in a header and are counted; they never stop the consumer.

Checked produces: a service sends a batch's outputs through ``TypedProducer.batch()`` and calls
``settle()`` before it commits the inputs. ``settle`` waits for every broker acknowledgement;
a send that failed is retried with backoff (on a fresh producer: an idempotent producer can stay
wedged after a rejected batch), and one that still fails goes to ``<topic>.dlq`` with the reason
and its input's coordinates in headers, counted. Only when the DLQ copy is acknowledged too does
``settle`` return; otherwise it raises ``DeliveryFailed`` and the caller must not commit.

    sends = producer.batch()
    sends.send(DETECTIONS, "cam-1", message, source="storesight.frames/0/41")
    report = sends.settle()          # raises DeliveryFailed: do not commit
    consumer.commit_offsets(...)     # every output is in its topic or in its DLQ
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
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
PRODUCE_FAILURES = Counter("storesight_produce_failures_total",
                           "Produces the broker did not acknowledge, by what happened next", ["topic", "outcome"])
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
        # No duplicates from the client's own retries where the broker supports it (Kafka >= 0.11,
        # the embedded broker too); PendingSends.settle renews a producer a rejection wedged.
        "enable_idempotence": True,
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
        self._config = producer_config(settings, client_id)
        self._producer = KafkaProducer(**self._config)

    def send(self, topic: Topic | str, key: str, message: Message | bytes,
             headers: list[tuple[str, bytes]] | None = None):
        """Queue one message; returns kafka-python's future (``get()`` raises what the broker said)."""
        name = topic if isinstance(topic, str) else topic.name
        value = message if isinstance(message, bytes) else message.SerializeToString()
        future = self._producer.send(name, key=key.encode(), value=value, headers=headers or [])
        PRODUCED.labels(name).inc()
        return future

    def batch(self, retry: SendRetry | None = None) -> PendingSends:
        """Collect one batch's sends, to ``settle()`` before committing the inputs."""
        return PendingSends(self, retry or SendRetry())

    def renew(self) -> None:
        """Replace the client (a new producer id): after a rejected batch an idempotent producer
        may fail every later send to that partition on brokers without KIP-360 epoch bumps."""
        old, self._producer = self._producer, KafkaProducer(**self._config)
        try:
            old.close(1.0)
        except Exception as exc:  # noqa: BLE001 - a wedged client: its sends are settled already
            log.warning("old producer did not close cleanly", extra={"error": type(exc).__name__})

    def flush(self, timeout: float | None = 30.0) -> None:
        """Wait for queued sends; it does NOT report failures (use ``batch().settle()`` for that)."""
        self._producer.flush(timeout)

    def close(self, timeout: float = 10.0) -> None:
        self._producer.close(timeout)


@dataclass(frozen=True)
class SendRetry:
    """How often a failed produce is sent again before its message goes to the DLQ."""

    attempts: int = 4  # sends in all, the first included
    initial_s: float = 0.5
    factor: float = 2.0
    timeout_s: float = 60.0  # per wait for acknowledgements

    def delays(self) -> list[float]:
        return [self.initial_s * self.factor ** i for i in range(max(0, self.attempts - 1))]


class DeliveryFailed(RuntimeError):
    """Outputs that are neither in their topic nor in its DLQ: the inputs must not be committed."""


@dataclass
class _Send:
    topic: str
    key: str
    value: bytes
    headers: list[tuple[str, bytes]]
    source: str
    future: object = None
    error: str | None = None


@dataclass
class SettleReport:
    sent: int = 0
    retried: int = 0
    dead_lettered: list[tuple[str, str, str]] = field(default_factory=list)  # (topic, source, reason)


class PendingSends:
    """The produces of one batch and their futures; ``settle()`` makes each one land somewhere."""

    def __init__(self, producer: TypedProducer, retry: SendRetry):
        self._producer = producer
        self._retry = retry
        self._sends: list[_Send] = []

    def __len__(self) -> int:
        return len(self._sends)

    def send(self, topic: Topic | str, key: str, message: Message | bytes,
             headers: list[tuple[str, bytes]] | None = None, source: str = "") -> None:
        """Queue a message; ``source`` names the input it came from (``topic/partition/offset``)."""
        name = topic if isinstance(topic, str) else topic.name
        value = message if isinstance(message, bytes) else message.SerializeToString()
        item = _Send(name, key, value, list(headers or []), source)
        self._sends.append(item)
        self._submit(item)

    def _submit(self, item: _Send) -> None:
        item.error = None
        try:
            item.future = self._producer.send(item.topic, item.key, item.value, item.headers)
        except Exception as exc:  # noqa: BLE001 - a full buffer, no metadata, too large: a failed send
            item.future, item.error = None, _reason(exc)

    def _wait(self, items: list[_Send]) -> list[_Send]:
        """Resolve every future; return the items that failed (with ``error`` set)."""
        deadline = time.monotonic() + self._retry.timeout_s
        failed = []
        for item in items:
            if item.future is not None:
                try:
                    item.future.get(max(0.1, deadline - time.monotonic()))
                except Exception as exc:  # noqa: BLE001 - whatever the broker or client said
                    item.error = _reason(exc)
            if item.error is not None:
                failed.append(item)
        return failed

    def settle(self) -> SettleReport:
        """Wait for all; retry failures with backoff; dead-letter what still fails. Raises
        ``DeliveryFailed`` when a DLQ copy is not acknowledged either (commit nothing then)."""
        report = SettleReport(sent=len(self._sends))
        failed = self._wait(self._sends)
        for delay in self._retry.delays():
            if not failed:
                break
            for item in failed:
                PRODUCE_FAILURES.labels(item.topic, "retried").inc()
                log.warning("produce not acknowledged: retrying", extra={
                    "topic": item.topic, "source": item.source, "reason": item.error, "delay_s": delay})
            report.retried += len(failed)
            time.sleep(delay)
            self._producer.renew()
            for item in failed:
                self._submit(item)
            failed = self._wait(failed)
        if failed:
            self._dead_letter(failed, report)
        self._sends = []
        return report

    def _dead_letter(self, failed: list[_Send], report: SettleReport) -> None:
        if any(item.topic.endswith(".dlq") for item in failed):
            raise DeliveryFailed(f"dead-letter copies not acknowledged: {failed[0].topic} {failed[0].error}")
        self._producer.renew()
        copies = []
        for item in failed:
            headers = [(DLQ_REASON_HEADER, item.error.encode()), (DLQ_SOURCE_HEADER, item.source.encode())]
            copy = _Send(f"{item.topic}.dlq", item.key, item.value, headers, item.source)
            self._submit(copy)
            copies.append((item, copy))
        lost = self._wait([copy for _, copy in copies])
        if lost:
            raise DeliveryFailed(f"{len(lost)} produce(s) failed and their DLQ copies too: "
                                 f"{lost[0].topic} {lost[0].error}")
        for item, _ in copies:
            log.warning("produce failed after retries: message sent to DLQ", extra={
                "topic": item.topic, "source": item.source, "reason": item.error})
            PRODUCE_FAILURES.labels(item.topic, "dead_lettered").inc()
            DLQ_MESSAGES.labels(item.topic).inc()
            report.dead_lettered.append((item.topic, item.source, item.error))


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]


def source_of(record: Record) -> str:
    """An input's coordinates, as the DLQ source header carries them."""
    return f"{record.topic}/{record.partition}/{record.offset}"


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
        dead = self._dlq.batch()
        for tp, messages in batches.items():
            topic = self._topics[tp.topic]
            decoded = 0
            for m in messages:
                try:
                    value = decode(topic.message_type, m.value)
                except MalformedMessage as exc:
                    self._dead_letter(dead, topic, m, str(exc))
                    continue
                decoded += 1
                records.append(Record(tp.topic, tp.partition, m.offset,
                                      (m.key or b"").decode("utf-8", "replace"), value, m.timestamp))
            if decoded:
                CONSUMED.labels(topic.name).inc(decoded)  # once per batch: cheap at high rates
        if len(dead):
            # The DLQ copy must be acknowledged before the offset that skips the original is
            # committed: settle() raises (and nothing is committed) when it is not.
            dead.settle()
        self._export_lag()
        return records

    def _export_lag(self) -> None:
        for tp in self._consumer.assignment():
            end = self._consumer.highwater(tp)
            if end is not None:
                lag = max(0, end - self._consumer.position(tp))
                CONSUMER_LAG.labels(self._group, tp.topic, str(tp.partition)).set(lag)

    def _dead_letter(self, dead: PendingSends, topic: Topic, m, reason: str) -> None:
        source = f"{topic.name}/{m.partition}/{m.offset}"
        log.warning("message sent to DLQ", extra={"topic": topic.name, "source": source, "reason": reason})
        headers = [(DLQ_REASON_HEADER, reason.encode()), (DLQ_SOURCE_HEADER, source.encode())]
        dead.send(BY_NAME[topic.dlq], (m.key or b"").decode("utf-8", "replace"), m.value or b"", headers, source)
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
