"""Shared pieces of the ingest integration tests: a config builder, the service running
in-process on a test's own topics, and a collector reading those topics back."""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from dataclasses import dataclass, field

from kafka import KafkaConsumer, TopicPartition

from services.ingest.service import IngestService
from storesight.bus import TypedProducer
from storesight.config import Config, KafkaSettings, parse_config
from storesight.contracts import CameraHealth, Frame
from storesight.kafka_clients import client_kwargs
from storesight.topics import Topic, ensure_topics
from storesight.v1 import frame_pb2, health_pb2

UP, DOWN = CameraHealth.STATUS_UP, CameraHealth.STATUS_DOWN


def make_config(bootstrap: str, cameras: list[dict], **ingest) -> Config:
    # Reconnect backoff as shipped (0.5 s doubling to 30 s); health reported more often than the default.
    settings = {"health_interval_s": 0.5} | ingest
    return parse_config({
        "region": "test",
        "pipeline": {"kafka": {"bootstrap": bootstrap}, "ingest": settings},
        "stores": [{"id": "s1", "timezone": "UTC", "cameras": cameras}],
    })


@dataclass
class Seen:
    at: float  # monotonic arrival time
    value: object


@dataclass
class Collector:
    """Reads a frames topic and a health topic into lists (no consumer group: no join wait)."""

    bootstrap: str
    frames_topic: Topic
    health_topic: Topic
    frames: list[Seen] = field(default_factory=list)
    health: list[Seen] = field(default_factory=list)

    def __post_init__(self):
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._consumer = KafkaConsumer(**client_kwargs(self.bootstrap, "storesight-test-reader"), fetch_max_wait_ms=10,
                                       auto_offset_reset="earliest", enable_auto_commit=False,
                                       max_partition_fetch_bytes=16 << 20, fetch_max_bytes=16 << 20)
        self._consumer.assign([TopicPartition(t.name, p) for t in (self.frames_topic, self.health_topic)
                               for p in range(t.partitions)])
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self):
        while not self._stop.is_set():
            for tp, messages in self._consumer.poll(timeout_ms=100).items():
                for m in messages:
                    if tp.topic == self.frames_topic.name:
                        value, bucket = Frame.FromString(m.value), self.frames
                    else:
                        value, bucket = CameraHealth.FromString(m.value), self.health
                    with self._lock:
                        bucket.append(Seen(time.monotonic(), value))

    def frames_of(self, camera: str) -> list[Seen]:
        with self._lock:
            return [s for s in self.frames if s.value.camera_id == camera]

    def health_of(self, camera: str) -> list[Seen]:
        with self._lock:
            return [s for s in self.health if s.value.camera_id == camera]

    def wait_for(self, condition, timeout_s: float, what: str):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            result = condition()
            if result:
                return result
            time.sleep(0.05)
        raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")

    def close(self):
        self._stop.set()
        self._thread.join(5)
        self._consumer.close()


def own_topics(name: str) -> tuple[Topic, Topic]:
    suffix = f"{name}.{uuid.uuid4().hex[:6]}"
    return (Topic(f"t.ingest.frames.{suffix}", frame_pb2.Frame, partitions=2, retention_ms=60_000,
                  max_message_bytes=16 << 20),
            Topic(f"t.ingest.health.{suffix}", health_pb2.CameraHealth, partitions=2, retention_ms=60_000))


class RunningIngest:
    """The ingest service in this process (its own threads), on the test's own topics."""

    def __init__(self, config: Config, camera_ids: list[str], name: str):
        self.frames_topic, self.health_topic = own_topics(name)
        bootstrap = config.pipeline.kafka.bootstrap
        ensure_topics(bootstrap, (self.frames_topic, self.health_topic))
        self.collector = Collector(bootstrap, self.frames_topic, self.health_topic)
        self.stopping = threading.Event()
        self.producer = TypedProducer(KafkaSettings(bootstrap=bootstrap), f"test-{name}")
        self.service = IngestService(config, camera_ids, self.producer, self.stopping,
                                     self.frames_topic, self.health_topic)
        self._thread = threading.Thread(target=self.service.run_until_stopped, daemon=True)

    def __enter__(self) -> RunningIngest:
        self.service.start()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self._thread.join(20)
        self.producer.close()
        self.collector.close()


def capture_dt(frame: Frame) -> dt.datetime:
    return frame.capture_time.ToDatetime(tzinfo=dt.UTC)
