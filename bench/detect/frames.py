"""Benchmark input: JPEG frames of the Intel clip, encoded as ingest would send them."""

from __future__ import annotations

import cv2

from storesight.video import every_nth_frame
from tests.support.servers import INTEL_CLIP


def intel_jpegs(count: int, quality: int = 80) -> list[bytes]:
    """``count`` JPEGs from the Intel clip (frames with and without people), looping if needed."""
    if not INTEL_CLIP.exists():
        raise SystemExit(f"benchmark clip {INTEL_CLIP} not found")
    images = [image for _, _, image in every_nth_frame(INTEL_CLIP, every=7)]
    jpegs = []
    for i in range(count):
        ok, data = cv2.imencode(".jpg", images[i % len(images)], [cv2.IMWRITE_JPEG_QUALITY, quality])
        jpegs.append(data.tobytes())
    return jpegs
