"""Pixel work for one sampled frame: resize to the camera's max width, JPEG, and the small
grey image the motion gate scores. Pixels stay in memory; nothing here writes them anywhere."""

from __future__ import annotations

import cv2
import numpy as np

GATE_WIDTH = 160


def fit_width(image: np.ndarray, max_width: int) -> np.ndarray:
    """Downscale to ``max_width`` (never up). Area averaging for big reductions (it removes
    noise and aliasing); bilinear for small ones, where it looks the same at ~1/4 of the cost."""
    height, width = image.shape[:2]
    if width <= max_width:
        return image
    interpolation = cv2.INTER_AREA if width >= 2 * max_width else cv2.INTER_LINEAR
    return cv2.resize(image, (max_width, max(1, round(height * max_width / width))),
                      interpolation=interpolation)


def encode_jpeg(image: np.ndarray, quality: int) -> bytes:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()


def gate_grey(image: np.ndarray) -> np.ndarray:
    """A small grey copy (area-averaged, so sensor noise mostly cancels) for the motion gate."""
    small = fit_width(image, GATE_WIDTH)
    return cv2.cvtColor(small, cv2.COLOR_BGR2GRAY) if small.ndim == 3 else small
