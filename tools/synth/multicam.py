"""``storesight synth --scenario store-multicam``: a store seen by three overlapping cameras, at the
level of detections (no video), with exact ground truth.

The floor is 12 m x 6 m. ``cam-door`` sees x 0..5 m (the front door is the line x = 1 m),
``cam-mid`` x 3..9 m (a side door is the line y = 5 m) and ``cam-till`` x 7..12 m (behind the counter,
x >= 10.5 m and y <= 2 m, is staff-only). Each camera maps the floor linearly to its image (so its
floor calibration is exact) and reports every person it sees with its own track ids. Four customers
come in (three by the front door, one by the side door), two leave; one member of staff stands behind
the counter all along. The multi-camera zone ``shop-floor`` (x 1.5..10 m) is seen by all three
cameras: customers in the overlaps are seen twice but are one person.

Truth per 10-s window (``truth.json``): store entries, exits and occupancy at the window end; the
shop floor's min/max persons over the window's frames; the counter zone's (cam-till) min/max
customers; staff present. Written: ``store.yaml``, ``detections.jsonl`` (``camera_id`` on each line,
as ``storesight analyze`` and ``floor-heatmap --detections`` read) and ``truth.json``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import yaml

WINDOW_S = 10
DURATION_S = 80.0
FLOOR_H = 6.0
CAMERAS = {"cam-door": (0.0, 5.0), "cam-mid": (3.0, 9.0), "cam-till": (7.0, 12.0)}  # floor x range seen
SHOP_FLOOR_X = (1.5, 10.0)
COUNTER = ((9.5, 12.0), (0.0, 3.0))  # floor x, y ranges of cam-till's "counter" zone
# Person -> waypoints (t s, x m, y m): present from the first to the last, linear in between.
PATHS: dict[str, list[tuple[float, float, float]]] = {
    "p1": [(2, 0.3, 3.0), (5, 2.5, 3.0), (12, 8.0, 3.0), (15, 9.8, 2.5), (35, 9.8, 2.5), (42, 6.0, 3.0),
           (50, 2.0, 3.0), (53, 0.3, 3.0)],
    "p2": [(11, 6.0, 5.9), (14, 6.0, 4.0), (DURATION_S, 6.0, 4.0)],  # by the side door, stays
    "p3": [(21, 0.3, 1.5), (24, 4.0, 1.5), (60, 4.0, 1.5), (64, 0.3, 1.5)],  # waits in the door/mid overlap
    "p4": [(31, 0.3, 4.5), (34, 3.5, 4.5), (DURATION_S, 3.5, 4.5)],  # stays in the door/mid overlap
    "staff": [(0, 11.0, 1.0), (DURATION_S, 11.0, 1.0)],
}
STAFF = {"staff"}


@dataclass
class Scenario:
    config: dict
    frames: list[tuple[str, float, list[tuple[int, float, float]]]]  # camera, t, (track, x, y) normalised
    truth: dict


def position(person: str, t: float) -> tuple[float, float] | None:
    path = PATHS[person]
    if t < path[0][0] or t > path[-1][0]:
        return None
    for (t0, x0, y0), (t1, x1, y1) in zip(path, path[1:], strict=False):
        if t0 <= t <= t1:
            f = (t - t0) / (t1 - t0)
            return x0 + f * (x1 - x0), y0 + f * (y1 - y0)
    return path[-1][1], path[-1][2]


def to_image(camera: str, x: float, y: float) -> tuple[float, float] | None:
    x0, x1 = CAMERAS[camera]
    if not x0 < x < x1:
        return None
    return (x - x0) / (x1 - x0), y / FLOOR_H


def _img_x(camera: str, x: float) -> float:
    x0, x1 = CAMERAS[camera]
    return min(max((x - x0) / (x1 - x0), 0.0), 1.0)


def _rect(x_range: tuple[float, float], y_range: tuple[float, float] = (0.0, 1.0)) -> list[list[float]]:
    (xa, xb), (ya, yb) = x_range, y_range
    return [[xa, ya], [xb, ya], [xb, yb], [xa, yb]]


def store_config() -> dict:
    cameras = []
    for camera, (x0, x1) in CAMERAS.items():
        cam: dict = {"id": camera, "source": f"{camera}.mp4",
                     "floor": {"image": _rect((0, 1)), "floor": [[x0, 0], [x1, 0], [x1, FLOOR_H], [x0, FLOOR_H]]},
                     "zones": [], "lines": []}
        cameras.append(cam)
    door, mid, till = cameras
    door["lines"].append({"id": "front-door", "a": [_img_x("cam-door", 1.0), 0], "b": [_img_x("cam-door", 1.0), 1],
                          "in_point": [0.6, 0.5]})
    mid["lines"].append({"id": "side-door", "a": [0, 5.0 / FLOOR_H], "b": [1, 5.0 / FLOOR_H], "in_point": [0.5, 0.3]})
    till["zones"] += [
        {"id": "counter", "kind": "checkout",
         "polygon": _rect((_img_x("cam-till", COUNTER[0][0]), 1.0), (0.0, COUNTER[1][1] / FLOOR_H))},
        {"id": "behind-counter", "kind": "area", "staff_only": True,
         "polygon": _rect((_img_x("cam-till", 10.5), 1.0), (0.0, 2.0 / FLOOR_H))},
    ]
    parts = [{"camera": c, "polygon": _rect((_img_x(c, SHOP_FLOOR_X[0]), _img_x(c, SHOP_FLOOR_X[1])))}
             for c in CAMERAS]
    return {"region": "synth", "stores": [{
        "id": "multicam", "name": "Synthetic multi-camera store", "timezone": "UTC", "cameras": cameras,
        "entrances": [{"camera": "cam-door", "line": "front-door"}, {"camera": "cam-mid", "line": "side-door"}],
        "multi_zones": [{"id": "shop-floor", "kind": "area", "parts": parts}],
        "merge_distance_m": 0.5, "staff_share": 0.5}]}


def _crossings() -> list[tuple[float, str]]:
    """(time, 'in'|'out') of every door crossing, at 1 ms resolution."""
    out = []
    for person in PATHS:
        if person in STAFF:
            continue
        t, before = PATHS[person][0][0], None
        while t <= PATHS[person][-1][0]:
            x, y = position(person, t)
            inside = x > 1.0 and y < 5.0
            if before is not None and inside != before:
                out.append((t, "in" if inside else "out"))
            before, t = inside, round(t + 0.001, 3)
    return out


def scenario(fps: float = 5.0, t0: float = 1_800_000_000.0) -> Scenario:
    frames = []
    track_ids = {(c, p): 100 * (ci + 1) + pi for ci, c in enumerate(CAMERAS) for pi, p in enumerate(PATHS)}
    steps = int(DURATION_S * fps)
    for i in range(steps):
        t = i / fps
        for camera in CAMERAS:
            persons = []
            for person in PATHS:
                pos = position(person, t)
                img = to_image(camera, *pos) if pos is not None else None
                if img is not None:
                    persons.append((track_ids[(camera, person)], round(img[0], 6), round(img[1], 6)))
            frames.append((camera, t0 + t, persons))
    windows = []
    crossings = _crossings()
    occupancy = 0
    closed = int((steps / fps - 1) // WINDOW_S)  # windows whose end + 1 s lateness the stream passes
    for k in range(closed):
        start, end = k * WINDOW_S, (k + 1) * WINDOW_S
        entries = sum(1 for t, d in crossings if start <= t < end and d == "in")
        exits = sum(1 for t, d in crossings if start <= t < end and d == "out")
        occupancy += entries - exits
        floor, counter = [], []
        for i in range(int(start * fps), int(end * fps)):
            here = [(p, position(p, i / fps)) for p in PATHS if p not in STAFF]
            here = [(p, xy) for p, xy in here if xy is not None]
            floor.append(sum(1 for _, (x, _) in here if SHOP_FLOOR_X[0] < x < SHOP_FLOOR_X[1]))
            counter.append(sum(1 for _, (x, y) in here if COUNTER[0][0] < x < CAMERAS["cam-till"][1]
                               and y < COUNTER[1][1]))
        windows.append({"window_start": t0 + start, "entries": entries, "exits": exits, "occupancy": occupancy,
                        "footfall_day": sum(w["entries"] for w in windows) + entries,
                        "shop_floor_min": min(floor), "shop_floor_max": max(floor),
                        "counter_min": min(counter), "counter_max": max(counter), "staff": len(STAFF)})
    return Scenario(store_config(), frames, {"window_s": WINDOW_S, "windows": windows,
                                             "customers": len(PATHS) - len(STAFF), "staff": len(STAFF)})


def write(out: str | Path, fps: float = 5.0) -> Scenario:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    sc = scenario(fps)
    config = {**sc.config, "pipeline": {"aggregate": {"window_s": WINDOW_S, "allowed_lateness_s": 1,
                                                      "health_advances_watermark": False}}}
    (out / "store.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    with open(out / "detections.jsonl", "w", encoding="utf-8") as fh:
        for camera, t, persons in sc.frames:
            fh.write(json.dumps({"camera_id": camera, "capture_time": t,
                                 "persons": [{"track_id": tr, "foot": [x, y]} for tr, x, y in persons]}) + "\n")
    (out / "truth.json").write_text(json.dumps(sc.truth, indent=1))
    return sc
