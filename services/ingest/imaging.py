"""Pixel work for one sampled frame: decode a camera's JPEG, resize to the camera's max width,
JPEG, and the small grey image the motion gate scores. Pixels stay in memory; nothing here
writes them anywhere."""

from __future__ import annotations

import cv2
import numpy as np

GATE_WIDTH = 160
# libjpeg decodes at 1/2, 1/4 or 1/8 scale for a fraction of the full cost (DCT scaling).
REDUCED_DECODE = ((8, cv2.IMREAD_REDUCED_COLOR_8), (4, cv2.IMREAD_REDUCED_COLOR_4), (2, cv2.IMREAD_REDUCED_COLOR_2))
# Start-of-frame markers (baseline, extended, progressive, lossless...): they carry the size.
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def jpeg_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a JPEG's header without decoding it; None if it is not a JPEG.

    >>> import numpy as np
    >>> jpeg_size(encode_jpeg(np.zeros((48, 64, 3), np.uint8), 80)), jpeg_size(b"not a jpeg")
    ((64, 48), None)
    """
    if data[:2] != b"\xff\xd8":
        return None
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # markers without a length
            i += 2
            continue
        length = int.from_bytes(data[i + 2:i + 4], "big")
        if marker in _SOF:
            if i + 9 > len(data):
                return None
            height, width = int.from_bytes(data[i + 5:i + 7], "big"), int.from_bytes(data[i + 7:i + 9], "big")
            return (width, height) if width and height else None
        if marker == 0xDA or length < 2:  # scan data before any frame header: not a usable JPEG
            return None
        i += 2 + length
    return None


def decode_jpeg(data: bytes, max_width: int, size: tuple[int, int] | None = None) -> np.ndarray | None:
    """BGR pixels of a JPEG, decoded at the smallest libjpeg scale (1/8, 1/4, 1/2) still at
    least ``max_width`` wide when ``size`` (its width, height) is known: a 1920-wide frame for
    a 768 camera is decoded at 960 for ~1/3 of the full decode, then resized. None if undecodable."""
    if not data:
        return None
    flag = cv2.IMREAD_COLOR
    if size is not None:
        flag = next((f for scale, f in REDUCED_DECODE if size[0] // scale >= max_width), flag)
    return cv2.imdecode(np.frombuffer(data, np.uint8), flag)


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
