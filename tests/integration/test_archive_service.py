"""The archive service end to end: real embedded broker -> Archive -> real PostgreSQL."""

from __future__ import annotations

import time
import uuid

import pytest

from services.archive.service import Archive
from storesight.bus import TypedProducer
from storesight.contracts import AlertEvent, ZoneStats, to_timestamp
from storesight.topics import Topic, ensure_topics
from tests.integration.archive_fixture import EAST, FIXTURE, at, door, drop_schema, fresh_schema
from tests.integration.test_archive_store import snapshot


@pytest.fixture()
def topics(broker):
    """Topics of the test's own, typed like the real zone-stats and alerts topics."""
    suffix = uuid.uuid4().hex[:6]
    zs = Topic(f"t.archive.zs.{suffix}", ZoneStats, partitions=2, retention_ms=60_000, key="store_id/zone_id")
    alerts = Topic(f"t.archive.alerts.{suffix}", AlertEvent, partitions=1, retention_ms=60_000, key="store_id")
    ensure_topics(broker.bootstrap, (zs, alerts))
    return zs, alerts


@pytest.fixture()
def conn(postgres_url):
    conn, name = fresh_schema(postgres_url, "t_service")
    yield conn, name
    drop_schema(conn, name)


def run_until(archive: Archive, want: int, timeout_s: float = 30.0) -> int:
    got = 0
    deadline = time.monotonic() + timeout_s
    while got < want and time.monotonic() < deadline:
        got += archive.step(timeout_ms=200)
    return got


def test_archive_consumes_closed_windows_and_alerts_and_a_replay_changes_nothing(
        broker, topics, conn, postgres_url):
    zs_topic, alert_topic = topics
    db, schema_name = conn
    config = EAST.model_copy(update={"pipeline": EAST.pipeline.model_copy(
        update={"kafka": EAST.pipeline.kafka.model_copy(update={"bootstrap": broker.bootstrap})})})
    producer = TypedProducer(config.pipeline.kafka, "test-archive")
    live = door("2026-11-01T05:30:00Z", 99)
    live.live = True
    messages = [*FIXTURE, FIXTURE[2], live]  # one duplicate, one live record
    for m in messages:
        producer.send(zs_topic, f"{m.store_id}/{m.zone_id}", m)
    event = AlertEvent(event_id="e1", incident_id="i1", rule_id="r1", store_id="ny", to_state=AlertEvent.STATE_FIRING,
                       from_state=AlertEvent.STATE_PENDING, at=to_timestamp(at("2026-11-01T06:40:00Z")))
    producer.send(alert_topic, "ny", event)
    producer.send(alert_topic, "ny", event)
    producer.flush()
    producer.close()

    group = f"g-archive-{uuid.uuid4().hex[:6]}"
    first = Archive(config, postgres_url, schema_name, (zs_topic, alert_topic), group)
    try:
        assert run_until(first, len(messages) + 2) == len(messages) + 2
    finally:
        first.close()
    assert db.execute("SELECT count(*) FROM zone_stats").fetchone() == (len(FIXTURE),)
    assert db.execute("SELECT count(*) FROM alert_events").fetchone() == (1,)
    # The live record (entries 99) was not archived: the window keeps its closed value.
    assert db.execute("""SELECT entries FROM zone_stats WHERE zone_id = 'door' AND store_id = 'ny'
                         AND window_start = '2026-11-01T05:30Z'""").fetchone() == (3,)
    before = snapshot(db)

    # Offsets were committed after the database commit: the same group has nothing left to read.
    again = Archive(config, postgres_url, schema_name, (zs_topic, alert_topic), group)
    try:
        got, deadline = 0, time.monotonic() + 20
        while not again.consumer.assignment() and time.monotonic() < deadline:
            got += again.step(timeout_ms=200)
        assert again.consumer.assignment(), "the group never assigned partitions"
        got += run_until(again, 1, timeout_s=1.5)
        assert got == 0
    finally:
        again.close()

    # A full replay (a new group reads the topics from the start) leaves every table unchanged.
    replay = Archive(config, postgres_url, schema_name, (zs_topic, alert_topic), group + "-replay")
    try:
        assert run_until(replay, len(messages) + 2) == len(messages) + 2
    finally:
        replay.close()
    assert snapshot(db) == before


