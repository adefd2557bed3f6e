"""Kafka shell of the detect service: frames in (consumer group), detections out (key camera_id).

Loop: poll every waiting frame into the shedder (each camera's newest frames win; older queued
ones are skipped and counted, ``shedding.py``); when a batch is due (``batching.py``), take one
frame per camera per round, drop frames older than ``max_frame_age_s`` (counted), decode the
JPEGs, detect + track, publish one ``Detections`` per frame carrying the frame's capture time and
the camera's effective detection rate, wait until the broker acknowledged every one (a failed
produce is retried, then its Detections goes to ``storesight.detections.dlq``: see
``storesight.bus.PendingSends``), then commit the offsets of every frame run or skipped
(at-least-once). Pixels never leave this process: only boxes and ids are published.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass

import numpy as np
import supervision as sv
from prometheus_client import Counter, Gauge, Histogram

from services.detect.attributes.stage import AttributeStage
from services.detect.batching import BatchPolicy, split_stale
from services.detect.people import rows
from services.detect.pipeline import Detector, camera_input
from services.detect.shedding import SKIP_REASONS, RateMeter, Shedder
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
FRAMES_SKIPPED = Counter("storesight_detect_frames_skipped_total",
                         "Frames not run because a newer frame of the camera won (load shedding)", ["camera", "reason"])
EFFECTIVE_FPS = Gauge("storesight_detect_effective_fps",
                      "Frames a second the detector ran for the camera, over the last 10 s of capture time", ["camera"])
EFFECTIVE_FPS_FLOOR = Gauge("storesight_detect_effective_fps_floor",
                            "Configured lowest effective rate (min_effective_fps): alert below it", ["camera"])
FRAME_GAPS = Counter("storesight_detect_frame_gaps_total",
                     "Processed frames of a camera further apart than the track memory (tracks may split)",
                     ["camera"])
BATCH_SIZE = Histogram("storesight_detect_batch_size", "Frames per detector batch",
                       buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256))
INFERENCE_SECONDS = Histogram("storesight_detect_inference_seconds", "Model time per batch",
                              buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4))
BACKEND_INFO = Gauge("storesight_detect_backend_info", "The detector actually running (1): backend, device, "
                     "execution provider, precision", ["backend", "device", "provider", "precision"])
# CPU per stage: decode and publish are this thread's CPU (time.thread_time); model = the whole
# process's CPU during the backend call (letterbox, inference on the runtime's threads, NMS);
# track = this thread's CPU in the tracker and fixtures. bench.pipeline divides them by the frames.
STAGES = ("decode", "model", "track", "publish")
STAGE_CPU = Counter("storesight_detect_cpu_seconds_total", "CPU seconds spent per stage", ["stage"])
LAG_SECONDS = Histogram("storesight_detect_lag_seconds", "Capture time to detections published",
                        buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32))


# Frames held in memory at most (the shedder's queues): bounds memory when every camera's
# backlog is kept (a large ``shed_window_s``); beyond it frames wait in Kafka.
MAX_QUEUED = 256
RATE_SPAN_S = 10.0


@dataclass
class Pending:
    record: Record
    capture_s: float
    label: str  # camera label of the metrics


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
        self.policy = BatchPolicy(settings.max_batch, settings.max_wait_ms / 1000)
        self.shedder: Shedder[Pending] = Shedder(settings.shed_window_s)
        self.rates: dict[str, RateMeter] = {}
        self.cameras = cameras
        self.clock = clock
        self.published = 0
        self.dropped = 0
        self.skipped = 0
        self.gaps = 0
        self.last_step = time.monotonic()
        self._next_batch_at = 0.0  # max_detect_fps: no batch before this (monotonic)
        for stage in STAGES:
            STAGE_CPU.labels(stage)
        for reason in DROP_REASONS:
            FRAMES_DROPPED.labels(reason)  # 0 from the start: "no drops yet" is 0, not missing data
        for camera in sorted(cameras or ()):
            for reason in SKIP_REASONS:
                FRAMES_SKIPPED.labels(camera, reason)
            FRAME_GAPS.labels(camera)
            EFFECTIVE_FPS_FLOOR.labels(camera).set(settings.min_effective_fps)

    def _label(self, camera: str) -> str:
        return camera if self.cameras is None or camera in self.cameras else UNKNOWN_CAMERA

    def step(self, idle_timeout_s: float = 0.1) -> int:
        """Poll once and run a batch if one is due; returns the number of frames published."""
        self.last_step = time.monotonic()
        waiting = len(self.shedder)
        wait = min(self.policy.wait_s(waiting, time.monotonic()), idle_timeout_s) if waiting else idle_timeout_s
        wait = max(wait, min(self._next_batch_at - time.monotonic(), idle_timeout_s))
        room = max(1, MAX_QUEUED - waiting)
        for record in self.consumer.poll(timeout_ms=int(wait * 1000), max_records=room):
            frame: Frame = record.value
            item = Pending(record, seconds(frame.capture_time), self._label(frame.camera_id))
            for old, reason in self.shedder.offer(frame.camera_id, item.capture_s, item,
                                                  (record.topic, record.partition, record.offset)):
                FRAMES_SKIPPED.labels(old.label, reason).inc()
                self.skipped += 1
        waiting = len(self.shedder)
        self.policy.note(waiting, time.monotonic())
        if not self.policy.due(waiting, time.monotonic()) or time.monotonic() < self._next_batch_at:
            return 0  # frames keep arriving meanwhile: the shedder keeps each camera's newest
        batch = self.shedder.take(self.settings.max_batch)
        self.policy.taken(len(self.shedder), time.monotonic())
        began = time.monotonic()
        done = self._run_batch(batch)
        if self.settings.max_detect_fps > 0:
            self._next_batch_at = began + len(batch) / self.settings.max_detect_fps
        return done

    def _run_batch(self, batch: list[Pending]) -> int:
        fresh, stale = split_stale(batch, lambda p: p.capture_s, self.clock(), self.settings.max_frame_age_s)
        if stale:
            FRAMES_DROPPED.labels("stale").inc(len(stale))
            self.dropped += len(stale)
        frames, images = [], []
        cpu = time.thread_time()
        for item in fresh:
            image = decode_jpeg(item.record.value.jpeg)
            if image is None:
                FRAMES_DROPPED.labels("undecodable").inc()
                self.dropped += 1
                continue
            frames.append(item)
            images.append(image)
        STAGE_CPU.labels("decode").inc(time.thread_time() - cpu)
        if frames:
            self._detect_and_publish(frames, images)
        cpu = time.thread_time()
        self.sends.settle()  # every Detections acknowledged or in the DLQ; raises (no commit) otherwise
        offsets = self.shedder.committable()
        if offsets:
            self.consumer.commit_offsets(offsets)
        STAGE_CPU.labels("publish").inc(time.thread_time() - cpu)
        return len(frames)

    def _rate(self, item: Pending) -> float:
        """Note a processed frame; the camera's effective rate (and a gap the tracks may not bridge)."""
        camera = item.record.value.camera_id
        meter = self.rates.setdefault(camera, RateMeter(RATE_SPAN_S))
        last = meter.last_s
        if last is not None and item.capture_s - last > self.settings.track_memory_s:
            FRAME_GAPS.labels(item.label).inc()
            self.gaps += 1
            log.warning("frame gap longer than the track memory: tracks may split",
                        extra={"camera": camera, "gap_s": round(item.capture_s - last, 3),
                               "track_memory_s": self.settings.track_memory_s})
        meter.add(item.capture_s)
        EFFECTIVE_FPS.labels(item.label).set(meter.fps)
        return meter.fps

    def _detect_and_publish(self, frames: list[Pending], images: list[np.ndarray]) -> None:
        cameras = [p.record.value.camera_id for p in frames]
        people, spent = self.detector.process(cameras, images, [p.capture_s for p in frames])
        # Detector's split of its CPU (model, track); a stand-in without one (tests) counts none.
        for stage, spent_cpu in getattr(self.detector, "cpu_spent", {}).items():
            STAGE_CPU.labels(stage).inc(spent_cpu)
        cpu = time.thread_time()
        BATCH_SIZE.observe(len(frames))
        INFERENCE_SECONDS.observe(spent)
        per_frame_ms = spent * 1000 / len(frames)
        messages = [detections_message(item.record.value, persons, self.detector.model_name, per_frame_ms,
                                       image.shape[1], image.shape[0], self._epoch(item.record.value.camera_id))
                    for item, image, persons in zip(frames, images, people, strict=True)]
        for item, message in zip(frames, messages, strict=True):
            message.effective_fps = self._rate(item)
        if self.attributes is not None:
            # Appends k-anonymous AttributeAggregate groups to the messages' `attributes`; nothing per person.
            self.attributes.process(list(zip(images, messages, strict=True)))
        for item, message in zip(frames, messages, strict=True):
            frame: Frame = item.record.value
            self.sends.send(self.detections_topic, frame.camera_id, message, source=source_of(item.record))
            FRAMES_TOTAL.labels(item.label).inc()
        now = self.clock()
        for item in frames:
            LAG_SECONDS.observe(max(0.0, now - item.capture_s))
        self.published += len(frames)
        STAGE_CPU.labels("publish").inc(time.thread_time() - cpu)

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


