"""Aggregate benchmark: detection messages/s per worker and detection -> Redis live latency.

    python -m bench.aggregate [--messages 60000] [--latency-messages 400] [--faust]

1. core:   decode + convert + Aggregator.process, in memory (the CPU ceiling of one worker).
2. worker: the real AggregateWorker on the embedded broker + Redis, draining a pre-loaded topic.
3. latency: a producer sends one detection every 20 ms (capture time = now); a reader polls the
   Redis live hash; latency = first time the record's capture time is visible - send time.
4. (--faust) the same drain and latency with a minimal faust-streaming agent (one table update
   per message, the settings from KafkaSettings) for comparison.
Ratios against the 20,000 msg/s target are printed in the same run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import threading
import time
import uuid

import numpy as np

from storesight import heap
from storesight.config import parse_config
from storesight.contracts import Detections, to_timestamp

TARGET = 20_000
CAMERAS = [f"cam-{i}" for i in range(4)]


def bench_config(bootstrap: str = "127.0.0.1:9092"):
    zones = [
        {"id": "{c}-shelf", "kind": "aisle", "polygon": [[0, 0.4], [0.4, 0.4], [0.4, 1], [0, 1]]},
        {"id": "{c}-queue", "kind": "queue", "serves": "{c}-till",
         "polygon": [[0.4, 0.4], [0.7, 0.4], [0.7, 1], [0.4, 1]]},
        {"id": "{c}-till", "kind": "checkout", "polygon": [[0.7, 0.4], [1, 0.4], [1, 1], [0.7, 1]]},
    ]
    cams = []
    for c in CAMERAS:
        cz = [json.loads(json.dumps(z).replace("{c}", c)) for z in zones]
        cams.append({"id": c, "source": "x.mp4", "zones": cz,
                     "lines": [{"id": f"{c}-door", "a": [0.9, 0], "b": [0.9, 1], "in_point": [0.5, 0.5]}]})
    return parse_config({"region": "bench", "pipeline": {
        "kafka": {"bootstrap": bootstrap},
        "aggregate": {"window_s": 60, "allowed_lateness_s": 5, "stale_after_s": 15, "checkpoint_interval_s": 1.0}},
        "stores": [{"id": "bench-store", "timezone": "UTC", "cameras": cams}]})


def synthetic(n: int, t0: float, fps: float = 10.0, people: int = 4) -> list[Detections]:
    """Round-robin over the cameras; each camera has ``people`` tracks walking across."""
    rng = np.random.default_rng(1)
    speed = rng.uniform(0.01, 0.03, size=(len(CAMERAS), people))
    msgs = []
    for i in range(n):
        cam = i % len(CAMERAS)
        frame = i // len(CAMERAS)
        t = t0 + frame / fps
        msg = Detections(camera_id=CAMERAS[cam], store_id="bench-store", frame_seq=frame)
        msg.capture_time.CopyFrom(to_timestamp(dt.datetime.fromtimestamp(t, dt.UTC)))
        for p in range(people):
            x = (0.05 + frame * speed[cam, p] / 10 + p * 0.2) % 1.0
            y = 0.5 + 0.1 * p
            person = msg.persons.add(track_id=1 + p + 100 * (frame // 300), confidence=0.9)
            person.box.x1, person.box.y1, person.box.x2, person.box.y2 = max(0, x - 0.03), y - 0.2, min(1, x + 0.03), y
            person.foot.x, person.foot.y = x, y
        msgs.append(msg)
    return msgs


def bench_core(n: int) -> float:
    from services.aggregate.aggregator import Aggregator
    from services.aggregate.convert import frame_from_proto

    payloads = [m.SerializeToString() for m in synthetic(n, 1_800_000_000.0)]
    agg = Aggregator(bench_config())
    heap.settle_after_startup()  # the worker's collector settings (services.aggregate.service.run)
    start, cpu = time.perf_counter(), time.process_time()
    for i in range(0, n, 2000):
        batch = []
        for raw in payloads[i:i + 2000]:
            msg = Detections()
            msg.ParseFromString(raw)
            batch.append(frame_from_proto(msg))
        agg.process(batch)
    return n / (time.perf_counter() - start), n / (time.process_time() - cpu)


def bench_worker(bootstrap: str, redis_prefix: str, n: int, latency_n: int) -> tuple[tuple[float, float], list[float]]:
    import redis

    from services.aggregate.service import AggregateWorker
    from tests.support.bus import send_detections

    send_detections(bootstrap, synthetic(n, time.time() - n / (10 * len(CAMERAS)) - 120), "bench-producer")
    worker = AggregateWorker(bench_config(bootstrap), group=f"bench-{uuid.uuid4().hex[:6]}",
                             redis_prefix=redis_prefix)
    worker.open()
    heap.settle_after_startup()  # as services.aggregate.service.run does
    done = 0
    start = None
    while done < n:
        got = worker.step(timeout_ms=100)
        if got and start is None:
            start, cpu = time.perf_counter(), time.process_time()
            first = got
        done += got
    rate = ((done - first) / (time.perf_counter() - start), (done - first) / (time.process_time() - cpu))
    # Latency: the worker is caught up; send one record every 20 ms, stamped now.
    client = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    stop = threading.Event()
    thread = threading.Thread(target=lambda: [worker.step(timeout_ms=50) for _ in iter(stop.is_set, True)])
    thread.start()
    sent: dict[str, float] = {}
    seen: dict[str, float] = {}
    key = f"{redis_prefix}live:bench-store"
    from storesight.bus import TypedProducer
    from storesight.config import KafkaSettings
    from storesight.topics import DETECTIONS

    producer = TypedProducer(KafkaSettings(bootstrap=bootstrap), "bench-latency")
    for _ in range(latency_n):
        msg = synthetic(1, 0.0)[0]
        now = time.time()
        msg.capture_time.CopyFrom(to_timestamp(dt.datetime.fromtimestamp(now, dt.UTC)))
        stamp = msg.capture_time.ToJsonString()
        sent[stamp[:23]] = time.perf_counter()
        producer.send(DETECTIONS, msg.camera_id, msg)
        producer.flush()
        deadline = time.perf_counter() + 0.02
        while time.perf_counter() < deadline:
            raw = client.hget(key, "cam-0-shelf")
            if raw:
                capture = json.loads(raw)["capture_time"][:23]
                if capture in sent and capture not in seen:
                    seen[capture] = time.perf_counter()
            time.sleep(0.0005)
    time.sleep(0.5)
    stop.set()
    thread.join()
    producer.close()
    worker.close()
    client.close()
    latencies = [seen[k] - sent[k] for k in seen]
    return rate, latencies


def bench_faust(bootstrap: str, n: int) -> float:
    from bench.aggregate.faust_probe import drain_rate

    return drain_rate(bootstrap, n)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.aggregate")
    parser.add_argument("--messages", type=int, default=60_000)
    parser.add_argument("--latency-messages", type=int, default=400)
    parser.add_argument("--faust", action="store_true", help="also measure a minimal faust agent")
    args = parser.parse_args(argv)
    if args.messages < 10_000:
        # The worker's rate is timed after its first poll (which also joins the group) and one
        # poll takes up to 5,000 records: fewer messages would leave nothing to time.
        parser.error("--messages must be at least 10000")

    from storesight.broker import EmbeddedBroker, free_port
    from storesight.topics import ensure_topics
    from tests.support.servers import ensure_redis

    os.environ.setdefault("REDIS_URL", ensure_redis())
    print(f"cpu cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}")
    core, core_cpu = bench_core(args.messages)
    print(f"core (decode + convert + aggregate, 4 cameras x 4 people, 3 zones + 1 line each): "
          f"{core:,.0f} msg/s wall, {core_cpu:,.0f} msg per CPU-second  ({core_cpu / TARGET:.2f}x target)")
    prefix = f"storesight:bench-{uuid.uuid4().hex[:6]}:"
    with EmbeddedBroker(port=free_port()) as broker:
        ensure_topics(broker.bootstrap)
        (rate, rate_cpu), latencies = bench_worker(broker.bootstrap, prefix, args.messages, args.latency_messages)
        print(f"worker (embedded broker -> aggregate -> Redis live, one process): {rate:,.0f} msg/s wall, "
              f"{rate_cpu:,.0f} msg per CPU-second of the worker ({rate_cpu / TARGET:.2f}x target; "
              f"{rate_cpu / core_cpu:.2f}x of core)")
        if latencies:
            ms = sorted(x * 1000 for x in latencies)
            p99 = ms[min(len(ms) - 1, int(round(0.99 * (len(ms) - 1))))]
            print(f"latency detection -> Redis live ({len(ms)} of {args.latency_messages} seen): "
                  f"p50 {statistics.median(ms):.1f} ms, p99 {p99:.1f} ms, max {ms[-1]:.1f} ms")
        if args.faust:
            frate, flat = bench_faust(broker.bootstrap, args.messages)
            print(f"faust minimal agent (1 table update per message, at_least_once, batch 1): {frate:,.0f} msg/s "
                  f"({frate / rate:.2f}x of worker); latency p50 {flat[0]:.0f} ms, p99 {flat[1]:.0f} ms")
    import redis

    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
    client.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
