"""Zone drawing for calibration: fills change the zone's pixels only; the arrow points inside."""

from __future__ import annotations

import numpy as np

from storesight.config import Camera
from tools.preview import KIND_COLOURS_BGR, LINE_COLOUR_BGR, draw_layout

GREY = 128


def _camera(in_point):
    return Camera.model_validate({
        "id": "cam", "source": "clip.mp4",
        "zones": [{"id": "q", "kind": "queue", "polygon": [[0.1, 0.6], [0.4, 0.6], [0.4, 0.9], [0.1, 0.9]]}],
        "lines": [{"id": "door", "a": [0.7, 0.1], "b": [0.7, 0.9], "in_point": in_point}],
    })


def _is_line_red(pixel) -> bool:
    return bool(np.abs(pixel.astype(int) - np.array(LINE_COLOUR_BGR)).sum() < 60)


def test_zone_fill_tints_toward_its_kind_colour_and_leaves_the_rest():
    frame = np.full((200, 400, 3), GREY, np.uint8)
    out = draw_layout(frame, _camera([0.9, 0.5]))
    inside = out[int(0.85 * 199), int(0.15 * 399)].astype(int)  # in the zone, away from the label
    expected = 0.35 * np.array(KIND_COLOURS_BGR["queue"]) + 0.65 * GREY
    assert np.abs(inside - expected).max() <= 2
    assert (out[:50, :100] == GREY).all()  # no zone there
    assert (frame == GREY).all()  # the input is not modified


def test_arrow_points_to_the_in_point_side():
    for in_point, inside_x, outside_x in (([0.9, 0.5], 0.72, 0.68), ([0.2, 0.5], 0.68, 0.72)):
        out = draw_layout(np.full((200, 400, 3), GREY, np.uint8), _camera(in_point))
        row = out[int(0.5 * 199)]
        assert _is_line_red(row[int(inside_x * 399)])
        assert not _is_line_red(row[int(outside_x * 399)])
