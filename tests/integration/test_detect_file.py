"""``storesight detect-file`` on the labelled Intel clip: the documented JSON-lines format and counts.

The clip is run once per session at 5 frames/s (the ``intel_detections_file`` fixture in
tests/conftest.py, shared with the aggregate tests); the full 10 fps numbers are in
bench/ACCURACY.md (python -m bench.accuracy).
"""

from __future__ import annotations

import json

import pytest

from bench.accuracy.groundtruth import intel_counts, intel_visits
from bench.accuracy.scoring import score, tracks_per_visit
from services.detect.pipeline import FrameResult
from tests.conftest import INTEL_EVERY
from tests.support import servers

# The first test pays for the shared detector run over the clip (minutes on 2 CPU cores).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

EVERY = INTEL_EVERY


@pytest.fixture(scope="session")
def intel_detections(intel_detections_file) -> list[str]:
    return intel_detections_file.read_text().splitlines()


def test_output_is_one_documented_json_line_per_processed_frame(intel_detections):
    assert len(intel_detections) == (1394 + EVERY - 1) // EVERY
    first = json.loads(intel_detections[0])
    assert set(first) == {"v", "frame", "t", "capture_time", "width", "height", "model", "inference_ms", "persons"}
    assert first["v"] == 1 and first["frame"] == 0 and first["capture_time"] == "2026-11-21T09:00:00Z"
    record = next(json.loads(line) for line in intel_detections if json.loads(line)["persons"])
    person = record["persons"][0]
    assert set(person) == {"box", "conf", "track_id", "foot", "predicted"}
    x1, y1, x2, y2 = person["box"]
    assert 0 <= x1 < x2 <= 1 and 0 <= y1 < y2 <= 1 and person["foot"] == [pytest.approx((x1 + x2) / 2, abs=1e-4), y2]
    results = [FrameResult.from_json(line) for line in intel_detections]
    assert [r.frame for r in results] == list(range(0, 1394, EVERY))
    assert results[10].t == pytest.approx(10 * EVERY / 10) and results[10].to_json() == intel_detections[10]


def test_counts_and_visitors_match_the_labels(intel_detections):
    results = [FrameResult.from_json(line) for line in intel_detections]
    result = score(results, intel_counts(servers.INTEL_DIR))
    assert result.frames > 200
    assert result.exact >= 0.97, result
    assert 5 <= result.distinct_tracks <= 7, result
    # Each visit is one track for most of it: no id switches while a person stands at the table.
    visits = [(v.first_frame + 10, v.last_frame - 10) for v in intel_visits(servers.INTEL_DIR)]
    for counter in tracks_per_visit(results, visits, min_frames=2):
        assert len(counter) == 1, counter
