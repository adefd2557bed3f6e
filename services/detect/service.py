"""Kafka shell of the detect service: frames in (consumer group), detections out (key camera_id).

Loop: poll frames into the batch policy; when a batch is due, drop frames older than
``max_frame_age_s`` (counted), decode the JPEGs, detect + track, publish one ``Detections``
per frame carrying the frame's capture time, wait until the broker acknowledged every one
(a failed produce is retried, then its Detections goes to ``storesight.detections.dlq``: see
``storesight.bus.PendingSends``), then commit the consumed offsets (at-least-once). Pixels never leave this process: only boxes and ids are published.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass

import numpy as np
from prometheus_client import Counter, Gauge, Histogram

from services.detect.attributes.stage import AttributeStage
from services.detect.batching import BatchPolicy, split_stale
from services.detect.pipeline import Detector, PersonResult
from storesight.bus import Record, SendRetry, TypedConsumer, TypedProducer, source_of
from storesight.config import Config, DetectSettings, KafkaSettings
from storesight.contracts import Detections, Frame, seconds
from storesight.service import ServiceRunner
from storesight.topics import DETECTIONS, FRAMES, Topic

log = logging.getLogger(__name__)

GROUP = "storesight-detect"
UNKNOWN_CAMERA = "unknown"

FRAMES_TOTAL = Counter("storesight_detect_frames_total", "Frames run through the detector", ["camera"])
FRAMES_DROPPED = Counter("storesight_detect_frames_dropped_total", "Frames not detected, by reason", ["reason"])
DROP_REASONS = ("stale", "undecodable")
BATCH_SIZE = Histogram("storesight_detect_batch_size", "Frames per detector batch",
                       buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256))
INFERENCE_SECONDS = Histogram("storesight_detect_inference_seconds", "Model time per batch",
                              buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4))
BACKEND_INFO = Gauge("storesight_detect_backend_info", "The detector actually running (1): backend, device, "
                     "execution provider, precision", ["backend", "device", "provider", "precision"])
LAG_SECONDS = Histogram("storesight_detect_lag_seconds", "Capture time to detections published",
                        buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32))


@dataclass
class Pending:
    record: Record
    capture_s: float


class DetectLoop:
    """One consumer, one detector, one producer. ``step`` does one poll and at most one batch."""

    def __init__(self, settings: DetectSettings, kafka: KafkaSettings, cameras: set[str] | None = None,
                 frames_topic: Topic = FRAMES, detections_topic: Topic = DETECTIONS, group: str = GROUP,
                 detector: Detector | None = None, clock=time.time, attributes: AttributeStage | None = None,
                 send_retry: SendRetry | None = None):
        self.settings = settings
        # Opt-in sentiment/demographics: None unless a store and one of its cameras opted in.
        self.attributes = attributes if attributes is not None and attributes.enabled else None
        self.detector = detector or Detector(settings)
        self.detections_topic = detections_topic
        self.producer = TypedProducer(kafka, "detect")
        self.consumer = TypedConsumer(kafka, [frames_topic], group, "detect", dlq_producer=self.producer)
        self.sends = self.producer.batch(send_retry)  # this batch's outputs, settled before the commit
        # Track ids restart in every process: a random epoch per camera tracker instance makes
        # (camera, epoch, track) unique across restarts and rebalances (Detections.tracker_epoch).
        self.epochs: dict[str, str] = {}
        self.policy: BatchPolicy[Pending] = BatchPolicy(settings.max_batch, settings.max_wait_ms / 1000)
        self.cameras = cameras
        self.clock = clock
        self.published = 0
        self.dropped = 0
        self.last_step = time.monotonic()
        for reason in DROP_REASONS:
            FRAMES_DROPPED.labels(reason)  # 0 from the start: "no drops yet" is 0, not missing data

    def step(self, idle_timeout_s: float = 0.1) -> int:
        """Poll once and run a batch if one is due; returns the number of frames published."""
        self.last_step = time.monotonic()
        wait = min(self.policy.wait_s(time.monotonic()), idle_timeout_s) if len(self.policy) else idle_timeout_s
        room = max(1, self.settings.max_batch * 2 - len(self.policy))
        for record in self.consumer.poll(timeout_ms=int(wait * 1000), max_records=room):
            self.policy.add(Pending(record, seconds(record.value.capture_time)), time.monotonic())
        if not self.policy.due(time.monotonic()):
            return 0
        return self._run_batch(self.policy.take(time.monotonic()))

    def _run_batch(self, batch: list[Pending]) -> int:
        fresh, stale = split_stale(batch, lambda p: p.capture_s, self.clock(), self.settings.max_frame_age_s)
        if stale:
            FRAMES_DROPPED.labels("stale").inc(len(stale))
            self.dropped += len(stale)
        frames, images = [], []
        for item in fresh:
            image = decode_jpeg(item.record.value.jpeg)
            if image is None:
                FRAMES_DROPPED.labels("undecodable").inc()
                self.dropped += 1
                continue
            frames.append(item)
            images.append(image)
        if frames:
            self._detect_and_publish(frames, images)
        self.sends.settle()  # every Detections acknowledged or in the DLQ; raises (no commit) otherwise
        self.consumer.commit_offsets(_next_offsets(batch))
        return len(frames)

    def _detect_and_publish(self, frames: list[Pending], images: list[np.ndarray]) -> None:
        cameras = [p.record.value.camera_id for p in frames]
        people, spent = self.detector.process(cameras, images, [p.capture_s for p in frames])
        BATCH_SIZE.observe(len(frames))
        INFERENCE_SECONDS.observe(spent)
        per_frame_ms = spent * 1000 / len(frames)
        messages = [detections_message(item.record.value, persons, self.detector.model_name, per_frame_ms,
                                       image.shape[1], image.shape[0], self._epoch(item.record.value.camera_id))
                    for item, image, persons in zip(frames, images, people, strict=True)]
        if self.attributes is not None:
            # Appends k-anonymous AttributeAggregate groups to the messages' `attributes`; nothing per person.
            self.attributes.process(list(zip(images, messages, strict=True)))
        for item, message in zip(frames, messages, strict=True):
            frame: Frame = item.record.value
            self.sends.send(self.detections_topic, frame.camera_id, message, source=source_of(item.record))
            label = frame.camera_id if self.cameras is None or frame.camera_id in self.cameras else UNKNOWN_CAMERA
            FRAMES_TOTAL.labels(label).inc()
        now = self.clock()
        for item in frames:
            LAG_SECONDS.observe(max(0.0, now - item.capture_s))
        self.published += len(frames)

    def _epoch(self, camera_id: str) -> str:
        epoch = self.epochs.get(camera_id)
        if epoch is None:
            epoch = self.epochs[camera_id] = uuid.uuid4().hex[:16]
        return epoch

    def close(self) -> None:
        self.consumer.close()
        self.producer.close()


def decode_jpeg(data: bytes) -> np.ndarray | None:
    import cv2

    return cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)


def detections_message(frame: Frame, persons: list[PersonResult], model: str, inference_ms: float,
                       width: int, height: int, tracker_epoch: str = "") -> Detections:
    """The published contract: boxes, ids and foot points in 0..1, the frame's capture time; no pixels."""
    message = Detections(camera_id=frame.camera_id, store_id=frame.store_id, frame_seq=frame.seq,
                         model=model, inference_ms=inference_ms, frame_width=width, frame_height=height,
                         tracker_epoch=tracker_epoch)
    message.capture_time.CopyFrom(frame.capture_time)
    for p in persons:
        person = message.persons.add(confidence=p.confidence, track_id=p.track_id, predicted=p.predicted)
        person.box.x1, person.box.y1, person.box.x2, person.box.y2 = p.box
        person.foot.x, person.foot.y = p.foot
    return message


