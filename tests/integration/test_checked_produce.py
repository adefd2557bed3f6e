"""A produce the broker rejects is never lost and never committed past (storesight.bus.PendingSends).

The aggregate worker runs on the real embedded broker (behind tests.support.kafka_proxy, which
enforces the ZoneStats topic's max.message.bytes as Kafka does: the embedded broker stores the
setting but accepts any size) and real Redis, on the scripted stream of test_aggregate_service.
- The limit stays: every ZoneStats is refused, retried, then lands in ``<topic>.dlq`` with the
  broker's reason and the input's coordinates, counted; the inputs are committed only after that;
  every window the core closes is in the DLQ exactly once.
- The limit is lifted while the worker retries: the input offsets are not committed past the
  record that closed the window while it is refused; afterwards every window is in the topic
  exactly once and the DLQ is empty.
"""

from __future__ import annotations

import threading
import time
import uuid

import pytest
import redis
from kafka import KafkaConsumer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from prometheus_client import REGISTRY

from services.aggregate.service import AggregateWorker
from storesight.bus import DLQ_REASON_HEADER, DLQ_SOURCE_HEADER, SendRetry
from storesight.config import load_config
from storesight.contracts import CameraHealth, Detections, ZoneStats, decode
from storesight.topics import DAY_MS, Topic, dlq_topic
from tests.integration.test_aggregate_service import T0, expected_from_core, scripted_stream, write_config
from tests.support.bus import send_detections
from tests.support.kafka_proxy import ProxiedBroker

LIMIT = 64  # bytes per record batch: below any ZoneStats batch


@pytest.fixture(scope="module")
def proxied():
    with ProxiedBroker() as broker:
        yield broker


@pytest.fixture()
def world(proxied, redis_url, tmp_path):
    tag = uuid.uuid4().hex[:8]
    detections = Topic(f"t{tag}.detections", Detections, partitions=1, retention_ms=DAY_MS)
    health = Topic(f"t{tag}.health", CameraHealth, partitions=1, retention_ms=DAY_MS)
    stats = Topic(f"t{tag}.zone-stats", ZoneStats, partitions=1, retention_ms=DAY_MS, max_message_bytes=LIMIT,
                  key="store_id/zone_id")
    admin = KafkaAdminClient(bootstrap_servers=proxied.bootstrap)
    admin.create_topics([NewTopic(t.name, t.partitions, 1, topic_configs=t.configs())
                         for t in (detections, health, stats, dlq_topic(stats))])
    admin.close()
    proxied.proxy.limits[stats.name] = LIMIT
    config = load_config(write_config(tmp_path / "aggregate.yaml", proxied.bootstrap))
    prefix = f"storesight:test-{tag}:"
    yield proxied, config, detections, health, stats, prefix, f"agg-{tag}"
    proxied.proxy.limits.pop(stats.name, None)
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
    client.close()


def read_all(bootstrap: str, topic: str) -> list:
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None,
                             fetch_max_wait_ms=10)
    out = []
    try:
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=300).values():
                out.extend(batch)
    finally:
        consumer.close()
    return out


def committed(bootstrap: str, group: str, topic: str) -> int:
    """The group's committed offset of partition 0 (read without joining the group)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        return consumer.committed(TopicPartition(topic, 0)) or 0
    finally:
        consumer.close()


def windows(records) -> list[tuple[str, float]]:
    return [(s.zone_id, s.window_start.seconds - T0) for s in (decode(ZoneStats, r.value) for r in records)]


def run_until(worker: AggregateWorker, done, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < deadline, "the worker did not finish in time"
        worker.step(timeout_ms=100)


def dlq_count(topic: str) -> float:
    return REGISTRY.get_sample_value("storesight_dlq_messages_total", {"topic": topic}) or 0.0


def test_refused_zone_stats_go_to_the_dlq_with_the_reason_before_the_commit(world):
    broker, config, detections, health, stats, prefix, group = world
    msgs = scripted_stream(30.0)
    expected = sorted((z, s - T0) for z, s in expected_from_core(config, msgs))
    dlq_before = dlq_count(stats.name)
    worker = AggregateWorker(config, group=group, redis_prefix=prefix, detections=detections, health=health,
                             stats=stats, send_retry=SendRetry(attempts=3, initial_s=0.1))
    worker.open()
    try:
        send_detections(broker.bootstrap, msgs, topic=detections)
        run_until(worker, lambda: committed(broker.bootstrap, group, detections.name) >= len(msgs))
    finally:
        worker.close()
    assert broker.proxy.rejected, "the broker side refused nothing: the test is not testing anything"
    assert read_all(broker.bootstrap, stats.name) == []
    dead = read_all(broker.bootstrap, stats.dlq)
    assert sorted(windows(dead)) == expected  # every window once: none lost, none twice
    for record in dead:
        headers = dict(record.headers)
        assert b"MessageSizeTooLarge" in headers[DLQ_REASON_HEADER]
        assert headers[DLQ_SOURCE_HEADER].startswith(detections.name.encode() + b"/0/")
    assert dlq_count(stats.name) - dlq_before == len(expected)


def test_inputs_stay_uncommitted_while_a_refused_window_is_retried(world):
    broker, config, detections, health, stats, prefix, group = world
    msgs = scripted_stream(30.0)
    expected = sorted((z, s - T0) for z, s in expected_from_core(config, msgs))
    # The first record that can close window 0 (its end, 5 s, plus 1 s of lateness).
    closing = next(i for i, m in enumerate(msgs) if m.capture_time.seconds + m.capture_time.nanos / 1e9 >= T0 + 6.0)
    seen: dict[str, int] = {}

    def lift_limit_after_refusals() -> None:
        deadline = time.monotonic() + 60
        while not broker.proxy.rejected and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)  # the worker is in its backoff now
        seen["committed"] = committed(broker.bootstrap, group, detections.name)
        seen["refused"] = len(broker.proxy.rejected)
        broker.proxy.limits.pop(stats.name, None)

    broker.proxy.rejected.clear()
    worker = AggregateWorker(config, group=group, redis_prefix=prefix, detections=detections, health=health,
                             stats=stats, send_retry=SendRetry(attempts=6, initial_s=1.0))
    worker.open()
    lifter = threading.Thread(target=lift_limit_after_refusals, daemon=True)
    lifter.start()
    try:
        send_detections(broker.bootstrap, msgs, topic=detections)
        run_until(worker, lambda: committed(broker.bootstrap, group, detections.name) >= len(msgs))
    finally:
        worker.close()
        lifter.join(5)
    assert seen["refused"] > 0
    assert seen["committed"] <= closing, "inputs were committed while their window was refused"
    assert sorted(windows(read_all(broker.bootstrap, stats.name))) == expected
    assert read_all(broker.bootstrap, stats.dlq) == []
