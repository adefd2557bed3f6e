"""Alert latency: from producing the ZoneStats record that completes a rule's ``for`` duration to
the Twilio request arriving at the local Twilio emulator (real broker, Redis, twilio client).

    python -m bench.alerts [--trials 100]

For comparison it also measures, in the same run, one bare Kafka hop (produce -> TypedConsumer)
on the same broker, so the alerts overhead reads as a ratio of the transport's own latency.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import threading
import time
import uuid

from services.alerts.devpeers import TwilioPeer
from services.alerts.service import run
from storesight.broker import EmbeddedBroker, free_port
from storesight.bus import TypedConsumer, TypedProducer
from storesight.config import parse_config
from storesight.contracts import AlertEvent, CameraHealth, ZoneStats, to_timestamp
from storesight.service import ServiceRunner
from storesight.topics import Topic, ensure_topics

T0 = dt.datetime(2026, 11, 20, 15, 0, tzinfo=dt.UTC)
BENCH_ENV = {"TWILIO_ACCOUNT_SID": "ACbench", "TWILIO_AUTH_TOKEN": "bench-token", "TWILIO_FROM": "+15550009999",
             "ACK_SECRET": "bench-ack"}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def window(zone: str, start: dt.datetime, queue: float) -> ZoneStats:
    return ZoneStats(store_id="bench", zone_id=zone, zone_kind="queue", window_start=to_timestamp(start),
                     window_end=to_timestamp(start + dt.timedelta(seconds=10)), status=ZoneStats.STATUS_OK,
                     coverage=1.0, queue_length=queue)


def config(trials: int, bootstrap: str, twilio: TwilioPeer, redis_url: str):
    zones = [{"id": f"q{i}", "kind": "queue", "polygon": [[0, 0], [1, 0], [1, 1]]} for i in range(trials)]
    rules = [{"id": f"r{i}", "metric": "queue_length", "zone": f"q{i}", "op": ">=", "threshold": 5, "for_s": 20,
              "cooldown_s": 0, "only_business_hours": False, "channels": ["sms"],
              "recipients": [{"name": "m", "phone": "+15550100123"}]} for i in range(trials)]
    return parse_config({
        "region": "bench",
        "pipeline": {"kafka": {"bootstrap": bootstrap}, "redis_url": redis_url,
                     "alerts": {"twilio_base_url": twilio.base_url, "per_recipient_per_hour": 10 * trials}},
        "stores": [{"id": "bench", "timezone": "America/New_York",
                    "cameras": [{"id": "cam", "source": "x", "zones": zones}], "rules": rules}]})


def kafka_hop(settings, topic: Topic, n: int) -> list[float]:
    producer = TypedProducer(settings, "bench-hop")
    consumer = TypedConsumer(settings, [topic], f"bench-hop-{uuid.uuid4().hex[:6]}", "bench-hop")
    try:
        while not consumer.assignment():
            consumer.poll(timeout_ms=100)
        out = []
        for i in range(n):
            start = time.perf_counter()
            producer.send(topic, "bench/hop", window("hop", T0 + dt.timedelta(seconds=10 * i), 1))
            producer.flush()
            got = []
            while not got:
                got = consumer.poll(timeout_ms=100)
            out.append(time.perf_counter() - start)
        return out
    finally:
        consumer.close()
        producer.close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=100)
    args = parser.parse_args()
    from tests.support.servers import ensure_redis

    os.environ.update(BENCH_ENV)
    redis_url = ensure_redis()
    uid = uuid.uuid4().hex[:6]
    zs = Topic(f"bench.{uid}.zone-stats", ZoneStats, 2, 600_000, key="store_id/zone_id")
    health = Topic(f"bench.{uid}.health", CameraHealth, 2, 600_000)
    alerts = Topic(f"bench.{uid}.alerts", AlertEvent, 2, 600_000, key="store_id")
    dlq = Topic(alerts.dlq, None, 1, 600_000, key="store_id")
    hop = Topic(f"bench.{uid}.hop", ZoneStats, 1, 600_000, key="store_id/zone_id")
    with EmbeddedBroker(port=free_port()) as broker, TwilioPeer("ACbench", "bench-token") as twilio:
        ensure_topics(broker.bootstrap, (zs, health, alerts, dlq, hop))
        cfg = config(args.trials, broker.bootstrap, twilio, redis_url)
        runner = ServiceRunner("alerts", port=0, host="127.0.0.1", install_signals=False)
        runner.serve_http()
        service = threading.Thread(target=run, args=(cfg,), kwargs=dict(
            replica_id="bench", runner=runner, group=f"bench-alerts-{uid}", zone_topic=zs, health_topic=health,
            alerts_topic=alerts, dlq_topic=dlq, key_prefix=f"storesight:bench-{uid}:alerts:"), daemon=True)
        service.start()
        producer = TypedProducer(cfg.pipeline.kafka, "bench")
        latencies = []
        try:
            # warm-up: group join and first connections
            producer.send(zs, "bench/warm", window("warm", T0, 0)).get(30)
            time.sleep(4)
            for i in range(args.trials):
                start = T0 + dt.timedelta(minutes=i)
                producer.send(zs, f"bench/q{i}", window(f"q{i}", start, 6))  # opens the pending incident
                producer.flush()
                time.sleep(0.05)
                sent = time.perf_counter()
                producer.send(zs, f"bench/q{i}", window(f"q{i}", start + dt.timedelta(seconds=10), 7))  # completes for
                producer.flush()
                if not twilio.wait_for(i + 1, 15):
                    raise SystemExit(f"trial {i}: no SMS within 15 s")
                latencies.append(twilio.messages[i]["arrived"] - sent)
            hops = kafka_hop(cfg.pipeline.kafka, hop, args.trials)
        finally:
            runner.stopping.set()
            service.join(30)
            runner.close()
            producer.close()
    ms = [x * 1000 for x in latencies]
    hop_ms = [x * 1000 for x in hops]
    p50, p99, hop50, hop99 = (percentile(ms, 50), percentile(ms, 99), percentile(hop_ms, 50), percentile(hop_ms, 99))
    print(f"alerts latency, ZoneStats record completing 'for' -> Twilio request at the peer ({args.trials} incidents)")
    print(f"  p50 {p50:.1f} ms   p99 {p99:.1f} ms   mean {statistics.mean(ms):.1f} ms   max {max(ms):.1f} ms")
    print(f"bare Kafka hop on the same broker (produce -> TypedConsumer.poll), {args.trials} records")
    print(f"  p50 {hop50:.1f} ms   p99 {hop99:.1f} ms")
    print(f"ratio alerts/hop: p50 {p50 / hop50:.1f}x   p99 {p99 / hop99:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
