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
