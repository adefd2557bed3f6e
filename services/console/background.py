"""People-free calibration pictures, kept only in memory.

Each camera's picture is ``storesight.video.reference_frame`` of its source: the median of
the largest group of near-identical sampled frames (the empty scene), never a single frame
with someone in it. It is encoded as JPEG once, held in this process's memory and served
only to signed-in users; nothing is written to disk or logged.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import cv2
import numpy as np

from storesight.config import Camera
from storesight.video import reference_frame

log = logging.getLogger(__name__)


class BackgroundCache:
    """JPEG bytes of each camera's people-free background, built on first request."""

    def __init__(self, build: Callable[[str], np.ndarray] = reference_frame):
        self._build = build
        self._images: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def jpeg(self, camera: Camera) -> bytes:
        """The picture, scaled to the camera's ``max_width``; OSError if the source cannot be read."""
        with self._lock:  # one camera at a time: decoding a clip is heavy
            cached = self._images.get(camera.id)
            if cached is not None:
                return cached
            frame = self._build(camera.source)
            if frame.shape[1] > camera.max_width:
                scale = camera.max_width / frame.shape[1]
                frame = cv2.resize(frame, (camera.max_width, round(frame.shape[0] * scale)),
                                   interpolation=cv2.INTER_AREA)
            ok, encoded = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 85])
            if not ok:
                raise OSError("cannot encode the background picture")
            self._images[camera.id] = encoded.tobytes()
            log.info("background ready", extra={"camera": camera.id, "width": int(frame.shape[1])})
            return self._images[camera.id]

    def forget(self, camera_id: str | None = None) -> None:
        with self._lock:
            if camera_id is None:
                self._images.clear()
            else:
                self._images.pop(camera_id, None)
