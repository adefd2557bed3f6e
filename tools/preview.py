"""``storesight zones preview``: a camera's reference frame with its zones and lines drawn.

For calibration: draw the configured polygons (translucent, labelled ``id (kind)``) and
counting lines (with an arrow pointing to the ``in_point`` side) over a people-free picture
of the scene, and check they sit where they should. The PNG is written only where the user
asks; it is a calibration aid made on demand, not part of the pipeline.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from storesight.config import Camera, ZoneKind
from storesight.floorplane import fit_homography

KIND_COLOURS_BGR: dict[ZoneKind, tuple[int, int, int]] = {
    ZoneKind.aisle: (60, 180, 75),
    ZoneKind.queue: (0, 140, 255),
    ZoneKind.checkout: (200, 60, 200),
    ZoneKind.entrance: (255, 160, 0),
    ZoneKind.area: (40, 200, 220),
}
LINE_COLOUR_BGR = (0, 0, 230)
IGNORE_COLOUR_BGR = (160, 160, 160)  # grey: ignore regions (static figures)
FILL_ALPHA = 0.35


def _pixels(points: Sequence[tuple[float, float]], width: int, height: int) -> np.ndarray:
    return np.array([[round(x * (width - 1)), round(y * (height - 1))] for x, y in points], np.int32)


def _label(image: np.ndarray, text: str, at: tuple[int, int], colour: tuple[int, int, int]) -> None:
    scale = max(image.shape[1] / 1400, 0.4)
    thickness = max(1, round(scale * 2))
    (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    x = int(np.clip(at[0] - w // 2, 0, max(image.shape[1] - w - 4, 0)))
    y = int(np.clip(at[1] + h // 2, h + 4, image.shape[0] - base - 2))
    cv2.rectangle(image, (x - 3, y - h - 4), (x + w + 3, y + base + 2), (20, 20, 20), -1)
    cv2.putText(image, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thickness, cv2.LINE_AA)


def draw_layout(frame: np.ndarray, camera: Camera) -> np.ndarray:
    """A copy of ``frame`` with the camera's zones filled and outlined and its lines with arrows."""
    height, width = frame.shape[:2]
    fill = frame.copy()
    for zone in camera.zones:
        cv2.fillPoly(fill, [_pixels(zone.polygon, width, height)], KIND_COLOURS_BGR[zone.kind])
    out = cv2.addWeighted(fill, FILL_ALPHA, frame, 1 - FILL_ALPHA, 0)
    thickness = max(2, width // 400)
    for zone in camera.zones:
        polygon = _pixels(zone.polygon, width, height)
        cv2.polylines(out, [polygon], True, KIND_COLOURS_BGR[zone.kind], thickness, cv2.LINE_AA)
    for zone in camera.zones:
        polygon = _pixels(zone.polygon, width, height)
        centre = polygon.mean(axis=0)
        _label(out, f"{zone.id} ({zone.kind.value})", (int(centre[0]), int(centre[1])), KIND_COLOURS_BGR[zone.kind])
    for region in camera.ignore_regions:  # static figures: detections with a foot point inside are dropped
        polygon = _pixels(region, width, height)
        cv2.polylines(out, [polygon], True, IGNORE_COLOUR_BGR, thickness, cv2.LINE_AA)
        _label(out, "ignored", tuple(int(v) for v in polygon.min(axis=0)), IGNORE_COLOUR_BGR)
    for line in camera.lines:  # after the zone labels, so a line's arrow and name stay visible
        a, b = _pixels([line.a], width, height)[0], _pixels([line.b], width, height)[0]
        cv2.line(out, tuple(int(v) for v in a), tuple(int(v) for v in b), LINE_COLOUR_BGR, thickness + 1, cv2.LINE_AA)
        mid = (a + b) / 2.0
        normal = np.array([-(b - a)[1], (b - a)[0]], float)
        normal /= np.linalg.norm(normal) or 1.0
        inside = _pixels([line.in_point], width, height)[0]
        if np.dot(inside - mid, normal) < 0:
            normal = -normal
        length = 0.08 * min(width, height)
        tip = mid + normal * length
        cv2.arrowedLine(out, tuple(int(v) for v in mid), tuple(int(v) for v in tip), LINE_COLOUR_BGR,
                        thickness + 1, cv2.LINE_AA, tipLength=0.35)
        _label(out, f"{line.id} (arrow = in)", (int(a[0]), int(a[1])), (255, 255, 255))
    return out


PLAN_ALPHA = 0.6
MARK_COLOUR_BGR = (0, 0, 255)


def image_to_plan(camera: Camera, frame_hw: tuple[int, int], metres_per_pixel: float) -> np.ndarray:
    """3x3 matrix from the frame's pixels to the floor plan's pixels (through the camera's homography)."""
    if camera.floor is None:
        raise ValueError(f"camera {camera.id!r} has no 'floor' calibration")
    height, width = frame_hw
    to_unit = np.diag([1.0 / (width - 1), 1.0 / (height - 1), 1.0])
    to_plan = np.diag([1.0 / metres_per_pixel, 1.0 / metres_per_pixel, 1.0])
    return to_plan @ fit_homography(camera.floor.image, camera.floor.floor) @ to_unit


def draw_on_plan(frame: np.ndarray, camera: Camera, plan: np.ndarray, metres_per_pixel: float) -> np.ndarray:
    """The camera's picture warped onto the floor plan, with the calibration's floor points marked.

    Walls, shelves and floor tiles of the picture should fall on those of the plan: where they do
    not, a point pair of the calibration is wrong. (Only the floor maps right: anything standing up,
    a shelf's side or a person, is stretched away from the camera.)
    """
    matrix = image_to_plan(camera, frame.shape[:2], metres_per_pixel)
    height, width = plan.shape[:2]
    warped = cv2.warpPerspective(frame, matrix, (width, height))
    covered = cv2.warpPerspective(np.full(frame.shape[:2], 255, np.uint8), matrix, (width, height)) > 0
    out = plan.copy()
    out[covered] = (PLAN_ALPHA * warped[covered] + (1 - PLAN_ALPHA) * plan[covered]).astype(np.uint8)
    radius = max(3, width // 150)
    for k, (x, y) in enumerate(camera.floor.floor):
        centre = (round(x / metres_per_pixel), round(y / metres_per_pixel))
        cv2.circle(out, centre, radius, MARK_COLOUR_BGR, -1, cv2.LINE_AA)
        _label(out, str(k + 1), (centre[0], centre[1] - 3 * radius), MARK_COLOUR_BGR)
    _label(out, camera.id, (width // 2, 12), (255, 255, 255))
    return out
