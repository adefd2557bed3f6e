"""Helpers for end-to-end runs of the whole pipeline (tools.stack.LocalStack) on a finite clip:
wait until every frame has gone through every stage, read every topic back, and gather everything
the run left behind (topics, Redis, logs, files) for the privacy scan.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path

from storesight.contracts import seconds
from storesight.kafka_clients import client_kwargs
from storesight.topics import BY_NAME, DETECTIONS, FRAMES, ZONE_STATS
from tools.stack import LocalStack
from tools.stack import metric_value as m

FRAMES_DONE_POLL_S = 1.0
# Runtime byproducts of Python and pytest, not files the pipeline wrote.
NOT_RUN_OUTPUT = {".git", "__pycache__", ".pytest_cache", ".ruff_cache", ".venv"}


def _counts(stack: LocalStack, cameras: Iterable[str]) -> dict[str, float]:
    ingest, detect = stack.processes["ingest"], stack.processes["detect"]
    aggregate, alerts = stack.processes["aggregate"], stack.processes["alerts"]
    ingest_text, detect_text = ingest.metrics(), detect.metrics()
    agg_text, alerts_text = aggregate.metrics(), alerts.metrics()
    return {
        "published": m(ingest_text, "storesight_ingest_frames_published_total"),
        "cameras_up": sum(m(ingest_text, "storesight_ingest_camera_up", camera=c) for c in cameras),
        "detect_in": m(detect_text, "storesight_consumed_messages_total", topic=FRAMES.name),
        "detect_dlq": m(detect_text, "storesight_dlq_messages_total", topic=FRAMES.name),
        "detect_dropped": m(detect_text, "storesight_detect_frames_dropped_total"),
        "detect_skipped": m(detect_text, "storesight_detect_frames_skipped_total"),
        "detect_out": m(detect_text, "storesight_produced_messages_total", topic=DETECTIONS.name),
        "aggregate_in": m(agg_text, "storesight_consumed_messages_total", topic=DETECTIONS.name),
        "aggregate_dlq": m(agg_text, "storesight_dlq_messages_total", topic=DETECTIONS.name),
        "aggregate_out": m(agg_text, "storesight_produced_messages_total", topic=ZONE_STATS.name),
        "alerts_in": m(alerts_text, "storesight_consumed_messages_total", topic=ZONE_STATS.name),
        "alerts_dlq": m(alerts_text, "storesight_dlq_messages_total", topic=ZONE_STATS.name),
    }


def _drained(c: dict[str, float]) -> bool:
    return (c["published"] > 0 and c["cameras_up"] == 0  # every file ended ("end of file" = down)
            and c["detect_in"] + c["detect_dlq"] == c["published"]
            and c["detect_out"] + c["detect_dropped"] + c["detect_skipped"] == c["detect_in"]
            and c["aggregate_in"] + c["aggregate_dlq"] == c["detect_out"]
            and c["alerts_in"] + c["alerts_dlq"] == c["aggregate_out"])


def wait_until_drained(stack: LocalStack, cameras: Iterable[str], timeout_s: float,
                       progress: Callable[[dict[str, float]], None] | None = None) -> dict[str, float]:
    """Wait until the clips ended and every stage consumed all its upstream produced (stable twice)."""
    cameras = list(cameras)
    deadline = time.monotonic() + timeout_s
    last: dict[str, float] | None = None
    while time.monotonic() < deadline:
        for name, process in stack.processes.items():
            if process.proc.poll() is not None:
                raise AssertionError(f"{name} exited with {process.proc.returncode}:\n{process.log_tail()}")
        counts = _counts(stack, cameras)
        if progress is not None:
            progress(counts)
        if _drained(counts) and counts == last:
            return counts
        last = counts
        time.sleep(FRAMES_DONE_POLL_S)
    tails = "\n".join(f"--- {n}\n{p.log_tail(8)}" for n, p in stack.processes.items())
    raise AssertionError(f"pipeline not drained after {timeout_s:.0f} s: {last}\n{tails}")


def wait_until_closed(bootstrap: str, zone_id: str, start_s: float, timeout_s: float) -> list:
    """The closed (not live) ZoneStats read back once the aggregate has closed a window of ``zone_id``
    starting at or after ``start_s`` (capture time, s). A drained pipeline has aggregated every
    frame, but a visit still open when the clip ended is only booked once the watermark has moved
    past its track's end (health reports keep moving it), and its window closes later still."""
    deadline = time.monotonic() + timeout_s
    while True:
        stats = [s for s in decode_all(read_topics(bootstrap, [ZONE_STATS.name])[ZONE_STATS.name], ZONE_STATS.name)
                 if not s.live]
        if any(s.zone_id == zone_id and seconds(s.window_start) >= start_s for s in stats):
            return stats
        if time.monotonic() > deadline:
            ends = max((seconds(s.window_start) for s in stats if s.zone_id == zone_id), default=None)
            raise AssertionError(f"no closed window of {zone_id} from {start_s:.1f} s after {timeout_s:.0f} s "
                                 f"(latest starts at {ends})")
        time.sleep(FRAMES_DONE_POLL_S)


