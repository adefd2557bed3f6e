"""The face, expression and age/gender models on real images shipped in installed packages / shared data.

What they get right and wrong (also in docs/privacy.md):
- Grace Hopper's portrait (matplotlib sample data, ~77 years old): face found, frontal, age ~79 (60+),
  expression neutral (a faint closed-mouth smile; "happy" stays below 0.1). Gender: the model says
  male with ~0.99 -- wrong (pinned below as a strict xfail, so a fixed model shows up).
- No clearly smiling face ships in any installed package or in shared/data, so "smiling -> happy"
  cannot be tested honestly here; nothing is fabricated.
- Intel clip: people walk away from / across the camera; the one face CenterFace finds is a profile
  (frame 1350) that the age/gender models call a one-year-old girl. The frontal check rejects it.
"""

from pathlib import Path

import cv2
import numpy as np
import pytest

from services.detect.attributes.chips import aligned_chip, face_chip
from storesight.attributes import EXPRESSIONS, GENDERS, age_band
from tests.support.servers import INTEL_CLIP


def _models():
    from services.detect.attributes.classifiers import AgeGenderClassifier, ExpressionClassifier
    from services.detect.attributes.faces import CenterFaceDetector

    return CenterFaceDetector(input_size=320), ExpressionClassifier(), AgeGenderClassifier()  # a missing model file is a failure, not a skip


@pytest.fixture(scope="module")
def models():
    return _models()


@pytest.fixture(scope="module")
def grace_hopper() -> np.ndarray:
    import matplotlib

    path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    image = cv2.imread(str(path))
    assert image is not None
    return image


def classify(models, image, face):
    _, expression, age_gender = models
    grey = cv2.cvtColor(face_chip(image, face, 64, 0.05), cv2.COLOR_BGR2GRAY)[None]
    age_chip = cv2.cvtColor(aligned_chip(image, face, 64), cv2.COLOR_BGR2RGB)[None]
    gender_chip = cv2.cvtColor(aligned_chip(image, face, 32), cv2.COLOR_BGR2RGB)[None]
    from services.detect.attributes.classifiers import expected_age

    expr = expression.predict(grey)[0]
    age_probs, gender_probs = age_gender.predict(age_chip, gender_chip)
    return dict(zip(EXPRESSIONS, expr, strict=True)), float(expected_age(age_probs)[0]), gender_probs[0]


def test_grace_hopper_face_is_found_frontal_and_old(models, grace_hopper):
    from services.detect.attributes.faces import is_frontal

    faces = models[0].detect([grace_hopper])[0]
    assert len(faces) == 1
    face = faces[0]
    assert face.score > 0.8 and is_frontal(face)
    # Her face spans about x 180-360, y 120-340 of the 512x600 portrait.
    assert 150 < face.x1 < 220 and 320 < face.x2 < 390 and 100 < face.y1 < 160 and 300 < face.y2 < 370
    expressions, age, _ = classify(models, grace_hopper, face)
    assert age_band(age) == "60+", age
    assert max(expressions, key=expressions.get) == "neutral"
    assert expressions["happy"] < 0.2 and expressions["angry"] < 0.2 and expressions["sad"] < 0.2


@pytest.mark.xfail(strict=True, reason="known model error: the dlib-derived gender model calls Grace Hopper male")
def test_grace_hopper_gender(models, grace_hopper):
    face = models[0].detect([grace_hopper])[0][0]
    _, _, gender = classify(models, grace_hopper, face)
    assert GENDERS[int(np.argmax(gender))] == "female"


def test_batched_face_detection_matches_single_calls(models, grace_hopper):
    detector = models[0]
    head = grace_hopper[60:380, 80:460]  # the upper part of a "person box"
    mirrored = head[:, ::-1].copy()
    batch = detector.detect([head, mirrored, np.zeros((50, 40, 3), np.uint8)])
    assert [len(faces) for faces in batch] == [1, 1, 0]
    single = detector.detect([head])[0][0]
    assert abs(batch[0][0].x1 - single.x1) < 1.0 and abs(batch[0][0].score - single.score) < 1e-3


def test_expression_batch_equals_one_by_one(models, grace_hopper):
    _, expression, _ = models
    face = models[0].detect([grace_hopper])[0][0]
    chips = np.stack([cv2.cvtColor(face_chip(grace_hopper, face, 64, pad), cv2.COLOR_BGR2GRAY)
                      for pad in (0.0, 0.05, 0.2)])
    together = expression.predict(chips)
    apart = np.concatenate([expression.predict(chips[i:i + 1]) for i in range(3)])
    assert np.allclose(together, apart, atol=1e-5)
    assert np.allclose(together.sum(axis=1), 1.0, atol=1e-3)


@pytest.mark.skipif(not INTEL_CLIP.exists(), reason="Intel clip not in shared/data")
def test_intel_clip_profile_face_is_not_classified(models):
    from services.detect.attributes.faces import CenterFaceDetector, is_frontal

    capture = cv2.VideoCapture(str(INTEL_CLIP))
    capture.set(cv2.CAP_PROP_POS_FRAMES, 1350)
    ok, frame = capture.read()
    capture.release()
    assert ok
    faces = CenterFaceDetector(input_size=768).detect([frame])[0]
    assert len(faces) == 1, "a man in profile, right edge, frame 1350"
    face = faces[0]
    assert face.x1 > 600 and not is_frontal(face)
    _, age, gender = classify(models, frame, face)
    # What the models say about this adult man's profile (why profiles are skipped): a small child, female.
    assert age < 18 and GENDERS[int(np.argmax(gender))] == "female"
