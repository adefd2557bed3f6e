"""The demo's clip truth: ground-truth tracks through the aggregator's own rules, and the committed
numbers the demo prints can neither drift from gt.txt nor be edited by hand."""

from __future__ import annotations

import pytest
import yaml

from storesight.config import load_config
from tests.support.servers import PETS_DIR, REPO
from tools.clip_truth import derive, load_truth, mot_frames, truth_counts

WALKWAY = REPO / "examples" / "demo-walkway.yaml"

CONFIG = """
region: r
stores:
  - id: s
    name: S
    timezone: UTC
    cameras:
      - id: c
        source: clip.avi
        fps: 10
        zones:
          - {id: right, kind: area, polygon: [[0.5, 0.0], [1.0, 0.0], [1.0, 1.0], [0.5, 1.0]]}
        lines:
          - {id: middle, a: [0.5, 0.0], b: [0.5, 1.0], in_point: [0.9, 0.5]}
        ignore_regions:
          - [[0.0, 0.9], [0.2, 0.9], [0.2, 1.0], [0.0, 1.0]]
"""


def walk(pid: int, frames: range, x0: float, dx: float, y: float = 0.5) -> list[str]:
    """MOT rows of a 20x40 px person whose foot point moves dx (normalised, 100 px image) a frame."""
    return [f"{f + 1},{pid},{(x0 + dx * i) * 100 - 10:.2f},{y * 100 - 40:.2f},20,40,1,-1,-1,-1"
            for i, f in enumerate(frames)]


def test_a_walk_across_the_line_into_the_zone_counts_once_and_ignored_feet_count_nothing(tmp_path):
    path = tmp_path / "store.yaml"
    path.write_text(CONFIG)
    config = load_config(path)
    rows = (walk(1, range(0, 60), 0.2, 0.01)  # left to right: crosses the line inwards, stays 3 s in the zone
            + walk(2, range(0, 60), 0.1, 0.0, y=0.95))  # stands in the ignore region all along
    frames = mot_frames(rows, 100, 100)
    counts = truth_counts(config, "c", frames, clip_fps=10.0)
    assert counts["line:middle"] == {"entries": 1, "exits": 0}
    assert counts["right"] == {"entries": 1, "exits": 1}  # the visit ends when the clip does
    assert counts["camera:c"]["entries"] == 1  # the ignored one is nobody


def test_bad_ground_truth_rows_are_a_clear_error():
    with pytest.raises(ValueError, match="row 2"):
        mot_frames(["1,1,0,0,10,10,1", "x,1,0,0,10,10,1"], 100, 100)


def test_the_walkway_demo_truth_is_what_its_ground_truth_gives():
    """Recomputed from ../shared's gt.txt (CI has it): the committed numbers cannot drift."""
    gt, video = PETS_DIR / "gt.txt", PETS_DIR / "vtest.avi"
    if not gt.exists():
        pytest.skip("PETS09-S2L1 ground truth not found in ../shared/data")
    committed = load_truth(WALKWAY)
    assert committed is not None, "examples/demo-walkway.truth.yaml is missing: storesight clip-truth --write"
    derived = derive(WALKWAY, gt, video=video)
    assert committed == derived, ("examples/demo-walkway.truth.yaml differs from its ground truth: "
                                  f"rerun storesight clip-truth --write\n{yaml.safe_dump(derived)}")
    assert set(derived["counts"]) == {"lawn", "line:walkway", "camera:cam-walkway"}
