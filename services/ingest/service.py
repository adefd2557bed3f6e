"""The ingest process: this replica's cameras -> frames topic, plus CameraHealth reports.

Wires the camera workers to Kafka (TypedProducer) and to the shared service runner
(/metrics, /healthz, /readyz, SIGTERM). Health is published on every change and every
``health_interval_s``; on shutdown every camera is reported down ("ingest stopped").
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from services.ingest import metrics
from services.ingest.camera import CameraWorker
from services.ingest.sharding import assign
from storesight.bus import TypedProducer
from storesight.config import Config
from storesight.contracts import CameraHealth, Frame
from storesight.topics import CAMERA_HEALTH, FRAMES, Topic

log = logging.getLogger(__name__)


class IngestService:
    def __init__(self, config: Config, camera_ids: Sequence[str], producer: TypedProducer,
                 stopping: threading.Event, frames_topic: Topic = FRAMES,
                 health_topic: Topic = CAMERA_HEALTH):
        self.config, self.producer, self.stopping = config, producer, stopping
        self.frames_topic, self.health_topic = frames_topic, health_topic
        settings = config.pipeline.ingest
        self.workers: list[CameraWorker] = []
        for camera_id in camera_ids:
            store, camera = config.camera(camera_id)
            self.workers.append(CameraWorker(store.id, camera, settings, self._publish_frame,
                                             self._publish_health, stopping, tz=store.tz))
        self._threads: list[threading.Thread] = []

    def _publish_frame(self, frame: Frame) -> None:
        camera = frame.camera_id
        try:
            future = self.producer.send(self.frames_topic, camera, frame)
        except Exception as exc:  # noqa: BLE001 - a full buffer or no broker: drop, never block forever
            log.warning("frame not published", extra={"camera": camera, "error": type(exc).__name__})
            metrics.FRAMES_DROPPED.labels(camera).inc()
            return
        future.add_callback(lambda _meta: metrics.FRAMES_PUBLISHED.labels(camera).inc())
        future.add_errback(lambda _exc: metrics.FRAMES_DROPPED.labels(camera).inc())

    def _publish_health(self, health: CameraHealth) -> None:
        try:
            self.producer.send(self.health_topic, health.camera_id, health)
        except Exception as exc:  # noqa: BLE001 - health is re-sent every interval anyway
            log.warning("health not published", extra={"camera": health.camera_id, "error": type(exc).__name__})

    def start(self) -> None:
        for worker in self.workers:
            thread = threading.Thread(target=worker.run, name=f"camera-{worker.camera.id}", daemon=True)
            thread.start()
            self._threads.append(thread)
        log.info("ingest started", extra={"cameras": ",".join(w.camera.id for w in self.workers)})

    def report_health(self) -> None:
        for worker in self.workers:
            worker.update_gauges()
            self._publish_health(worker.health())

    def run_until_stopped(self) -> None:
        """Publish health every interval until ``stopping`` is set, then stop cleanly."""
        interval = self.config.pipeline.ingest.health_interval_s
        while not self.stopping.wait(interval):
            self.report_health()
        self.stop()

    def dead_threads(self) -> str | None:
        """For /healthz: a camera thread that died while running is a bug worth a restart."""
        dead = [w.camera.id for w, t in zip(self.workers, self._threads, strict=True)
                if not t.is_alive() and not w.finished.is_set()]
        return f"camera threads died: {','.join(dead)}" if dead else None

    def stop(self, timeout_s: float = 10.0) -> None:
        self.stopping.set()
        for thread in self._threads:
            thread.join(timeout_s)
        for worker in self.workers:
            with worker.state.lock:
                worker.state.up, worker.state.reason = False, "ingest stopped"
            worker.update_gauges()
            self._publish_health(worker.health())
        self.producer.flush(timeout_s)


def cameras_for_replica(config: Config, replica_index: int, replicas: int) -> list[str]:
    return assign([c.id for _, c in config.cameras()], replica_index, replicas)


def run(config: Config, replica_index: int, replicas: int) -> int:
    """The service entry point: runs until SIGTERM, then finishes and flushes."""
    from storesight.service import start_service

    runner = start_service("ingest")
    camera_ids = cameras_for_replica(config, replica_index, replicas)
    log.info("replica assignment", extra={"replica": replica_index, "replicas": replicas,
                                          "cameras": ",".join(camera_ids)})
    producer = TypedProducer(config.pipeline.kafka, f"ingest-{replica_index}")
    service = IngestService(config, camera_ids, producer, runner.stopping)
    runner.add_health_check(service.dead_threads)
    service.start()
    runner.set_ready(True)
    try:
        service.run_until_stopped()
    finally:
        producer.close()
        runner.close()
    log.info("ingest stopped")
    return 0
