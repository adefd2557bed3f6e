"""Ground truth of the labelled clips: per-frame person counts and distinct people.

Intel one-by-one: ``frame_counts.csv`` (-1 = ambiguous frame near an entry/exit: not scored)
and ``visits.csv``. CAVIAR OneLeaveShop1cor: the official CVML XML, one ``<object>`` per
person per frame.
"""

from __future__ import annotations

import csv
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Visit:
    first_frame: int
    last_frame: int


def intel_counts(directory: Path) -> dict[int, int]:
    """frame index -> persons visible, only frames that are scored (not -1)."""
    with open(directory / "frame_counts.csv", newline="") as f:
        return {int(r["frame"]): int(r["persons"]) for r in csv.DictReader(f) if int(r["persons"]) >= 0}


def intel_visits(directory: Path) -> list[Visit]:
    with open(directory / "visits.csv", newline="") as f:
        return [Visit(int(r["first_frame"]), int(r["last_frame"])) for r in csv.DictReader(f)]


def caviar_counts(xml_path: Path) -> tuple[dict[int, int], int]:
    """(frame index -> persons in the ground truth, number of distinct person ids)."""
    root = ET.parse(xml_path).getroot()
    counts, ids = {}, set()
    for frame in root.iter("frame"):
        objects = frame.findall("./objectlist/object")
        counts[int(frame.get("number"))] = len(objects)
        ids.update(o.get("id") for o in objects)
    return counts, len(ids)


@dataclass(frozen=True)
class TruthFrame:
    """One frame's labelled people: ids, pixel xyxy boxes, and boxes that are not scored."""

    ids: np.ndarray  # (N,) int
    boxes: np.ndarray  # (N, 4) float, pixels
    ignored: np.ndarray  # (M, 4): marked "do not consider"; a tracker box on one is neither hit nor miss


def _frames(rows: dict[int, list[tuple[int, list[float], bool]]]) -> dict[int, TruthFrame]:
    out = {}
    for index, people in rows.items():
        kept = [(i, b) for i, b, scored in people if scored]
        out[index] = TruthFrame(np.array([i for i, _ in kept], dtype=int),
                                np.array([b for _, b in kept], dtype=float).reshape(-1, 4),
                                np.array([b for _, b, scored in people if not scored], dtype=float).reshape(-1, 4))
    return out


def mot_boxes(gt_txt: Path, frames: int) -> dict[int, TruthFrame]:
    """MOTChallenge ``gt.txt`` (frame from 1, id, left, top, width, height, consider, ...) ->
    video frame index -> TruthFrame, for every frame in ``range(frames)`` (empty ones included)."""
    rows: dict[int, list] = {i: [] for i in range(frames)}
    with open(gt_txt, newline="") as f:
        for r in csv.reader(f):
            frame, pid, left, top, width, height, consider = int(r[0]), int(r[1]), *map(float, r[2:6]), int(r[6])
            if 0 <= frame - 1 < frames:
                rows[frame - 1].append((pid, [left, top, left + width, top + height], consider != 0))
    return _frames(rows)


def caviar_boxes(xml_path: Path) -> dict[int, TruthFrame]:
    """CAVIAR CVML XML (box centre and size in pixels) -> frame index -> TruthFrame."""
    rows: dict[int, list] = {}
    for frame in ET.parse(xml_path).getroot().iter("frame"):
        people = rows.setdefault(int(frame.get("number")), [])
        for o in frame.findall("./objectlist/object"):
            b = o.find("box")
            xc, yc, w, h = (float(b.get(k)) for k in ("xc", "yc", "w", "h"))
            people.append((int(o.get("id")), [xc - w / 2, yc - h / 2, xc + w / 2, yc + h / 2], True))
    return _frames(rows)
