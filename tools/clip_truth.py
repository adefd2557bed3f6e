"""The counts a perfect detector and tracker would give on a labelled clip: its ground truth through the aggregator.

A clip with MOTChallenge ground truth (``gt.txt``: ``frame,id,left,top,width,height,consider,...``,
pixels, frames from 1) gives every person's box and identity in every frame. Their foot points
(bottom centre of the box, as the detector reports them) go through
``services.aggregate.aggregator.Aggregator`` with the store config's zones and lines, so "truth"
means the same line and zone rules as the live pipeline (debounce, pass-by, exit grace), only
fed with perfect tracks. Rows marked ``consider = 0`` (hidden or leaving the view) are kept: the
person is there, and a perfect tracker keeps the id. Foot points inside the camera's
``ignore_regions`` are dropped, as detect drops them.

``storesight clip-truth --config examples/demo-walkway.yaml --gt ../shared/data/pets09-s2l1/gt.txt``
prints the counts as the YAML the demo reads beside its config (``<config>.truth.yaml``).

>>> rows = ["1,7,100,50,20,80,1,-1,-1,-1", "2,7,110,50,20,80,0,-1,-1,-1"]
>>> mot_frames(rows, width=200, height=200)
{0: [(7, 0.55, 0.65)], 1: [(7, 0.6, 0.65)]}
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Iterable
from pathlib import Path

import yaml

from storesight.config import Config, load_config


def mot_frames(lines: Iterable[str], width: int, height: int) -> dict[int, list[tuple[int, float, float]]]:
    """MOTChallenge rows -> video frame index (from 0) -> [(id, foot_x, foot_y)], normalised, in the image."""
    frames: dict[int, list[tuple[int, float, float]]] = {}
    for number, row in enumerate(csv.reader(lines), 1):
        if not row:
            continue
        try:
            frame, pid = int(row[0]), int(row[1])
            left, top, w, h = (float(v) for v in row[2:6])
        except (ValueError, IndexError) as exc:
            raise ValueError(f"ground truth row {number} is not frame,id,left,top,width,height,...: {row}") from exc
        # Clipped to the image, as the detector's boxes are: a label may reach a little past the edge.
        foot = (round(min(max((left + w / 2) / width, 0.0), 1.0), 6), round(min(max((top + h) / height, 0.0), 1.0), 6))
        frames.setdefault(frame - 1, []).append((pid, *foot))
    return dict(sorted(frames.items()))


def truth_counts(config: Config, camera_id: str, frames: dict[int, list[tuple[int, float, float]]],
                 clip_fps: float) -> dict[str, dict[str, int]]:
    """zone / ``line:<id>`` / ``camera:<id>`` -> {"entries", "exits"} over the whole clip, summed over
    closed windows as the demo view sums them (camera rows: unique tracks as entries)."""
    import numpy as np

    from services.aggregate.aggregator import Aggregator
    from services.aggregate.records import FrameRecord
    from services.detect.regions import inside_any

    _, camera = config.camera(camera_id)
    start = camera.start_time.timestamp() if camera.start_time else 0.0
    aggregator = Aggregator(config)
    out: list = []
    last = max(frames, default=-1)
    for index in range(last + 1):  # empty frames too: the camera saw nobody
        t = index / clip_fps
        people = frames.get(index, [])
        if people and camera.ignore_regions:
            ignored = inside_any(np.array([p[1:] for p in people]), camera.ignore_regions)
            people = [p for p, drop in zip(people, ignored, strict=True) if not drop]
        out += aggregator.process([FrameRecord.of(camera_id, start + t, people, frame_seq=index)])
    return window_totals(out + aggregator.flush())


def window_totals(records: Iterable) -> dict[str, dict[str, int]]:
    """Entries/exits per zone id summed over the closed windows among ``records``, as the demo view
    sums them (a ``camera:`` row's entries are its unique tracks)."""
    from services.aggregate.records import WindowStats

    totals: dict[str, dict[str, int]] = {}
    for w in records:
        if not isinstance(w, WindowStats) or w.live:
            continue
        row = totals.setdefault(w.zone_id, {"entries": 0, "exits": 0})
        row["entries"] += (w.unique_tracks if w.zone_kind == "camera" else w.entries) or 0
        row["exits"] += w.exits or 0
    return dict(sorted(totals.items()))


def clip_size(video: str | Path) -> tuple[int, int, float, int]:
    """(width, height, fps, frames) from the video file's header."""
    import cv2

    capture = cv2.VideoCapture(str(video))
    try:
        if not capture.isOpened():
            raise OSError(f"cannot open video {video}")
        return (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
                capture.get(cv2.CAP_PROP_FPS), int(capture.get(cv2.CAP_PROP_FRAME_COUNT)))
    finally:
        capture.release()


def truth_path(config_path: str | Path) -> Path:
    """Where the demo looks for a config's clip truth: ``demo-walkway.yaml`` -> ``demo-walkway.truth.yaml``."""
    path = Path(config_path)
    return path.with_name(path.stem + ".truth.yaml")


def load_truth(config_path: str | Path) -> dict | None:
    """The committed truth beside a config, or None when it has none."""
    path = truth_path(config_path)
    if not path.exists():
        return None
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict) or not isinstance(data.get("counts"), dict):
        raise ValueError(f"{path}: expected a mapping with 'counts' (zone -> entries/exits)")
    return data


