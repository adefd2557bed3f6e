"""Letterbox: fit any image into the model's square input without distorting it.

The image is scaled by one factor, centred, and the borders are filled with grey (114), as
the YOLO models were trained. ``Letterbox`` keeps the factor and padding so boxes can be
mapped back to the original pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

PAD_VALUE = 114


@dataclass(frozen=True)
class Letterbox:
    """How one image was placed into the model input: ``model = image * scale + (pad_x, pad_y)``."""

    scale: float
    pad_x: int
    pad_y: int
    width: int
    height: int

    def to_image(self, boxes: np.ndarray) -> np.ndarray:
        """Map xyxy boxes (N, 4) from model input pixels back to image pixels, clipped to the image."""
        out = boxes.astype(np.float32, copy=True)
        out[:, [0, 2]] = (out[:, [0, 2]] - self.pad_x) / self.scale
        out[:, [1, 3]] = (out[:, [1, 3]] - self.pad_y) / self.scale
        out[:, [0, 2]] = np.clip(out[:, [0, 2]], 0, self.width)
        out[:, [1, 3]] = np.clip(out[:, [1, 3]], 0, self.height)
        return out


def place(width: int, height: int, size: int) -> Letterbox:
    """Scale and centring padding that fit a width x height image into size x size."""
    scale = min(size / width, size / height)
    new_w, new_h = round(width * scale), round(height * scale)
    return Letterbox(scale, (size - new_w) // 2, (size - new_h) // 2, width, height)


def letterbox_batch(images: list[np.ndarray], size: int) -> tuple[np.ndarray, list[Letterbox]]:
    """BGR uint8 images (any sizes) -> float32 NCHW RGB batch in 0..1 plus each image's placement.

    Resizing is per image (sizes differ); colour swap, layout change and scaling are one
    vectorised pass over the whole batch.
    """
    canvas = np.full((len(images), size, size, 3), PAD_VALUE, dtype=np.uint8)
    boxes = []
    for i, image in enumerate(images):
        height, width = image.shape[:2]
        box = place(width, height, size)
        new_w, new_h = round(width * box.scale), round(height * box.scale)
        resized = image if (new_w, new_h) == (width, height) else cv2.resize(
            image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
        canvas[i, box.pad_y:box.pad_y + new_h, box.pad_x:box.pad_x + new_w] = resized
        boxes.append(box)
    batch = np.ascontiguousarray(canvas[..., ::-1].transpose(0, 3, 1, 2), dtype=np.float32)
    batch *= 1.0 / 255.0
    return batch, boxes