def _next_offsets(batch: list[Pending]) -> dict[tuple[str, int], int]:
    offsets: dict[tuple[str, int], int] = {}
    for item in batch:
        key = (item.record.topic, item.record.partition)
        offsets[key] = max(offsets.get(key, 0), item.record.offset + 1)
    return offsets


def run(config: Config, runner: ServiceRunner, group: str = GROUP) -> None:
    """Run until SIGTERM: finish the batch in hand, commit, close."""
    cameras = {camera.id for _, camera in config.cameras()}
    ignore = {camera.id: camera.ignore_regions for _, camera in config.cameras() if camera.ignore_regions}
    detector = Detector(config.pipeline.detect, ignore_regions=ignore)
    backend = detector.backend
    BACKEND_INFO.labels(backend.name, backend.device, backend.provider, backend.precision).set(1)
    loop = DetectLoop(config.pipeline.detect, config.pipeline.kafka, cameras, group=group, detector=detector,
                      attributes=AttributeStage(config))
    runner.add_health_check(lambda: None if time.monotonic() - loop.last_step < 60 else "detect loop stalled")
    runner.set_ready()
    log.info("detect running", extra={"group": group, "max_batch": config.pipeline.detect.max_batch,
                                      "backend": backend.name, "device": backend.device,
                                      "provider": backend.provider, "precision": backend.precision})
    try:
        while not runner.stopping.is_set():
            loop.step()
    finally:
        runner.set_ready(False)
        loop.close()
        log.info("detect stopped", extra={"published": loop.published, "dropped": loop.dropped})
