"""Letterbox: fit any image into the model's input without distorting it.

The image is scaled by one factor, centred, and the borders are filled with grey (114), as
the YOLO models were trained. ``Letterbox`` keeps the factor and padding so boxes can be
mapped back to the original pixels.

The input shape (``input_shape``) either follows the frame (``fit="frame"``: the long side is
``size``, the short side the frame's aspect rounded up to a multiple of 32, so a 768x432 frame
runs as 640x384, not as 640x640 of which 44 % is grey bars) or is ``size x size``
(``fit="square"``: what a model with a fixed input needs).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

PAD_VALUE = 114
MULTIPLE = 32  # the model's largest stride: input sides must be multiples of it
FITS = ("frame", "square")


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


def input_shape(width: int, height: int, size: int, fit: str = "frame") -> tuple[int, int]:
    """(input width, input height) for a width x height frame: long side ``size``, see the module doc.

    >>> input_shape(768, 432, 640), input_shape(384, 288, 640), input_shape(1920, 1080, 1280)
    ((640, 384), (640, 480), (1280, 736))
    >>> input_shape(432, 768, 640), input_shape(768, 432, 640, fit="square")
    ((384, 640), (640, 640))
    """
    if fit not in FITS:
        raise ValueError(f"unknown letterbox fit {fit!r} (one of {', '.join(FITS)})")
    if size % MULTIPLE:
        raise ValueError(f"input size {size} is not a multiple of {MULTIPLE}")
    if fit == "square":
        return size, size
    scale = size / max(width, height)

    def side(pixels: int) -> int:
        return max(MULTIPLE, math.ceil(round(pixels * scale) / MULTIPLE) * MULTIPLE)

    return side(width), side(height)


@dataclass(frozen=True)
class InputSize:
    """One camera's model input: long side ``size`` (a multiple of 32) and ``fit`` (frame or square).

    >>> InputSize(960).shape(1920, 1080), InputSize(640, "square").shape(1920, 1080)
    ((960, 544), (640, 640))
    """

    size: int
    fit: str = "frame"

    def shape(self, width: int, height: int) -> tuple[int, int]:
        return input_shape(width, height, self.size, self.fit)


def place(width: int, height: int, size: int, input_height: int | None = None) -> Letterbox:
    """Scale and centring padding that fit a width x height image into ``size`` x ``input_height``.

    ``size`` is the input width (and its height too when ``input_height`` is not given).
    """
    input_width, input_height = size, input_height or size
    scale = min(input_width / width, input_height / height)
    new_w, new_h = round(width * scale), round(height * scale)
    return Letterbox(scale, (input_width - new_w) // 2, (input_height - new_h) // 2, width, height)


def letterbox(images: list[np.ndarray], shape: tuple[int, int]) -> tuple[np.ndarray, list[Letterbox]]:
    """BGR uint8 images (any sizes) -> float32 NCHW RGB batch in 0..1 of ``shape`` (width, height).

    Resizing is per image (sizes differ); colour swap, layout change and scaling are one
    vectorised pass over the whole batch. Returns each image's placement too.
    """
    input_width, input_height = shape
    canvas = np.full((len(images), input_height, input_width, 3), PAD_VALUE, dtype=np.uint8)
    boxes = []
    for i, image in enumerate(images):
        height, width = image.shape[:2]
        box = place(width, height, input_width, input_height)
        new_w, new_h = round(width * box.scale), round(height * box.scale)
        resized = image if (new_w, new_h) == (width, height) else cv2.resize(
            image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
        canvas[i, box.pad_y:box.pad_y + new_h, box.pad_x:box.pad_x + new_w] = resized
        boxes.append(box)
    batch = np.ascontiguousarray(canvas[..., ::-1].transpose(0, 3, 1, 2), dtype=np.float32)
    batch *= 1.0 / 255.0
    return batch, boxes


def letterbox_batch(images: list[np.ndarray], size: int) -> tuple[np.ndarray, list[Letterbox]]:
    """Images of any sizes -> one ``size`` x ``size`` batch (a fixed-input model's letterbox)."""
    return letterbox(images, (size, size))


def group_by_shape(shapes: list[tuple[int, int]]) -> dict[tuple[int, int], list[int]]:
    """Indices of the images per input shape, in order: each group runs as one batch.

    >>> group_by_shape([(640, 384), (640, 480), (640, 384)])
    {(640, 384): [0, 2], (640, 480): [1]}
    """
    groups: dict[tuple[int, int], list[int]] = {}
    for i, shape in enumerate(shapes):
        groups.setdefault(shape, []).append(i)
    return groups