def detections_message(frame: Frame, persons: sv.Detections, model: str, inference_ms: float,
                       width: int, height: int, tracker_epoch: str = "") -> Detections:
    """The published contract: boxes, ids and foot points in 0..1, the frame's capture time; no pixels."""
    message = Detections(camera_id=frame.camera_id, store_id=frame.store_id, frame_seq=frame.seq,
                         model=model, inference_ms=inference_ms, frame_width=width, frame_height=height,
                         tracker_epoch=tracker_epoch)
    message.capture_time.CopyFrom(frame.capture_time)
    for box, confidence, track_id, foot, predicted in rows(persons):
        person = message.persons.add(confidence=confidence, track_id=track_id, predicted=predicted)
        person.box.x1, person.box.y1, person.box.x2, person.box.y2 = box
        person.foot.x, person.foot.y = foot
    return message


def run(config: Config, runner: ServiceRunner, group: str = GROUP) -> None:
    """Run until SIGTERM: finish the batch in hand, commit, close."""
    cameras = {camera.id for _, camera in config.cameras()}
    ignore = {camera.id: camera.ignore_regions for _, camera in config.cameras() if camera.ignore_regions}
    own = {camera.id: camera_input(config.pipeline.detect, camera.detect_input_size, camera.detect_input_fit)
           for _, camera in config.cameras()}
    sizes = {camera: size for camera, size in own.items() if size is not None}
    detector = Detector(config.pipeline.detect, ignore_regions=ignore, input_sizes=sizes)
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
        log.info("detect stopped", extra={"published": loop.published, "dropped": loop.dropped,
                                          "skipped": loop.skipped, "gaps": loop.gaps})
