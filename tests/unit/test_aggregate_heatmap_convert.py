"""Heatmap rendering over a people-free background, and the proto <-> record conversions."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from services.aggregate.convert import frame_from_proto, zone_stats_to_proto
from services.aggregate.heatmap import accumulate, file_background, render
from services.aggregate.records import WindowStats
from storesight.contracts import Detections, ZoneStats
from tests.support.servers import INTEL_DIR, REPO
from tools.cli import main


def test_unknown_window_has_no_values_and_known_zero_is_written():
    unknown = zone_stats_to_proto(WindowStats("s", "z", "area", 0.0, 60.0, "UNKNOWN", 0.0))
    assert unknown.status == ZoneStats.STATUS_UNKNOWN
    assert not unknown.HasField("occupancy_avg") and not unknown.HasField("entries")
    empty = zone_stats_to_proto(WindowStats("s", "z", "area", 0.0, 60.0, "OK", 1.0, occupancy_avg=0.0, entries=0))
    assert empty.HasField("occupancy_avg") and empty.occupancy_avg == 0 and empty.HasField("entries")
    assert empty.window_end.seconds == 60


def test_frame_from_proto_reads_tracks_and_feet():
    msg = Detections(camera_id="c", frame_seq=4)
    msg.capture_time.FromSeconds(100)
    p = msg.persons.add(track_id=9)
    p.foot.x, p.foot.y = 0.25, 0.75
    rec = frame_from_proto(msg)
    assert (rec.camera_id, rec.capture_s, rec.track_ids) == ("c", 100.0, [9])
    assert rec.feet == [(0.25, 0.75)]


def test_accumulate_and_render_only_colour_where_people_stood():
    counts = accumulate([(0.1, 0.1)] * 5 + [(0.99, 0.99)], (10, 10))
    assert counts[1, 1] == 5 and counts[9, 9] == 1 and counts.sum() == 6
    background = np.full((100, 100, 3), 128, dtype=np.uint8)
    image = render(background, counts)
    assert image.shape == background.shape
    assert np.abs(image[15, 15].astype(int) - 128).sum() > 30   # hot cell coloured
    assert np.array_equal(image[60, 40], background[60, 40])     # far from anyone: untouched


@pytest.fixture(scope="module")
def clip(intel_clip):
    return intel_clip


def test_file_background_has_no_people(clip):
    import cv2

    with open(INTEL_DIR / "frame_counts.csv", encoding="utf-8") as fh:
        counts = {int(r["frame"]): int(r["persons"]) for r in csv.DictReader(fh)}
    background = file_background(str(clip), samples=15).astype(int)
    cap = cv2.VideoCapture(str(clip))

    def changed(index) -> float:
        """Share of pixels far (> 50 levels) from the background: a person is a big blob."""
        cap.set(cv2.CAP_PROP_POS_FRAMES, index)
        return float((np.abs(background - cap.read()[1].astype(int)).max(axis=2) > 50).mean())

    empty = [i for i, c in counts.items() if c == 0][10::150]
    busy = [i for i, c in counts.items() if c == 1][20::150]
    worst_empty = max(changed(i) for i in empty)
    least_busy = min(changed(i) for i in busy)
    cap.release()
    # Measured: empty frames ~2.2 %, frames with a person 7-10 %.
    assert worst_empty < 0.035 and least_busy > 2 * worst_empty, (worst_empty, least_busy)


def test_heatmap_verb_writes_png_from_a_detections_file(clip, tmp_path):
    import cv2

    path = tmp_path / "det.jsonl"
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(50):
            fh.write(json.dumps({"frame": i, "capture_time": 1_800_000_000 + i / 10,
                                 "persons": [{"box": [0.5, 0.5, 0.6, 0.8], "conf": 0.9, "track_id": 1}]}) + "\n")
    out = tmp_path / "heat.png"
    rc = main(["heatmap", "cam-table", "--config", str(REPO / "examples" / "demo-store.yaml"),
               "--out", str(out), "--detections", str(path), "--samples", "7"])
    assert rc == 0
    image = cv2.imread(str(out))
    assert image.shape == (432, 768, 3)
