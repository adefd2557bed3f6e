"""Tracker association metrics side by side, one table: IoU at several thresholds, buffered IoU
(BIoU) whose buffer grows with the gap between a camera's processed frames, DIoU and GIoU.

Why: at 1-3 detector frames/s (load shedding) a small, fast person's consecutive boxes overlap
by less than the IoU threshold, so tracks never confirm or fragment (issues 15, 16). Every variant
replays the same recorded detector output through the product's Detector (services/detect) with
only the association settings changed (``track_association``, ``track_match_iou``,
``track_buffer_per_s`` of DetectSettings), on:
- bench.tracking's clips at their full rate: PETS09 IDF1/MOTA at IoU 0.5 and 0.3, CAVIAR per-frame
  MAE and IDF1, Intel exact % and visits (must not get worse);
- bench.overload: the Intel clip (shedding, tracks end on the camera clock; largest error over
  jitter 0 and jitter 0.5 with the seeds given) and the synthetic door clip, per detector rate;
- bench.walkway: PETS vtest.avi lawn zone and walkway line (in/out) and camera visitors per rate.

    PYTHONPATH=. .venv/bin/python -m bench.association [--variants iou0.3,biou1] [--seeds 1,2,3]
"""

from __future__ import annotations

import argparse
import os
import time

import services.detect.pipeline as pipeline
from bench.accuracy.recorded import cached_recording
from bench.overload.__main__ import INTEL_CLIP, TRUTH, count, count_door, door_clip, service_times
from bench.tracking.__main__ import CLIPS, ENTRIES, clip_fps, raw_boxes, run
from bench.walkway.__main__ import PETS_DIR, WALKWAY_CONFIG, load_truth
from bench.walkway.__main__ import counts as walkway_counts
from services.detect.shedding import replay_timed

# name -> DetectSettings changes; the first is the current default.
VARIANTS = {
    "iou0.3": {"track_association": "iou", "track_match_iou": 0.3},
    "iou0.2": {"track_association": "iou", "track_match_iou": 0.2},
    "iou0.1": {"track_association": "iou", "track_match_iou": 0.1},
    "biou0.5": {"track_association": "biou", "track_match_iou": 0.3, "track_buffer_per_s": 0.5},
    "biou1": {"track_association": "biou", "track_match_iou": 0.3, "track_buffer_per_s": 1.0},
    "biou2": {"track_association": "biou", "track_match_iou": 0.3, "track_buffer_per_s": 2.0},
    "biou3": {"track_association": "biou", "track_match_iou": 0.3, "track_buffer_per_s": 3.0},
    "diou0": {"track_association": "diou", "track_match_iou": 0.0},
    "diou-0.3": {"track_association": "diou", "track_match_iou": -0.3},
    "giou0": {"track_association": "giou", "track_match_iou": 0.0},
    "giou-0.3": {"track_association": "giou", "track_match_iou": -0.3},
}
CAMERA_FPS = 10.0


def use(changes: dict) -> None:
    """Make every Detector (and bench.tracking's adopted tracker) built from now on use these settings."""
    original = use.original  # type: ignore[attr-defined]

    def settings(detect):
        return original(detect.model_copy(update=changes))

    pipeline.tracker_settings = settings


use.original = pipeline.tracker_settings  # type: ignore[attr-defined]


def full_rate() -> list[str]:
    adopted = next(e for e in ENTRIES if e.name.startswith("adopted: "))
    cells = []
    for name in ("pets", "caviar", "intel"):
        clip = CLIPS[name]()
        row = run(adopted, clip, raw_boxes(clip), clip_fps(clip.video))
        if name == "pets":
            cells += [f"{row.mot[0.5].idf1:.3f} / {row.mot[0.5].mota:.3f} / {row.mot[0.5].id_switches}",
                      f"{row.mot[0.3].idf1:.3f} / {row.mot[0.3].mota:.3f} / {row.mot[0.3].id_switches}"]
        elif name == "caviar":
            cells += [f"{row.mae:.2f} / {row.mot[0.5].idf1:.3f}"]
        else:
            cells += [f"{row.exact:.0%} / {row.distinct}"]
    return cells


def overload(capacities: list[float], seeds: list[int]) -> list[str]:
    recording = cached_recording(INTEL_CLIP, 1)
    times = [index / CAMERA_FPS for index, _, _ in recording]
    truth, config, expected = door_clip()
    door_times = [f.t for f in truth.frames]
    cells = []
    for capacity in capacities:
        intel = door = 0
        for jitter, seed in [(0.0, seeds[0])] + [(0.5, s) for s in seeds]:
            plan = replay_timed(times, capacity, service_s=service_times(capacity, jitter, seed))
            got, _, _ = count(recording, plan, CAMERA_FPS)
            intel = max(intel, sum(abs(got[k] - v) for k, v in TRUTH.items()))
            plan = replay_timed(door_times, capacity, service_s=service_times(capacity, jitter, seed))
            got, _ = count_door(truth, config, plan)
            door = max(door, sum(abs(got.get(k, 0) - v) for k, v in expected.items()))
        cells.append(f"{intel} / {door}")
    return cells


def walkway(capacities: list[float]) -> list[str]:
    truth = load_truth(WALKWAY_CONFIG)["counts"]
    recording = cached_recording(PETS_DIR / "vtest.avi", 1)
    times = [index / CAMERA_FPS for index, _, _ in recording]
    cells = []
    for capacity in capacities:
        got = walkway_counts(recording, replay_timed(times, capacity), CAMERA_FPS)

        lawn, line, camera = (got.get(zone, {}) for zone in ("lawn", "line:walkway", "camera:cam-walkway"))
        cells.append(f"{lawn.get('entries', 0)}/{lawn.get('exits', 0)} {line.get('entries', 0)}/{line.get('exits', 0)} "
                     f"{camera.get('entries', 0)}")
    assert truth["lawn"] and truth["line:walkway"]
    return cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"of {', '.join(VARIANTS)}")
    parser.add_argument("--capacities", default="1,2,3,5,10", help="detector frames/s (camera at 10 fps)")
    parser.add_argument("--seeds", default="1,2,3", help="seeds of the jittery (0.5) run times")
    args = parser.parse_args()
    began = time.monotonic()
    capacities = [float(c) for c in args.capacities.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    caps = [f"{c:g}" for c in capacities]
    print(f"load average {os.getloadavg()[0]:.1f} at start")
    header = (["association", "PETS IDF1/MOTA/IDsw @0.5", "PETS @0.3", "CAVIAR MAE / IDF1", "Intel exact / visits"]
              + [f"overload {c} fps Intel/door error" for c in caps]
              + [f"walkway {c} fps lawn line visitors" for c in caps])
    print("| " + " | ".join(header) + " |\n|" + "---|" * len(header), flush=True)
    for name in args.variants.split(","):
        use(VARIANTS[name])
        cells = [name] + full_rate() + overload(capacities, seeds) + walkway(capacities)
        print("| " + " | ".join(cells) + " |", flush=True)
    print(f"walkway truth: lawn 3/3, line 3/6, visitors 19; overload error is the largest over jitter 0 (seed "
          f"{seeds[0]}) and jitter 0.5 (seeds {args.seeds}); took {time.monotonic() - began:.0f} s, "
          f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