def read_topics(bootstrap: str, names: Iterable[str], idle_s: float = 2.0) -> dict[str, list]:
    """Every record of the named topics, from the beginning, without a consumer group.

    Reads until no record arrives for ``idle_s`` (end offsets are not trusted: the embedded
    broker reports them wrong for multi-record batches)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(**client_kwargs(bootstrap, "storesight-test-reader"), group_id=None, enable_auto_commit=False,
                             auto_offset_reset="earliest", fetch_max_wait_ms=50,
                             max_partition_fetch_bytes=32 * 1024 * 1024, fetch_max_bytes=64 * 1024 * 1024,
                             consumer_timeout_ms=int(idle_s * 1000))
    try:
        parts = [TopicPartition(name, p) for name in names for p in sorted(consumer.partitions_for_topic(name) or ())]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        out: dict[str, list] = {name: [] for name in names}
        for record in consumer:  # stops after idle_s without a record
            out[record.topic].append(record)
        return out
    finally:
        consumer.close()


def all_topics(bootstrap: str) -> set[str]:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(**client_kwargs(bootstrap, "storesight-test-reader"), group_id=None)
    try:
        return set(consumer.topics())
    finally:
        consumer.close()


def decode_all(records: list, topic_name: str) -> list:
    """The records of a registered topic decoded as its protobuf type (raises on a bad one)."""
    message_type = BY_NAME[topic_name].message_type
    out = []
    for record in records:
        message = message_type()
        message.ParseFromString(record.value)
        out.append(message)
    return out


def frames_retention(bootstrap: str) -> dict[str, str]:
    """The frames topic's configs as the broker reports them (all of them, not only modified ones)."""
    from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient

    admin = KafkaAdminClient(**client_kwargs(bootstrap, "storesight-test-admin"), request_timeout_ms=10000)
    try:
        reply = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, FRAMES.name)],
                                       config_filter="all")
    finally:
        admin.close()
    return {key: entry["value"] for key, entry in reply["topic"][FRAMES.name].items()}


def files_written(roots: Iterable[Path], since: float) -> dict[str, bytes]:
    """Every file under ``roots`` modified at or after ``since`` (epoch s), by path."""
    out = {}
    for root in roots:
        for path in Path(root).rglob("*"):
            if NOT_RUN_OUTPUT & set(path.parts) or not path.is_file():
                continue
            if path.stat().st_mtime >= since:
                out[str(path)] = path.read_bytes()
    return out


def run_leftovers(stack: LocalStack, since: float, repo: Path) -> dict[str, list[bytes | str]]:
    """What a privacy scan must cover, by source: every topic but frames, Redis keys and values,
    every service log line, every file written in the run's folder and the repository."""
    import redis

    from tests.support.privacy import redis_values

    names = sorted(all_topics(stack.broker.bootstrap) - {FRAMES.name})
    topics = read_topics(stack.broker.bootstrap, names)
    client = redis.Redis.from_url(stack.redis_url)
    try:
        values = redis_values(client, "*")
    finally:
        client.close()
    sources: dict[str, list[bytes | str]] = {f"topic {name}": [r.value or b"" for r in records]
                                             for name, records in topics.items()}
    sources.update({f"topic {name} keys": [r.key or b"" for r in records] for name, records in topics.items()})
    sources["redis keys"] = list(values)
    sources["redis values"] = list(values.values())
    for log in sorted((stack.workdir / "logs").glob("*.log")):
        sources[f"log {log.name}"] = log.read_text(errors="replace").splitlines()
    for path, data in files_written([stack.workdir, repo], since).items():
        sources[f"file {path}"] = [data]
    return sources
