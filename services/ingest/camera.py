"""One camera's loop: open the source, take sampled frames, gate, encode, publish; on any
failure report the camera down, back off with jitter and reconnect. One thread per camera,
so a dead or slow camera never stalls the others."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from services.ingest import metrics
from services.ingest.backoff import Backoff
from services.ingest.imaging import decode_jpeg, encode_jpeg, fit_width, gate_grey, jpeg_size
from services.ingest.motion import MotionGate
from services.ingest.sources import (
    DEFAULT_START,
    Captured,
    EndOfStream,
    SourceError,
    Tally,
    open_source,
    source_kind,
)
from storesight.config import Camera, IngestSettings
from storesight.contracts import CameraHealth, Frame, to_timestamp

log = logging.getLogger(__name__)


@dataclass
class CameraState:
    """What ``CameraHealth`` reports. Down until the first frame: unknown is not up."""

    up: bool = False
    reason: str = "starting"
    last_frame_time: dt.datetime | None = None
    last_frame_monotonic: float | None = None
    reconnects: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


class CameraWorker:
    def __init__(self, store_id: str, camera: Camera, settings: IngestSettings,
                 publish_frame: Callable[[Frame], None],
                 publish_health: Callable[[CameraHealth], None],
                 stopping: threading.Event, tz: dt.tzinfo = dt.UTC):
        self.store_id, self.camera, self.settings, self.tz = store_id, camera, settings, tz
        self.publish_frame, self.publish_health, self.stopping = publish_frame, publish_health, stopping
        self.state = CameraState()
        self.seq = 0
        gate = camera.motion_gate
        self.gate = MotionGate(gate.threshold, gate.pixel_delta, gate.keepalive_s) if gate.enabled else None
        self.finished = threading.Event()  # set when the loop has returned (file ended or stopping)
        # A replayed file has its own clock (capture = start_time + position / fps): health reports
        # use it too, or a replay dated in the past would move later stages' event time to "now".
        self.replay = source_kind(camera.source) == "file"
        self._replay_offset: dt.timedelta | None = None
        label = camera.id
        self._captured = metrics.FRAMES_CAPTURED.labels(label)
        self._dropped = metrics.FRAMES_DROPPED.labels(label)
        self._skipped = metrics.FRAMES_SKIPPED_MOTION.labels(label)
        self._reconnects = metrics.RECONNECTS.labels(label)
        self._errors = metrics.SOURCE_ERRORS.labels(label)
        metrics.CAMERA_UP.labels(label).set(0)
        metrics.LAST_FRAME_AGE.labels(label).set(float("nan"))

    # --- health -------------------------------------------------------------------------
    def clock(self) -> dt.datetime:
        """Now on this camera's clock: the wall clock, or for a replayed file the replay clock
        (wall time shifted to match the frames' capture times; the start time before any frame)."""
        wall = dt.datetime.now(dt.UTC)
        if not self.replay:
            return wall
        if self._replay_offset is None:
            return self.camera.start_time or DEFAULT_START
        return wall + self._replay_offset

    def health(self, now: dt.datetime | None = None) -> CameraHealth:
        report_time = now or self.clock()
        with self.state.lock:
            msg = CameraHealth(camera_id=self.camera.id, store_id=self.store_id,
                               status=CameraHealth.STATUS_UP if self.state.up else CameraHealth.STATUS_DOWN,
                               report_time=to_timestamp(report_time),
                               reason="" if self.state.up else self.state.reason,
                               reconnects=self.state.reconnects)
            if self.state.last_frame_time is not None:
                msg.last_frame_time.CopyFrom(to_timestamp(self.state.last_frame_time))
            return msg

    def update_gauges(self) -> None:
        with self.state.lock:
            seen = self.state.last_frame_monotonic
            up = self.state.up
        metrics.CAMERA_UP.labels(self.camera.id).set(1 if up else 0)
        metrics.LAST_FRAME_AGE.labels(self.camera.id).set(
            float("nan") if seen is None else time.monotonic() - seen)

    def _set_status(self, up: bool, reason: str = "") -> None:
        with self.state.lock:
            changed = self.state.up != up or (not up and self.state.reason != reason)
            self.state.up, self.state.reason = up, reason
        if changed:
            self.update_gauges()
            self.publish_health(self.health())

    # --- the loop -----------------------------------------------------------------------
    def run(self) -> None:
        backoff = Backoff(self.settings.reconnect_initial_s, self.settings.reconnect_max_s)
        tally = Tally(on_captured=self._captured.inc, on_dropped=lambda n: n and self._dropped.inc(n),
                      on_bad_input=lambda _what: self._errors.inc(),
                      on_decode_cpu=metrics.STAGE_CPU.labels("decode").inc)
        source = open_source(self.camera, tally, self.tz)
        try:
            while not self.stopping.is_set():
                try:
                    source.open()
                    self._stream(source, backoff)
                except EndOfStream as exc:
                    log.info("camera source ended", extra={"camera": self.camera.id, "reason": str(exc)})
                    self._set_status(False, str(exc))
                    return
                except SourceError as exc:
                    self._failed(str(exc))
                except Exception as exc:  # noqa: BLE001 - one camera's bug must not take the others down
                    log.exception("camera loop error", extra={"camera": self.camera.id})
                    self._failed(f"internal error: {type(exc).__name__}")
                finally:
                    source.close()
                if self.stopping.is_set():
                    break
                delay = backoff.next_delay()
                log.warning("camera down, reconnecting", extra={
                    "camera": self.camera.id, "kind": source_kind(self.camera.source),
                    "reason": self.state.reason, "retry_in_s": round(delay, 2), "attempt": backoff.failures})
                if self.stopping.wait(delay):
                    break
                with self.state.lock:
                    self.state.reconnects += 1
                self._reconnects.inc()
        finally:
            self.finished.set()

    def _failed(self, reason: str) -> None:
        self._errors.inc()
        self._set_status(False, reason)

    def _stream(self, source, backoff: Backoff) -> None:
        if self.gate is not None:
            self.gate.reset()
        while not self.stopping.is_set():
            captured = source.next_frame(timeout_s=0.5)
            if captured is None:
                continue
            with self.state.lock:
                self.state.last_frame_time = captured.capture_time
                self.state.last_frame_monotonic = time.monotonic()
            if self.replay and self._replay_offset is None:
                self._replay_offset = captured.capture_time - dt.datetime.now(dt.UTC)
            if not self.state.up:
                backoff.reset()
                log.info("camera up", extra={"camera": self.camera.id})
                self._set_status(True)
            self.process(captured)

    def process(self, captured: Captured) -> Frame | None:
        """Gate, resize, encode and publish one sampled frame; the frame, or None if skipped.

        A camera JPEG that already fits ``max_width`` is sent as it is (decoded only if the
        motion gate needs its pixels); a larger one is decoded at a reduced scale, resized and
        encoded at ``jpeg_quality``. Decoded frames (video, RTSP) are resized and encoded."""
        started = time.perf_counter()
        cpu = time.thread_time()
        image, jpeg, max_width = captured.image, captured.jpeg, self.camera.max_width
        size = None
        if image is None:  # the camera's JPEG, not decoded yet
            size = jpeg_size(jpeg or b"")
            if size is None or size[0] > max_width:
                jpeg = None  # too wide (or no usable header): decode, resize and encode
            if jpeg is None or self.gate is not None:
                image = decode_jpeg(captured.jpeg or b"", max_width, size)
                cpu = self._spent("decode", cpu)
                if image is None:
                    log.warning("skipping a camera frame that cannot be decoded", extra={"camera": self.camera.id})
                    self._errors.inc()
                    return None
        if image is not None:
            image = fit_width(image, max_width)
            cpu = self._spent("resize", cpu)
            size = image.shape[1], image.shape[0]
        score, keepalive = 1.0, False
        if self.gate is not None:
            decision = self.gate.decide(gate_grey(image), captured.capture_time.timestamp())
            cpu = self._spent("gate", cpu)
            if not decision.send:
                self._skipped.inc()
                return None
            score, keepalive = decision.score, decision.keepalive
        if jpeg is None:
            jpeg = encode_jpeg(image, self.camera.jpeg_quality)
            cpu = self._spent("encode", cpu)
        metrics.ENCODE_SECONDS.observe(time.perf_counter() - started)
        self.seq += 1
        frame = Frame(camera_id=self.camera.id, store_id=self.store_id, seq=self.seq,
                      capture_time=to_timestamp(captured.capture_time), width=size[0],
                      height=size[1], jpeg=jpeg, motion_score=score, keepalive=keepalive)
        self.publish_frame(frame)
        self._spent("publish", cpu)
        return frame

    @staticmethod
    def _spent(stage: str, since: float) -> float:
        """Add this thread's CPU since ``since`` to ``stage``; returns the new mark."""
        now = time.thread_time()
        metrics.STAGE_CPU.labels(stage).inc(now - since)
        return now
