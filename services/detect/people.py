"""The one type people travel as through detect: ``supervision.Detections``.

From the backend's NMS to the ``Detections`` message and the ``detect-file`` JSON line, one frame's
people are one ``sv.Detections`` (the type the tracker library takes and returns), so no hop
converts them. Fields used:

- ``xyxy`` (N, 4): image pixels out of the backend, normalised 0..1 of the image (origin
  top-left) from ``pipeline.normalise`` on;
- ``confidence`` (N,): the detector's score (0.0 for a predicted box);
- ``tracker_id`` (N,): set by the tracker; 0 = a confident detection not (yet) on a confirmed track;
- ``data["predicted"]`` (N,): True for a briefly hidden tracked person, at the tracker's prediction.

>>> from_rows(np.array([[10, 20, 30, 90, 0.8]], dtype=np.float32)).confidence.tolist()
[0.800000011920929]
>>> found = people([[0.1, 0.2, 0.3, 0.9], [0.3, -0.1, 0.1, 1.2]], [0.8, 0.0], track_id=[7, 3],
...                predicted=[False, True])
>>> feet(found).tolist()
[[0.2, 0.9], [0.2, 1.2]]
>>> clipped(found).xyxy[1].tolist()
[0.1, 0.0, 0.3, 1.0]
>>> [(box, track_id, predicted) for box, _, track_id, _, predicted in rows(found[:1])]
[((0.1, 0.2, 0.3, 0.9), 7, False)]
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import supervision as sv

PREDICTED = "predicted"


def people(xyxy, confidence, track_id=None, predicted=None) -> sv.Detections:
    """One frame's people; untracked (``tracker_id`` None) unless ids are given."""
    data = {} if predicted is None else {PREDICTED: np.asarray(predicted, dtype=bool)}
    return sv.Detections(xyxy=np.asarray(xyxy).reshape(-1, 4), confidence=np.asarray(confidence).reshape(-1),
                         tracker_id=None if track_id is None else np.asarray(track_id, dtype=int), data=data)


def feet(detections: sv.Detections) -> np.ndarray:
    """Where each person stands: the bottom centre of the box, (N, 2).

    ``get_anchors_coordinates(sv.Position.BOTTOM_CENTER)`` gives the same points at several times the
    cost (it guards integer boxes against overflow): this runs on every frame of every camera.
    """
    xyxy = detections.xyxy
    return np.stack([(xyxy[:, 0] + xyxy[:, 2]) / 2, xyxy[:, 3]], axis=1)


def clipped(detections: sv.Detections) -> sv.Detections:
    """The same people with each box ordered and inside the image (a prediction can leave it or invert)."""
    xyxy = np.clip(detections.xyxy, 0.0, 1.0)
    ordered = np.concatenate([np.minimum(xyxy[:, :2], xyxy[:, 2:]), np.maximum(xyxy[:, :2], xyxy[:, 2:])], axis=1)
    return sv.Detections(xyxy=ordered, confidence=detections.confidence, tracker_id=detections.tracker_id,
                         data=detections.data)


def rows(detections: sv.Detections) -> Iterator[tuple[tuple[float, ...], float, int, tuple[float, float], bool]]:
    """Per person ``(box, confidence, track_id, foot, predicted)`` as Python values: what the writers need."""
    predicted = detections.data.get(PREDICTED, np.zeros(len(detections), dtype=bool)).tolist()
    track_ids = ([0] * len(detections) if detections.tracker_id is None else detections.tracker_id.tolist())
    for box, confidence, track_id, hidden in zip(detections.xyxy.tolist(), detections.confidence.tolist(),
                                                 track_ids, predicted, strict=True):
        yield tuple(box), confidence, track_id, ((box[0] + box[2]) / 2, box[3]), hidden


def from_rows(rows: np.ndarray) -> sv.Detections:
    """The backend's (N, 5) ``x1, y1, x2, y2, score`` rows (its ``detect()`` format) as untracked people."""
    rows = np.asarray(rows).reshape(-1, 5)
    return people(rows[:, :4], rows[:, 4])
