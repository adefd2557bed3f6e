"""Cut upright face chips out of an image, levelled on the eyes.

Pure numpy/OpenCV over plain arrays. Chips live only in memory for the classifiers and
are dropped right after: they never leave the process.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from .faces import Face

# Where the eye centres sit in an age/gender chip (fractions of the chip side): dlib's
# five-point mean face with its chip padding of 0.2, which is what those networks were
# trained on (eye centres = mean of each eye's two corner points).
EYE_LEFT_X, EYE_RIGHT_X, EYE_Y = 0.305, 0.681, 0.312


def face_chip(image: np.ndarray, face: Face, size: int, padding: float) -> np.ndarray:
    """A ``size`` x ``size`` chip centred on the face box, rotated so the eyes are level.

    ``padding`` widens the square around the box on each side, as a fraction of its longer
    side (0.0 = the box itself). Pixels outside the image repeat the border.
    """
    centre_x, centre_y = (face.x1 + face.x2) / 2.0, (face.y1 + face.y2) / 2.0
    side = max(face.x2 - face.x1, face.y2 - face.y1) * (1.0 + 2.0 * padding)
    matrix = cv2.getRotationMatrix2D((centre_x, centre_y), _eye_angle(face), size / max(side, 1.0))
    matrix[0, 2] += size / 2.0 - centre_x
    matrix[1, 2] += size / 2.0 - centre_y
    return _warp(image, matrix, size)


def aligned_chip(image: np.ndarray, face: Face, size: int) -> np.ndarray:
    """A chip whose eye centres land where dlib-style aligned chips put them."""
    (lx, ly), (rx, ry) = face.landmarks[0], face.landmarks[1]
    eye_distance = max(math.hypot(rx - lx, ry - ly), 1.0)
    scale = (EYE_RIGHT_X - EYE_LEFT_X) * size / eye_distance
    matrix = cv2.getRotationMatrix2D((lx, ly), _eye_angle(face), scale)
    matrix[0, 2] += EYE_LEFT_X * size - lx
    matrix[1, 2] += EYE_Y * size - ly
    return _warp(image, matrix, size)


def _eye_angle(face: Face) -> float:
    (lx, ly), (rx, ry) = face.landmarks[0], face.landmarks[1]
    return math.degrees(math.atan2(ry - ly, rx - lx))


def _warp(image: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)