def test_archive_process_serves_health_and_stops_cleanly_on_sigterm(fresh_broker, postgres_url, tmp_path):
    import os
    import signal
    import subprocess
    import sys

    import requests
    import yaml

    from storesight.broker import free_port
    from tests.support.servers import REPO

    config = tmp_path / "east.yaml"
    config.write_text(yaml.safe_dump(EAST.model_dump(mode="json", exclude_none=True)))
    port = free_port()
    schema_name = f"t_proc_{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "DATABASE_URL": postgres_url, "KAFKA_BOOTSTRAP": fresh_broker.bootstrap,
           "STORESIGHT_HTTP_PORT": str(port)}
    proc = subprocess.Popen([sys.executable, "-m", "services.archive", "--config", str(config),
                             "--schema", schema_name], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline, ready = time.monotonic() + 30, False
        while time.monotonic() < deadline and proc.poll() is None and not ready:
            try:
                ready = requests.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200
            except requests.ConnectionError:
                time.sleep(0.2)
        assert ready, proc.stdout.read() if proc.poll() is not None else "not ready in 30 s"
        assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).text == "ok"
        assert "storesight_archive_records_total" in requests.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        assert '"archive stopped"' in proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        import psycopg

        with psycopg.connect(postgres_url, autocommit=True) as c:
            c.execute(f"DROP SCHEMA IF EXISTS {schema_name} CASCADE")


def test_a_lost_database_connection_is_retried_and_nothing_is_skipped(broker, topics, conn, postgres_url):
    from prometheus_client import REGISTRY

    def db_errors() -> float:
        return REGISTRY.get_sample_value("storesight_archive_db_errors_total") or 0.0

    zs_topic, alert_topic = topics
    db, schema_name = conn
    config = EAST.model_copy(update={"pipeline": EAST.pipeline.model_copy(
        update={"kafka": EAST.pipeline.kafka.model_copy(update={"bootstrap": broker.bootstrap})})})
    producer = TypedProducer(config.pipeline.kafka, "test-archive")
    for m in FIXTURE[:3]:
        producer.send(zs_topic, f"{m.store_id}/{m.zone_id}", m)
    producer.close()
    archive = Archive(config, postgres_url, schema_name, (zs_topic, alert_topic), f"g-lost-{uuid.uuid4().hex[:6]}")
    errors_before = db_errors()
    try:
        # A real fault: the server ends the archive's session before the batch is written.
        db.execute("SELECT pg_terminate_backend(%s)", (archive.conn.info.backend_pid,))
        assert run_until(archive, 3) == 3
    finally:
        archive.close()
    assert db_errors() == errors_before + 1
    assert db.execute("SELECT count(*) FROM zone_stats").fetchone() == (3,)


def test_a_record_the_database_cannot_store_is_counted_and_does_not_block_the_rest(broker, topics, conn, postgres_url):
    from prometheus_client import REGISTRY

    zs_topic, alert_topic = topics
    db, schema_name = conn
    config = EAST.model_copy(update={"pipeline": EAST.pipeline.model_copy(
        update={"kafka": EAST.pipeline.kafka.model_copy(update={"bootstrap": broker.bootstrap})})})
    poison = door("2026-11-01T05:40:00Z", 1)
    poison.zone_id = "door\x00"  # valid protobuf, but PostgreSQL text cannot hold NUL
    producer = TypedProducer(config.pipeline.kafka, "test-archive")
    for m in [FIXTURE[0], poison, FIXTURE[1]]:
        producer.send(zs_topic, "ny/door", m)
    producer.close()
    before = REGISTRY.get_sample_value("storesight_archive_records_total",
                                       {"kind": "zone_stats", "outcome": "rejected"}) or 0.0
    archive = Archive(config, postgres_url, schema_name, (zs_topic, alert_topic), f"g-poison-{uuid.uuid4().hex[:6]}")
    try:
        assert run_until(archive, 3) == 3
    finally:
        archive.close()
    assert db.execute("SELECT count(*) FROM zone_stats").fetchone() == (2,)
    assert REGISTRY.get_sample_value("storesight_archive_records_total",
                                     {"kind": "zone_stats", "outcome": "rejected"}) == before + 1
