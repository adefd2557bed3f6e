"""YOLOv8-style output -> person boxes: decode, confidence filter, non-maximum suppression.

The model output is ``(batch, 4 + classes, anchors)``: centre x, centre y, width, height in
model-input pixels, then one score per class. Every class of the shipped model is a person
(Normal/Fall), so a candidate's confidence is its best class score and NMS is class-agnostic.
"""

from __future__ import annotations

import numpy as np


def decode(output: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """One image's ``(4 + classes, anchors)`` output -> xyxy boxes (N, 4) and scores (N,) >= confidence."""
    scores = output[4:].max(axis=0)
    keep = scores >= confidence
    cx, cy, w, h = output[:4, keep]
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1).astype(np.float32)
    return boxes, scores[keep].astype(np.float32)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of every xyxy box in ``a`` (N, 4) with every one in ``b`` (M, 4)."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), dtype=np.float32)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0).astype(np.float32)


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float, max_candidates: int = 3000) -> np.ndarray:
    """Indices of the boxes kept by greedy NMS, best score first.

    A box is suppressed when it overlaps a better kept box by more than ``iou``.
    """
    order = np.argsort(-scores, kind="stable")[:max_candidates]
    overlaps = iou_matrix(boxes[order], boxes[order])
    suppressed = np.zeros(len(order), dtype=bool)
    kept = []
    for i in range(len(order)):
        if suppressed[i]:
            continue
        kept.append(order[i])
        suppressed |= overlaps[i] > iou
    return np.asarray(kept, dtype=np.int64)


def detect_people(output: np.ndarray, confidence: float, iou: float) -> np.ndarray:
    """One image's raw output -> (N, 5) rows ``x1, y1, x2, y2, score`` in model-input pixels."""
    boxes, scores = decode(output, confidence)
    if len(scores) == 0:
        return np.zeros((0, 5), dtype=np.float32)
    keep = nms(boxes, scores, iou)
    return np.concatenate([boxes[keep], scores[keep, None]], axis=1)
