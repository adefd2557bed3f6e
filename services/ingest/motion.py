"""Motion gate: skip frames where nothing is there or moving, but send a keep-alive.

Scoring is background subtraction on a small grey image, with a selective running average:
pixels that look like background adapt fast (noise, light), pixels that look like foreground
adapt very slowly. So a person standing still at a counter stays foreground for minutes and
is never skipped, while an empty, static scene scores ~0. A frame is sent when the score
(fraction of pixels further than ``pixel_delta`` from the background, or from the last sent
frame) reaches ``threshold``, or when nothing was sent for ``keepalive_s`` of capture time,
so later stages can tell "empty" from "unknown".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class GateDecision:
    send: bool
    score: float
    keepalive: bool


class MotionGate:
    """One per camera. ``decide(grey, capture_s)`` takes a small uint8 grey image.

    ``background_tau_s``: time constant for background pixels; ``foreground_tau_s`` for
    foreground pixels (how long a still object takes to become background).
    """

    def __init__(self, threshold: float, pixel_delta: int, keepalive_s: float,
                 background_tau_s: float = 2.0, foreground_tau_s: float = 180.0):
        self.threshold = threshold
        self.pixel_delta = pixel_delta
        self.keepalive_s = keepalive_s
        self.background_tau_s = background_tau_s
        self.foreground_tau_s = foreground_tau_s
        self.reset()

    def reset(self) -> None:
        """Forget the scene (after a reconnect the camera may point elsewhere)."""
        self._background: np.ndarray | None = None
        self._last_sent: np.ndarray | None = None
        self._last_sent_s: float | None = None
        self._last_seen_s: float | None = None

    def score(self, grey: np.ndarray) -> float:
        """Fraction of pixels that differ from the background or from the last sent frame."""
        if self._background is None or self._last_sent is None or grey.shape != self._background.shape:
            return 1.0
        image = grey.astype(np.float32)
        moving = (np.abs(image - self._background) > self.pixel_delta) | (
            np.abs(image - self._last_sent) > self.pixel_delta)
        return float(np.count_nonzero(moving)) / moving.size

    def decide(self, grey: np.ndarray, capture_s: float) -> GateDecision:
        score = self.score(grey)
        motion = score >= self.threshold
        keepalive = not motion and (self._last_sent_s is None
                                    or capture_s - self._last_sent_s >= self.keepalive_s)
        send = motion or keepalive
        self._learn(grey, capture_s)
        if send:
            self._last_sent = grey.astype(np.float32)
            self._last_sent_s = capture_s
        return GateDecision(send=send, score=score, keepalive=keepalive and not motion)

    def _learn(self, grey: np.ndarray, capture_s: float) -> None:
        image = grey.astype(np.float32)
        if self._background is None or image.shape != self._background.shape:
            self._background = image
            self._last_seen_s = capture_s
            return
        dt = max(0.0, capture_s - (self._last_seen_s if self._last_seen_s is not None else capture_s))
        self._last_seen_s = capture_s
        fast = 1.0 - math.exp(-dt / self.background_tau_s)
        slow = 1.0 - math.exp(-dt / self.foreground_tau_s)
        foreground = np.abs(image - self._background) > self.pixel_delta
        rate = np.where(foreground, np.float32(slow), np.float32(fast))
        self._background += rate * (image - self._background)
