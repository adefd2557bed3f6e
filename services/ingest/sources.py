"""Camera sources behind one interface (the I/O shell around ``sampling`` and ``stills``).

``open_source(camera)`` picks the kind from the URL: a path or ``file://`` = video file,
``rtsp://`` = RTSP, ``http(s)://`` = MJPEG, ``dir://PATH`` = image folder, ``device://N``
= local device. Every source has ``open()``, ``next_frame(timeout_s)`` (the next frame to
process, already sampled to the camera's fps, or None if none yet) and ``close()``; failures
raise ``SourceError`` with a short reason for logs and ``CameraHealth``.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

from services.ingest.sampling import CaptureTimeSampler, ClipSampler, LiveSchedule
from services.ingest.stills import Still, new_stills
from storesight.config import Camera

log = logging.getLogger(__name__)

# Replays without a configured start_time begin here, so they are still deterministic.
DEFAULT_START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
# OpenCV/FFmpeg waits at most this long to connect and for each frame of a network stream.
NETWORK_TIMEOUT_MS = 5000
# A network camera must answer a first request within this before OpenCV is asked to open it.
PROBE_TIMEOUT_S = 2.0
# FFmpeg options for network streams (unless the environment sets its own): RTSP over TCP
# (no lost UDP packets through NAT/firewalls), and a short probe so a reconnect takes ~0.5 s, not ~3 s.
FFMPEG_STREAM_OPTIONS = "rtsp_transport;tcp|analyzeduration;500000"
# A folder file must be this old before it is read, so half-written files are not.
STILL_SETTLE_S = 0.3
FOLDER_POLL_S = 0.25


class SourceError(Exception):
    """The source cannot deliver frames now; ``str()`` is the reason."""


class EndOfStream(SourceError):
    """A video file ended normally: nothing to reconnect to."""


@dataclass(frozen=True)
class Captured:
    image: np.ndarray | None  # BGR, as decoded; None when only ``jpeg`` is here
    capture_time: dt.datetime  # UTC
    # The camera's own JPEG, not decoded (an MJPEG stream read packet by packet): ingest sends it
    # as it is when it fits the camera's max width, and decodes it only if it must.
    jpeg: bytes | None = None


@dataclass
class Tally:
    """Counts a source reports (the camera shell turns them into metrics)."""

    on_captured: Callable[[int], None] = lambda n: None
    on_dropped: Callable[[int], None] = lambda n: None
    # An input that was skipped because it cannot be used (an undecodable still).
    on_bad_input: Callable[[str], None] = lambda what: None
    # CPU seconds the reading thread spent reading and decoding frames (sampled or not).
    on_decode_cpu: Callable[[float], None] = lambda seconds: None


def source_kind(url: str) -> str:
    for prefix, kind in (("rtsp://", "rtsp"), ("rtsps://", "rtsp"), ("http://", "mjpeg"),
                         ("https://", "mjpeg"), ("dir://", "folder"), ("device://", "device"),
                         ("file://", "file")):
        if url.lower().startswith(prefix):
            return kind
    return "file"


def open_source(camera: Camera, tally: Tally | None = None, tz: dt.tzinfo = dt.UTC):
    tally = tally or Tally()
    kind = source_kind(camera.source)
    if kind == "file":
        path = camera.source[len("file://"):] if camera.source.startswith("file://") else camera.source
        return FileSource(path, camera.fps, camera.realtime, camera.start_time or DEFAULT_START, tally)
    if kind == "folder":
        return FolderSource(camera.source[len("dir://"):], camera.fps, tally, tz)
    if kind == "device":
        return LiveSource(camera.source, camera.fps, tally, device=int(camera.source[len("device://"):]))
    return LiveSource(camera.source, camera.fps, tally)


def _sleep_until(deadline: float, stop_at: float) -> bool:
    """Sleep until ``deadline`` (monotonic) unless ``stop_at`` comes first; True if reached."""
    remaining = min(deadline, stop_at) - time.monotonic()
    if remaining > 0:
        time.sleep(remaining)
    return deadline <= stop_at


class FileSource:
    """A video file: frame i has capture time start + i / clip fps, whatever the speed.

    ``realtime`` paces frames at the clip's speed; if processing falls behind by more than
    one sample, late frames are dropped so the newest is sent. Otherwise as fast as possible.
    """

    def __init__(self, path: str, fps: float, realtime: bool, start: dt.datetime, tally: Tally):
        self.path, self.fps, self.realtime, self.start, self.tally = path, fps, realtime, start, tally
        self.index = 0  # next frame index; kept across re-opens so a replay never repeats
        self._cap = None
        self._sampler: ClipSampler | None = None
        self._wall_start = 0.0

    def open(self) -> None:
        import cv2

        if not os.path.isfile(self.path):
            raise SourceError("file not found")
        cap = cv2.VideoCapture(self.path, cv2.CAP_FFMPEG)
        if not cap.isOpened():
            cap.release()
            raise SourceError("cannot open video file (corrupt or unsupported)")
        clip_fps = cap.get(cv2.CAP_PROP_FPS)
        if not clip_fps or not 0 < clip_fps <= 240:
            cap.release()
            raise SourceError("video file has no frame rate")
        for _ in range(self.index):  # resume after a re-open
            if not cap.grab():
                break
        self._cap, self._sampler = cap, ClipSampler(clip_fps, self.fps)
        self._wall_start = time.monotonic() - self.index / clip_fps

    def next_frame(self, timeout_s: float) -> Captured | None:
        cap, sampler = self._cap, self._sampler
        stop_at = time.monotonic() + timeout_s
        while True:
            i = self.index
            if self.realtime and not _sleep_until(self._wall_start + i / sampler.clip_fps, stop_at):
                return None
            cpu = time.thread_time()
            grabbed = cap.grab()
            self.tally.on_decode_cpu(time.thread_time() - cpu)
            if not grabbed:
                if i == 0:
                    raise SourceError("no decodable frame in video file")
                raise EndOfStream("end of file")
            self.index += 1
            self.tally.on_captured(1)
            if not sampler.wants(i):
                continue
            if self.realtime:
                now_index = (time.monotonic() - self._wall_start) * sampler.clip_fps
                if now_index - i > sampler.clip_fps / self.fps:  # more than one sample behind
                    self.tally.on_dropped(1)
                    continue
            cpu = time.thread_time()
            ok, image = cap.retrieve()
            self.tally.on_decode_cpu(time.thread_time() - cpu)
            if not ok:
                raise SourceError(f"cannot decode frame {i}")
            return Captured(image, self.start + dt.timedelta(seconds=i / sampler.clip_fps))

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class _NewestFrame:
    """A one-frame slot: the reader overwrites it, the sampler takes the newest. Never a queue."""

    def __init__(self):
        self._cond = threading.Condition()
        self._frame: Captured | None = None
        self._number = 0
        self._taken = 0
        self._waiting_since: float | None = None  # monotonic: when an untaken frame first arrived
        self.error: str | None = None

    def put(self, frame: Captured) -> None:
        with self._cond:
            self._frame, self._number = frame, self._number + 1
            if self._waiting_since is None:
                self._waiting_since = time.monotonic()
            self._cond.notify_all()

    def fail(self, reason: str) -> None:
        with self._cond:
            self.error = reason
            self._cond.notify_all()

    def take(self, timeout_s: float) -> tuple[Captured | None, float | None]:
        """The newest untaken frame (waiting up to ``timeout_s``) and since when one was waiting."""
        with self._cond:
            self._cond.wait_for(lambda: self._number > self._taken or self.error is not None, timeout_s)
            if self._number > self._taken:
                waiting_since, self._waiting_since, self._taken = self._waiting_since, None, self._number
                return self._frame, waiting_since
            if self.error is not None:
                raise SourceError(self.error)
            return None, None


def is_mjpeg(cap) -> bool:
    """True when an opened FFmpeg capture's codec is Motion JPEG (its packets are whole JPEGs)."""
    import cv2

    code = int(cap.get(cv2.CAP_PROP_FOURCC)) & 0xFFFFFFFF
    return code.to_bytes(4, "little").upper() in (b"MJPG", b"JPEG")