def derive(config_path: str | Path, gt: str | Path, video: str | Path | None = None,
           camera_id: str | None = None) -> dict:
    """The truth document for a config whose (single) file camera replays a clip labelled by ``gt``."""
    from tools.demo import file_source

    config = load_config(config_path)
    cameras = [c for _, c in config.cameras() if camera_id in (None, c.id)]
    if len(cameras) != 1:
        raise ValueError("choose one camera (--camera)")
    camera = cameras[0]
    source = Path(video) if video else file_source(camera)
    width, height, fps, frames = clip_size(source)
    with open(gt, encoding="utf-8") as fh:
        labelled = mot_frames(fh, width, height)
    counts = truth_counts(config, camera.id, labelled, fps)
    return {"camera": camera.id, "clip": source.name, "clip_frames": frames, "clip_fps": fps,
            "ground_truth": Path(gt).name, "counts": counts}


def _cmd_clip_truth(args: argparse.Namespace) -> int:
    try:
        document = derive(args.config, args.gt, args.video, args.camera)
    except (OSError, ValueError) as exc:
        print(f"clip-truth: {exc}", file=sys.stderr)
        return 2
    header = (f"# Truth of {document['clip']} for {Path(args.config).name}: its ground truth ({document['ground_truth']}) "
              "through the aggregator.\n# Written by: storesight clip-truth (tools/clip_truth.py); "
              "tests/unit/test_clip_truth.py recomputes it. Do not edit by hand.\n")
    text = header + yaml.safe_dump(document, sort_keys=False)
    if args.write:
        truth_path(args.config).write_text(text)
        print(f"wrote {truth_path(args.config)}")
    else:
        print(text, end="")
    return 0


def register(sub) -> None:
    parser = sub.add_parser("clip-truth", help="entries/exits a perfect detector and tracker give on a "
                                               "labelled clip (MOTChallenge gt.txt) for a config's zones and lines")
    parser.add_argument("--config", required=True, help="store config with one file camera")
    parser.add_argument("--gt", required=True, help="MOTChallenge gt.txt of the camera's clip")
    parser.add_argument("--video", help="the clip (default: the camera's source); only its size and fps are read")
    parser.add_argument("--camera", help="camera id (default: the config's only camera)")
    parser.add_argument("--write", action="store_true", help="write <config>.truth.yaml beside the config")
    parser.set_defaults(func=_cmd_clip_truth)
