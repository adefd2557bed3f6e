"""The service on the real embedded broker: two replicas in one group, and a replica killed
between sending an SMS and recording it."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import pytest
import requests
from kafka import KafkaConsumer

from services.alerts.ledger import Ledger
from services.alerts.service import run
from storesight.broker import free_port
from storesight.bus import TypedProducer
from storesight.config import parse_config
from storesight.contracts import AlertEvent, CameraHealth, Delivery, ZoneStats
from storesight.kafka_clients import client_kwargs
from storesight.service import ServiceRunner
from storesight.topics import Topic, ensure_topics
from tests.integration.alerts.conftest import PHONE, SECRET_ENV, T0, config_dict, rule, store, zone_stats
from tests.support.servers import REPO


def own_topics(uid: str) -> tuple[Topic, Topic, Topic, Topic]:
    zs = Topic(f"t.alerts.{uid}.zone-stats", ZoneStats, partitions=2, retention_ms=600_000, key="store_id/zone_id")
    health = Topic(f"t.alerts.{uid}.health", CameraHealth, partitions=2, retention_ms=600_000)
    alerts = Topic(f"t.alerts.{uid}.alerts", AlertEvent, partitions=2, retention_ms=600_000, key="store_id")
    dlq = Topic(alerts.dlq, None, partitions=1, retention_ms=600_000, key="store_id")
    return zs, health, alerts, dlq


def stores_on_both_partitions(partitions: int) -> list[str]:
    """Two stores per partition, by the producer's own key hash (murmur2, as on real Kafka)."""
    from kafka.partitioner.default import murmur2

    picked: dict[int, list[str]] = {p: [] for p in range(partitions)}
    for i in range(1, 100):
        sid = f"shop-{i}"
        part = (murmur2(f"{sid}/till-queue".encode()) & 0x7FFFFFFF) % partitions
        if len(picked[part]) < 2:
            picked[part].append(sid)
    return sorted(s for ids in picked.values() for s in ids)


def produce_windows(kafka_settings, topic: Topic, store_ids: list[str], values: list[float]) -> None:
    producer = TypedProducer(kafka_settings, "test-alerts")
    for i, value in enumerate(values):
        for sid in store_ids:
            producer.send(topic, f"{sid}/till-queue", zone_stats(T0 + dt.timedelta(seconds=10 * i), value,
                                                                 store_id=sid))
    producer.flush()
    producer.close()


def read_events(bootstrap: str, topic: Topic, want_firing: int, timeout_s: float = 30) -> list[AlertEvent]:
    consumer = KafkaConsumer(topic.name, **client_kwargs(bootstrap, "storesight-test-reader"), auto_offset_reset="earliest",
                             group_id=None, consumer_timeout_ms=500, fetch_max_wait_ms=10)
    events: list[AlertEvent] = []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            events += [AlertEvent.FromString(m.value) for m in consumer]
            if len({e.incident_id for e in events if e.to_state == AlertEvent.STATE_FIRING}) >= want_firing:
                break
    finally:
        consumer.close()
    return events


def test_two_replicas_on_one_stream_send_one_sms_per_incident(broker, kafka_settings, twilio, redis_url,
                                                              key_prefix, monkeypatch):
    for name, value in SECRET_ENV.items():
        monkeypatch.setenv(name, value)
    uid = uuid.uuid4().hex[:8]
    zs, health, alerts, dlq = own_topics(uid)
    ensure_topics(broker.bootstrap, (zs, health, alerts, dlq))
    store_ids = stores_on_both_partitions(zs.partitions)
    stores = [store(s, [rule(for_s=30, channels=["sms"])]) for s in store_ids]
    data = config_dict(stores, twilio)
    data["pipeline"]["kafka"] = {"bootstrap": broker.bootstrap}
    config = parse_config(data)

    runners, threads = [], []
    for replica in ("alerts-a", "alerts-b"):
        runner = ServiceRunner("alerts", port=0, host="127.0.0.1", install_signals=False)
        runner.serve_http()
        thread = threading.Thread(target=run, args=(config,), kwargs=dict(
            replica_id=replica, runner=runner, group=f"g-alerts-{uid}", zone_topic=zs, health_topic=health,
            alerts_topic=alerts, dlq_topic=dlq, key_prefix=key_prefix, redis_url=redis_url), daemon=True)
        thread.start()
        runners.append(runner)
        threads.append(thread)
    try:
        time.sleep(5)  # let both replicas join the group (about half the session timeout)
        produce_windows(kafka_settings, zs, store_ids, [6, 6, 6, 6, 7])
        assert twilio.wait_for(4, 60)
        events = read_events(broker.bootstrap, alerts, want_firing=4)
        time.sleep(1.0)  # give a would-be duplicate time to arrive
        metrics = requests.get(f"http://127.0.0.1:{runners[0].port}/metrics", timeout=5).text
    finally:
        for runner in runners:
            runner.stopping.set()
        for thread in threads:
            thread.join(30)
        for runner in runners:
            runner.close()
    assert sorted(m["body"].split("\n")[1].split(" /")[0] for m in twilio.messages) == \
        sorted(s.replace("-", " ").title() for s in store_ids)
    ledger = Ledger.from_url(redis_url, prefix=key_prefix)
    senders = {ledger.r.hget(k, "by").split("/")[0] for k in ledger.r.scan_iter(key_prefix + "tx:*")}
    assert senders == {"alerts-a", "alerts-b"}  # the group split the stores between the replicas
    firing = {e.incident_id: e for e in events if e.to_state == AlertEvent.STATE_FIRING}
    assert len(firing) == 4
    assert all(e.deliveries[0].status == Delivery.STATUS_SENT for e in firing.values())
    assert not any(t.is_alive() for t in threads)
    for line in ('storesight_alerts_notifications_total{channel="sms",status="sent"}',
                 'storesight_alerts_incidents{state="firing"}', 'storesight_alerts_delivery_seconds_bucket'):
        assert line in metrics, line


