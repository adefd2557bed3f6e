"""The attribute stage of detect: one call per batch, after tracking, before publishing.

``AttributeStage.process(batch)`` takes the batch's decoded frames with the Detections
messages about to be published, runs face detection on the upper part of due person
boxes (one model call for the whole batch), classifies frontal faces that are big enough
(one call per model), votes per track, and appends any finished k-anonymous groups to the
Detections' ``attributes`` field. Nothing else is written: no face box, chip or per-track
attribute leaves this object, and nothing about a person is logged.

Only cameras that opted in (store ``privacy.attributes_enabled`` and camera
``attributes_enabled``) are processed; models load only if at least one did.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from prometheus_client import Counter, Histogram

from storesight.attributes import to_proto
from storesight.config import Camera, Config, Store
from storesight.contracts import seconds
from storesight.v1.detections_pb2 import AttributeAggregate, Detections

from .anonymity import TrackLedger
from .chips import aligned_chip, face_chip
from .classifiers import AGE_SIZE, EXPRESSION_SIZE, GENDER_SIZE, expected_age
from .guard import CostGuard
from .smoothing import Observation
from .zones import zones_at

ATTRIBUTE_SECONDS = Histogram("storesight_detect_attribute_seconds",
                              "Time of the attribute stage per batch (faces, expression, age/gender)")
ATTRIBUTE_FACES = Counter("storesight_detect_attribute_faces_total",
                          "Person crops sent to the face stage, by outcome", ["camera", "outcome"])
ATTRIBUTE_GROUPS = Counter("storesight_detect_attribute_groups_total",
                           "Zone/window groups of track attributes, published (>= k tracks) or suppressed",
                           ["camera", "outcome"])

# Expression chips are cut a little wider than the face box, like fer's own 10 px margin.
EXPRESSION_PADDING = 0.05


def attributes_enabled(store: Store, camera: Camera) -> bool:
    """Double opt-in: the store's privacy switch and the camera's own."""
    return store.privacy.attributes_enabled and camera.attributes_enabled


@dataclass
class AttributeModels:
    """The three model wrappers; built only when some camera opted in."""

    faces: object  # CenterFaceDetector
    expression: object  # ExpressionClassifier
    age_gender: object  # AgeGenderClassifier

    @classmethod
    def load(cls, face_input: int = 160, device: str = "cpu", threads: int = 1) -> AttributeModels:
        from .classifiers import AgeGenderClassifier, ExpressionClassifier
        from .faces import CenterFaceDetector

        return cls(CenterFaceDetector(input_size=face_input, device=device, threads=threads),
                   ExpressionClassifier(threads=threads), AgeGenderClassifier(device=device, threads=threads))


@dataclass
class _CameraState:
    ledger: TrackLedger
    guard: CostGuard
    zones: list[tuple[str, list[tuple[float, float]]]]


@dataclass
class _Candidate:
    camera_id: str
    track_id: int
    when: float
    crop: np.ndarray


class AttributeStage:
    """Per-process attribute state for every opted-in camera of the config."""

    def __init__(self, config: Config, models: AttributeModels | None = None):
        settings = config.pipeline.detect
        self.head_fraction = settings.attributes_head_fraction
        self._cameras: dict[str, _CameraState] = {}
        for store, camera in config.cameras():
            if attributes_enabled(store, camera):
                self._cameras[camera.id] = _CameraState(
                    ledger=TrackLedger(k=store.privacy.k_anonymity, window_s=config.pipeline.aggregate.window_s,
                                       close_after_s=store.privacy.track_close_s,
                                       min_observations=store.privacy.min_observations),
                    guard=CostGuard(settings.attributes_every_n_frames, settings.attributes_min_face_px),
                    zones=[(z.id, list(z.polygon)) for z in camera.zones],
                )
        self._models = models
        if self._cameras and self._models is None:
            self._models = AttributeModels.load(settings.attributes_face_input, settings.device)

    @property
    def enabled(self) -> bool:
        return bool(self._cameras)

    def process(self, batch: Sequence[tuple[np.ndarray, Detections]]) -> None:
        """Run the stage over a batch of (BGR frame, its Detections); appends aggregates in place."""
        items = [(image, det) for image, det in batch if det.camera_id in self._cameras]
        if not items:
            return
        started = time.perf_counter()
        candidates = []
        for image, det in items:
            state = self._cameras[det.camera_id]
            when = seconds(det.capture_time)
            for person in det.persons:
                if person.track_id == 0:
                    continue
                state.ledger.seen(person.track_id, when, zones_at((person.foot.x, person.foot.y), state.zones))
                # A hidden person's box is the tracker's guess (Person.predicted, once detect sets it): no face there.
                if getattr(person, "predicted", False):
                    continue
                if state.guard.due(person.track_id, det.frame_seq):
                    crop = self._head_crop(image, person.box)
                    if crop is not None:
                        candidates.append(_Candidate(det.camera_id, person.track_id, when, crop))
        self._classify(candidates)
        for _, det in items:
            state = self._cameras[det.camera_id]
            groups, finished = state.ledger.advance(seconds(det.capture_time))
            state.guard.forget(finished)
            det.attributes.extend(to_proto(group) for group in groups)
            if groups:
                ATTRIBUTE_GROUPS.labels(det.camera_id, "published").inc(len(groups))
        for camera_id, state in self._cameras.items():
            suppressed = state.ledger.suppressed_groups
            if suppressed:
                ATTRIBUTE_GROUPS.labels(camera_id, "suppressed").inc(suppressed)
                state.ledger.suppressed_groups = 0
        ATTRIBUTE_SECONDS.observe(time.perf_counter() - started)

    def _head_crop(self, image: np.ndarray, box) -> np.ndarray | None:
        height, width = image.shape[:2]
        x1, x2 = int(max(box.x1, 0.0) * width), int(min(box.x2, 1.0) * width)
        y1 = int(max(box.y1, 0.0) * height)
        y2 = int(min(box.y1 + (box.y2 - box.y1) * self.head_fraction, 1.0) * height)
        if x2 - x1 < 8 or y2 - y1 < 8:
            return None
        return image[y1:y2, x1:x2]

    def _classify(self, candidates: list[_Candidate]) -> None:
        if not candidates:
            return
        from .faces import is_frontal

        models = self._models
        found = models.faces.detect([c.crop for c in candidates])
        kept: list[tuple[_Candidate, object]] = []
        for candidate, faces in zip(candidates, found, strict=True):
            guard = self._cameras[candidate.camera_id].guard
            face = max(faces, key=lambda f: f.score, default=None)
            outcome = "classified"
            if face is None:
                outcome = "no_face"
            elif not guard.big_enough(face.size):
                outcome = "too_small"
            elif not is_frontal(face):
                outcome = "not_frontal"
            else:
                kept.append((candidate, face))
            ATTRIBUTE_FACES.labels(candidate.camera_id, outcome).inc()
        if not kept:
            return
        grey = np.stack([cv2.cvtColor(face_chip(c.crop, f, EXPRESSION_SIZE, EXPRESSION_PADDING),
                                      cv2.COLOR_BGR2GRAY) for c, f in kept])
        age_chips = np.stack([cv2.cvtColor(aligned_chip(c.crop, f, AGE_SIZE), cv2.COLOR_BGR2RGB) for c, f in kept])
        gender_chips = np.stack([cv2.cvtColor(aligned_chip(c.crop, f, GENDER_SIZE), cv2.COLOR_BGR2RGB)
                                 for c, f in kept])
        expressions = models.expression.predict(grey)
        age_probs, gender_probs = models.age_gender.predict(age_chips, gender_chips)
        ages = expected_age(age_probs)
        for i, (candidate, face) in enumerate(kept):
            observation = Observation(face.score, expressions[i], float(ages[i]), float(age_probs[i].max()),
                                      gender_probs[i])
            self._cameras[candidate.camera_id].ledger.observe(candidate.track_id, candidate.when, observation)

    def flush(self) -> dict[str, list[AttributeAggregate]]:
        """At shutdown: finish every track and return the groups that reach k, per camera."""
        out = {}
        for camera_id, state in self._cameras.items():
            groups, _ = state.ledger.advance(float("inf"))
            out[camera_id] = [to_proto(group) for group in groups]
        return out

