"""A store's heatmap on its floor plan: camera grids projected through their homographies."""

from __future__ import annotations

import json

import cv2
import numpy as np
import yaml

from services.aggregate.heatmap import project_grid
from storesight.floorplane import fit_homography
from tools.cli import main

CORNERS = [[0, 0], [1, 0], [1, 1], [0, 1]]


def test_grid_cells_land_under_their_floor_point_and_outside_cells_are_dropped():
    h = fit_homography(CORNERS, [[1, 1], [5, 1], [5, 4], [1, 4]])  # image -> 4 m x 3 m from (1, 1)
    counts = np.zeros((4, 4), dtype=np.int64)
    counts[0, 0] = 7  # centre (0.125, 0.125) -> floor (1.5, 1.375) m -> pixel (30, 27) at 5 cm/pixel
    counts[3, 3] = 2  # centre (0.875, 0.875) -> floor (4.5, 3.625) m -> pixel (90, 72): outside a 60 x 80 plan
    out = project_grid(counts, h, (60, 80), 0.05)
    assert out[27, 30] == 7 and out.sum() == 7


def test_floor_heatmap_verb_draws_both_cameras_on_the_plan(tmp_path):
    plan = np.full((100, 200, 3), 255, dtype=np.uint8)  # 10 m x 5 m at 5 cm/pixel
    cv2.imwrite(str(tmp_path / "plan.png"), plan)
    config = {"region": "r", "stores": [{
        "id": "s", "timezone": "UTC", "floor_plan": {"image": "plan.png", "metres_per_pixel": 0.05},
        "cameras": [
            {"id": "left", "source": "l.mp4", "floor": {"image": CORNERS, "floor": [[0, 0], [5, 0], [5, 5], [0, 5]]}},
            {"id": "right", "source": "r.mp4", "floor": {"image": CORNERS, "floor": [[5, 0], [10, 0], [10, 5], [5, 5]]}},
            {"id": "uncalibrated", "source": "u.mp4"},
        ]}]}
    (tmp_path / "store.yaml").write_text(yaml.safe_dump(config))
    lines = []
    for i in range(50):
        # left sees someone at floor (1, 1) m, right at floor (9, 4) m
        lines.append({"camera_id": "left", "capture_time": i * 0.2, "persons": [{"track_id": 1, "foot": [0.2, 0.2]}]})
        lines.append({"camera_id": "right", "capture_time": i * 0.2, "persons": [{"track_id": 2, "foot": [0.8, 0.8]}]})
    (tmp_path / "det.jsonl").write_text("\n".join(json.dumps(line) for line in lines))
    out = tmp_path / "heat.png"
    assert main(["floor-heatmap", "s", "--config", str(tmp_path / "store.yaml"), "--out", str(out),
                 "--detections", str(tmp_path / "det.jsonl")]) == 0
    image = cv2.imread(str(out))
    assert image.shape == plan.shape

    def tinted(x_m: float, y_m: float) -> bool:
        return bool((image[int(y_m / 0.05), int(x_m / 0.05)] != 255).any())

    assert tinted(1.0, 1.0) and tinted(9.0, 4.0)
    assert not tinted(5.0, 2.5) and not tinted(9.5, 0.3)  # nobody walked there


def test_zones_preview_projects_the_picture_onto_the_plan(tmp_path):
    from storesight.config import parse_config
    from tools.preview import draw_on_plan

    # A 101 x 201 picture, left half red, right half blue; the camera sees floor x 2..6 m, y 1..3 m.
    frame = np.zeros((101, 201, 3), dtype=np.uint8)
    frame[:, :100] = (0, 0, 255)
    frame[:, 101:] = (255, 0, 0)
    camera = parse_config({"region": "r", "stores": [{"id": "s", "timezone": "UTC", "cameras": [
        {"id": "c", "source": "c.mp4", "floor": {"image": CORNERS, "floor": [[2, 1], [6, 1], [6, 3], [2, 3]]}}]}]}
    ).stores[0].cameras[0]
    plan = np.full((80, 160, 3), 255, dtype=np.uint8)  # 8 m x 4 m at 5 cm/pixel
    out = draw_on_plan(frame, camera, plan, 0.05)
    assert out[40, 60][2] > out[40, 60][0]  # floor (3, 2) m: left of the picture, red
    assert out[40, 100][0] > out[40, 100][2]  # floor (5, 2) m: right of the picture, blue
    assert (out[10, 10] == 255).all() and (out[70, 150] == 255).all()  # outside the view: the plan