_DEFAULT_PORTS = {"rtsp": 554, "rtsps": 322, "http": 80, "https": 443}


def probe_stream(url: str, timeout_s: float = PROBE_TIMEOUT_S) -> None:
    """Raise SourceError unless the camera's server answers a first request within ``timeout_s``.

    Why: OpenCV's FFmpeg backend opens captures under one process-wide lock, so a camera that
    accepts the connection but never answers would hold every other camera's (re)connect for
    the whole open timeout. This probe runs in the camera's own thread, outside that lock.
    It sends no credentials (an RTSP 401 is an answer) and only reads the first bytes.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host, port = parts.hostname or "", parts.port or _DEFAULT_PORTS.get(scheme, 80)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    if scheme.startswith("rtsp"):
        request = f"OPTIONS {scheme}://{host}:{port}{target} RTSP/1.0\r\nCSeq: 1\r\n\r\n"
    else:
        request = f"GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as raw:
            sock = raw
            if scheme in ("https", "rtsps"):
                context = ssl.create_default_context()
                context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # liveness only
                sock = context.wrap_socket(raw, server_hostname=host)
            sock.sendall(request.encode())
            first = sock.recv(16)
    except TimeoutError:
        raise SourceError(f"no answer within {timeout_s:g} s") from None
    except OSError as exc:
        raise SourceError(f"cannot connect: {exc.strerror or type(exc).__name__}") from None
    if not first:
        raise SourceError("connection closed without an answer")


class LiveSource:
    """RTSP, HTTP MJPEG or a device: a reader thread decodes every frame into a one-frame slot;
    ``next_frame`` waits for the next due time and takes the newest frame there."""

    def __init__(self, url: str, fps: float, tally: Tally, device: int | None = None):
        self.url, self.fps, self.tally, self.device = url, fps, tally, device
        self._slot = _NewestFrame()
        self._schedule = LiveSchedule(fps)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_new = 0.0
        self.raw_jpeg = False  # True while the stream is read as undecoded JPEGs

    def open(self) -> None:
        import cv2

        if self.device is not None:
            cap = cv2.VideoCapture(self.device)
        else:
            probe_stream(self.url)
            os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", FFMPEG_STREAM_OPTIONS)
            cap = cv2.VideoCapture(self.url, cv2.CAP_FFMPEG, [
                cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, NETWORK_TIMEOUT_MS,
                cv2.CAP_PROP_READ_TIMEOUT_MSEC, NETWORK_TIMEOUT_MS])
        if not cap.isOpened():
            cap.release()
            raise SourceError("cannot connect" if self.device is None else "cannot open device")
        # An MJPEG stream (HTTP multipart or RTP/JPEG) is a series of whole JPEGs: read them
        # undecoded (FFmpeg's raw mode), so frames the sampler does not take are never decoded.
        self.raw_jpeg = self.device is None and is_mjpeg(cap) and cap.set(cv2.CAP_PROP_FORMAT, -1)
        self._slot, self._schedule, self._stop = _NewestFrame(), LiveSchedule(self.fps), threading.Event()
        self._last_new = time.monotonic()
        self._thread = threading.Thread(target=self._read_loop, args=(cap, self._slot, self._stop, self.raw_jpeg),
                                        name="reader", daemon=True)
        self._thread.start()

    def _read_loop(self, cap, slot: _NewestFrame, stop: threading.Event, raw_jpeg: bool) -> None:
        try:
            while not stop.is_set():
                cpu = time.thread_time()
                ok, image = cap.read()  # blocks for the next frame: waiting costs no CPU
                self.tally.on_decode_cpu(time.thread_time() - cpu)
                if not ok or image is None:
                    slot.fail("stream ended or read timed out")
                    return
                self.tally.on_captured(1)
                now = dt.datetime.now(dt.UTC)
                slot.put(Captured(None, now, image.tobytes()) if raw_jpeg else Captured(image, now))
        except Exception as exc:  # noqa: BLE001 - any decoder failure is a source failure
            slot.fail(f"read error: {type(exc).__name__}")
        finally:
            cap.release()

    def next_frame(self, timeout_s: float) -> Captured | None:
        stop_at = time.monotonic() + timeout_s
        if not _sleep_until(time.monotonic() + self._schedule.wait_s(time.monotonic()), stop_at):
            return None
        frame, waiting_since = self._slot.take(max(0.0, stop_at - time.monotonic()))
        now = time.monotonic()
        if frame is None:
            if now - self._last_new > NETWORK_TIMEOUT_MS / 1000 + 1:
                raise SourceError("no frames (stalled)")
            return None
        self._last_new = now
        self.tally.on_dropped(self._schedule.taken(now, waiting_since))
        return frame

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(NETWORK_TIMEOUT_MS / 1000 + 1)
            self._thread = None


class FolderSource:
    """A folder of stills: new files are read in capture-time order and sampled to fps by
    capture time. Files that cannot be decoded are logged, counted and skipped."""

    def __init__(self, path: str, fps: float, tally: Tally, tz: dt.tzinfo = dt.UTC):
        self.path, self.tally, self.tz = Path(path), tally, tz
        self._sampler = CaptureTimeSampler(fps)
        self._cursor: Still | None = None  # kept across re-opens: a file is never read twice
        self._pending: list[Still] = []

    def open(self) -> None:
        if not self.path.is_dir():
            raise SourceError("folder missing")
        if self._cursor is None:
            # Start with what arrives from now on, not the folder's whole history.
            stills = new_stills(self._listing(), None, self.tz)
            self._cursor = stills[-1] if stills else None

    def _listing(self) -> dict[str, float]:
        try:
            with os.scandir(self.path) as entries:
                return {e.name: e.stat().st_mtime for e in entries if e.is_file()}
        except OSError:
            raise SourceError("folder missing or unreadable") from None

    def next_frame(self, timeout_s: float) -> Captured | None:
        import cv2

        stop_at = time.monotonic() + timeout_s
        while True:
            if not self._pending:
                now = time.time()
                listing = {n: m for n, m in self._listing().items() if m <= now - STILL_SETTLE_S}
                self._pending = new_stills(listing, self._cursor, self.tz)
                if not self._pending:
                    _sleep_until(time.monotonic() + FOLDER_POLL_S, stop_at)
                    if time.monotonic() >= stop_at:
                        return None
                    continue
            still = self._pending.pop(0)
            self._cursor = still
            self.tally.on_captured(1)
            if not self._sampler.offer(still.capture_s):
                continue
            cpu = time.thread_time()
            image = cv2.imread(str(self.path / still.name), cv2.IMREAD_COLOR)
            self.tally.on_decode_cpu(time.thread_time() - cpu)
            if image is None:
                log.warning("skipping an image that cannot be decoded", extra={"file": still.name})
                self.tally.on_bad_input(still.name)
                continue
            return Captured(image, dt.datetime.fromtimestamp(still.capture_s, dt.UTC))

    def close(self) -> None:
        self._pending = []
