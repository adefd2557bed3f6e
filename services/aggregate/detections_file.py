"""Read per-frame detections from a JSONL file (what ``storesight detect`` can write for offline use).

One JSON object per line, one line per frame::

    {"frame": 61, "capture_time": "2026-11-20T10:00:06.100Z",
     "persons": [{"box": [x1, y1, x2, y2], "conf": 0.91, "track_id": 3, "foot": [x, y]}]}

Coordinates are normalised (0..1). ``capture_time`` is ISO 8601 or seconds since the epoch;
``camera_id`` on a line overrides the camera given to the reader. ``foot`` defaults to the
bottom centre of ``box``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

from services.aggregate.records import FrameRecord


def _seconds(value) -> float:
    if isinstance(value, int | float):
        return float(value)
    return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def read_detections_jsonl(path: str | Path, camera_id: str) -> Iterator[FrameRecord]:
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            row = json.loads(line)
            persons = []
            for p in row.get("persons", []):
                foot = p.get("foot")
                if foot is None:
                    x1, _, x2, y2 = p["box"]
                    foot = ((x1 + x2) / 2, y2)
                persons.append((int(p.get("track_id") or 0), float(foot[0]), float(foot[1])))
            yield FrameRecord.of(row.get("camera_id", camera_id), _seconds(row["capture_time"]), persons,
                                 int(row.get("frame", 0)))