@pytest.fixture()
def service_proc(tmp_path, broker, redis_url, key_prefix):
    """Starts ``python -m services.alerts`` processes; kills leftovers at the end."""
    procs: list[subprocess.Popen] = []

    def start(config: dict, replica_id: str, topics, group: str) -> subprocess.Popen:
        path = tmp_path / "alerts.yaml"
        path.write_text(json.dumps(config))
        zs, health, alerts, _ = topics
        env = dict(os.environ, **SECRET_ENV, KAFKA_BOOTSTRAP=broker.bootstrap, REDIS_URL=redis_url,
                   STORESIGHT_HTTP_PORT=str(free_port()), LOG_LEVEL="INFO")
        proc = subprocess.Popen([sys.executable, "-m", "services.alerts", "--config", str(path),
                                 "--replica-id", replica_id, "--group", group, "--zone-stats-topic", zs.name,
                                 "--health-topic", health.name, "--alerts-topic", alerts.name,
                                 "--key-prefix", key_prefix], cwd=REPO, env=env,
                                stdout=subprocess.DEVNULL, stderr=tmp_path.joinpath(f"{replica_id}.log").open("ab"))
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_replica_killed_between_sending_and_recording_sends_at_most_one_duplicate(
        broker, kafka_settings, twilio, redis_url, key_prefix, service_proc, tmp_path):
    uid = uuid.uuid4().hex[:8]
    topics = own_topics(uid)
    ensure_topics(broker.bootstrap, topics)
    config = config_dict([store("shop-1", [rule(for_s=30, channels=["sms"])])], twilio)
    group = f"g-alerts-kill-{uid}"

    twilio.hold()  # Twilio accepts the message but the reply never reaches the first replica
    first = service_proc(config, "alerts-0", topics, group)
    produce_windows(kafka_settings, topics[0], ["shop-1"], [6, 6, 6, 6])
    assert twilio.wait_for(1, 60), "the first replica never sent"
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    twilio.release()

    ledger = Ledger.from_url(redis_url, prefix=key_prefix)
    (tx_key,) = [k for k in ledger.r.scan_iter(key_prefix + "tx:*")]
    record = ledger.r.hgetall(tx_key)
    assert any(k.startswith("i:") for k in record) and not any(k.startswith("d:") for k in record)
    assert "done" not in record  # an intent, no outcome: the crash window

    second = service_proc(config, "alerts-0", topics, group)  # the same pod, restarted
    assert twilio.wait_for(2, 60), "the restarted replica lost the notification"
    deadline = time.monotonic() + 30
    while "done" not in ledger.r.hgetall(tx_key) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)
    assert len(twilio.messages) == 2  # exactly one duplicate, none lost
    record = ledger.r.hgetall(tx_key)
    (result,) = [json.loads(v) for k, v in record.items() if k.startswith("d:")]
    assert result["status"] == "sent" and result["provider_id"] == twilio.messages[1]["sid"]

    second.send_signal(signal.SIGTERM)  # graceful: finish, commit, close
    assert second.wait(30) == 0
    logs = (tmp_path / "alerts-0.log").read_text()
    assert "notification sent" in logs and "+155***0123" in logs
    for secret in (PHONE, SECRET_ENV["TWILIO_AUTH_TOKEN"], SECRET_ENV["ACK_SECRET"]):
        assert secret not in logs  # contacts masked, secrets never logged
