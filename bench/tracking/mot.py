"""CLEAR-MOT and IDF1 of a tracker's boxes against labelled boxes, with TrackEval's rules.

The metrics come from ``trackers.eval`` (Roboflow's port of TrackEval's CLEAR and Identity
code); this module only builds its inputs: per frame the truth ids, the tracker ids and the
IoU matrix. As in TrackEval's MOTChallenge preprocessing, a tracker box that overlaps a box
the truth marks "do not consider" (IoU >= 0.5) is dropped before scoring, so it is neither a
hit nor a false positive.

>>> import numpy as np
>>> from bench.accuracy.groundtruth import TruthFrame
>>> truth = [TruthFrame(np.array([1]), np.array([[0., 0, 10, 20]]), np.zeros((0, 4)))]
>>> score_mot(truth, [(np.array([7]), np.array([[0., 0, 10, 20]]))], 0.5).idf1
1.0
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from trackers.eval import compute_clear_metrics, compute_identity_metrics

from bench.accuracy.groundtruth import TruthFrame


@dataclass(frozen=True)
class MotScore:
    idf1: float
    mota: float
    id_switches: int
    misses: int  # truth boxes not matched
    false_positives: int


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, 4) x (M, 4) xyxy -> (N, M) intersection over union."""
    a, b = np.asarray(a, float).reshape(-1, 4), np.asarray(b, float).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area = lambda x: (x[:, 2] - x[:, 0]) * (x[:, 3] - x[:, 1])  # noqa: E731
    union = area(a)[:, None] + area(b)[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def _drop_on_ignored(ids: np.ndarray, boxes: np.ndarray, ignored: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if len(ignored) == 0 or len(boxes) == 0:
        return ids, boxes
    keep = ~(iou(boxes, ignored) >= 0.5).any(axis=1)
    return ids[keep], boxes[keep]


def score_mot(truth: Sequence[TruthFrame], tracked: Sequence[tuple[np.ndarray, np.ndarray]],
              threshold: float) -> MotScore:
    """``tracked``: per frame (track ids, (N, 4) boxes), same order and length as ``truth``."""
    if len(truth) != len(tracked):
        raise ValueError(f"{len(truth)} truth frames but {len(tracked)} tracked frames")
    gt_ids, tr_ids, sims = [], [], []
    for gt, (ids, boxes) in zip(truth, tracked, strict=True):
        ids, boxes = _drop_on_ignored(np.asarray(ids, int), np.asarray(boxes, float).reshape(-1, 4), gt.ignored)
        gt_ids.append(gt.ids)
        tr_ids.append(ids)
        sims.append(iou(gt.boxes, boxes))
    clear = compute_clear_metrics(gt_ids, tr_ids, sims, threshold=threshold)
    ident = compute_identity_metrics(gt_ids, tr_ids, sims, threshold=threshold)
    return MotScore(float(ident["IDF1"]), float(clear["MOTA"]), int(clear["IDSW"]), int(clear["CLR_FN"]),
                    int(clear["CLR_FP"]))
