"""A minimal faust-streaming agent on the same topic, to compare with the aggregate worker.

One table update per message (a per-camera counter: far less work than the real aggregation),
with the faust settings from KafkaSettings. Run by ``python -m bench.aggregate --faust``; the
agent process prints one JSON line with its drain rate and its detection -> processed latency.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from storesight.config import KafkaSettings


def faust_app(bootstrap: str, app_id: str):
    """A faust app with the service's Kafka settings, the detections topic and a per-camera table.

    faust runs only here, as a benchmark: at-least-once (the embedded broker lacks idempotent
    producers) and single-record producer batches (keeps table recovery exact on that broker).
    """
    import faust

    settings = KafkaSettings(bootstrap=bootstrap)
    app = faust.App(app_id, broker=f"kafka://{bootstrap}", store="memory://",
                    processing_guarantee="at_least_once",
                    producer_max_batch_size=1,
                    broker_session_timeout=settings.session_timeout_ms / 1000,
                    topic_partitions=4, web_enabled=False, value_serializer="raw", key_serializer="raw")
    topic = app.topic("storesight.detections", value_serializer="raw", key_serializer="raw")
    return app, topic, app.Table("probe-counts", default=int, partitions=4)


def report(result_path: str, obj: dict) -> None:
    """faust captures stdout into its log: agents report through a JSON-lines file."""
    with open(result_path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(obj) + "\n")


def run_worker(app) -> None:
    sys.argv = ["faust", "worker", "-l", "warn"]
    app.main()


def _agent(bootstrap: str, n: int, latency_n: int, result_path: str) -> None:
    from storesight.contracts import Detections, seconds

    app, topic, counts = faust_app(bootstrap, f"faust-probe-{os.getpid()}")
    state = {"seen": 0, "start": None, "lat": []}
    born = time.time()

    @app.agent(topic)
    async def consume(stream):
        async for _key, raw in stream.items():
            msg = Detections()
            msg.ParseFromString(raw)
            counts[msg.camera_id] += 1
            state["seen"] += 1
            if state["seen"] == 1:
                state["start"] = time.perf_counter()
            if state["seen"] == n:
                state["rate"] = (n - 1) / (time.perf_counter() - state["start"])
                report(result_path, {"ready": True})
            elif seconds(msg.capture_time) > born:
                state["lat"].append(time.time() - seconds(msg.capture_time))
                if len(state["lat"]) >= latency_n:
                    lat = sorted(x * 1000 for x in state["lat"])
                    report(result_path, {"rate": state["rate"], "p50": lat[len(lat) // 2],
                                         "p99": lat[int(0.99 * (len(lat) - 1))]})
                    os._exit(0)

    run_worker(app)


def drain_rate(bootstrap: str, n: int, latency_n: int = 100) -> tuple[float, tuple[float, float]]:
    """Start the agent on an already loaded topic; then send ``latency_n`` stamped records."""
    import datetime as dt
    import tempfile

    from bench.aggregate.__main__ import synthetic
    from storesight.bus import TypedProducer
    from storesight.contracts import to_timestamp
    from storesight.topics import DETECTIONS

    result_path = tempfile.mktemp(prefix="faust-probe-", suffix=".jsonl")
    proc = subprocess.Popen([sys.executable, "-m", "bench.aggregate.faust_probe", bootstrap, str(n), str(latency_n),
                             result_path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def results() -> list[dict]:
        try:
            with open(result_path, encoding="utf-8") as fh:
                return [json.loads(line) for line in fh]
        except FileNotFoundError:
            return []

    try:
        deadline = time.monotonic() + 600
        while not results():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("faust probe exited before draining the topic")
            time.sleep(0.2)
        producer = TypedProducer(KafkaSettings(bootstrap=bootstrap), "faust-latency")
        for _ in range(latency_n):
            msg = synthetic(1, 0.0)[0]
            msg.capture_time.CopyFrom(to_timestamp(dt.datetime.now(dt.UTC)))
            producer.send(DETECTIONS, msg.camera_id, msg)
            producer.flush()
            time.sleep(0.02)
        producer.close()
        while len(results()) < 2:
            if proc.poll() is not None and len(results()) < 2 or time.monotonic() > deadline:
                raise RuntimeError("faust probe did not report its latency")
            time.sleep(0.2)
        result = results()[1]
        return result["rate"], (result["p50"], result["p99"])
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        if os.path.exists(result_path):
            os.unlink(result_path)


if __name__ == "__main__":
    _agent(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
