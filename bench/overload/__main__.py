"""Counts when the detector is slower than the camera: entries/exits error against detector capacity.

    python -m bench.overload [--capacities 1,2,3,5,10] [--camera-fps 10] [--no-write]

The Intel clip (6 labelled visits, ../shared/data/intel-one-by-one/visits.csv) plays as a 10 fps
camera. A detector that runs C frames a second (batch 1) is simulated offline: the model's raw
outputs for every frame are recorded once (cached, ``bench.accuracy.recorded``: the detector has
seen every frame once), the frames such a detector would run are chosen by a policy, and only
those go through the real tracker (``services.detect.pipeline.Detector``) and the real
aggregation core (``services.aggregate.core.Aggregator``) with the demo store's zones and line.

Two policies, same capacities, same recording:
- ``shedding``: the live detect service's policy (``services.detect.shedding.replay``: each
  camera's newest frame wins; processed frames evenly spaced at the capacity);
- ``fifo``: the policy before it (frames in arrival order, frames older than ``max_frame_age_s``
  = 5 s, the demo's, dropped unrun): the detector falls behind, then drops bursts.

Truth on the clip: 6 visitors, 6 entries and 6 exits at the table and the floor, 0 in / 6 out
through the right-hand line. Error = sum of |counted - truth| over those 7 numbers. Settings
are the service defaults (no per-rate tuning).
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.accuracy.recorded import RecordedBackend, cached_recording
from services.aggregate.core import Aggregator, FrameRecord, WindowStats
from services.detect.pipeline import Detector
from services.detect.shedding import replay
from storesight.config import load_config
from tests.support.servers import INTEL_CLIP, REPO

CONFIG = REPO / "examples" / "demo-store.yaml"
CAMERA, STORE, LINE = "cam-table", "demo-store", "right-exit"
TRUTH = {"visitors": 6, "floor in": 6, "floor out": 6, "table in": 6, "table out": 6, "line in": 0, "line out": 6}
FIFO_MAX_AGE_S = 5.0
OUT = Path(__file__).resolve().parents[1] / "RESULTS-overload.md"


def fifo(capture_s: list[float], capacity_fps: float, max_age_s: float = FIFO_MAX_AGE_S) -> list[int]:
    """The frames a FIFO detector with a stale-frame rule runs (the policy before shedding)."""
    run, free_at = [], -np.inf
    for i, t in enumerate(capture_s):
        start = max(free_at, t)
        if start - t > max_age_s:
            continue  # dropped as stale: costs nothing
        run.append(i)
        free_at = start + 1.0 / capacity_fps
    return run


@dataclass
class Result:
    policy: str
    capacity: float
    frames: int
    counts: dict[str, int]
    gaps: int  # processed frames further apart than the track memory

    @property
    def error(self) -> int:
        return sum(abs(self.counts[k] - v) for k, v in TRUTH.items())


def count(recording, chosen: list[int], camera_fps: float) -> tuple[dict[str, int], int]:
    """Track and aggregate the chosen frames of the recording; the 7 counts compared with the truth."""
    config = load_config(CONFIG)
    settings = config.pipeline.detect
    frames = [recording[i] for i in chosen]
    backend = RecordedBackend(frames, settings.track_low_confidence, settings.iou)
    detector = Detector(settings, backend=backend)
    aggregator = Aggregator(config)
    windows: list[WindowStats] = []
    gaps, last = 0, None
    for index, _, placement in frames:
        t = index / camera_fps
        if last is not None and t - last > settings.track_memory_s:
            gaps += 1
        last = t
        image = np.empty((placement.height, placement.width, 0), dtype=np.uint8)  # only its shape is read
        (people,), _ = detector.process([CAMERA], [image], [t])
        record = FrameRecord(CAMERA, t, [p.track_id for p in people], [p.foot for p in people], index)
        windows += [o for o in aggregator.process([record]) if isinstance(o, WindowStats)]
    windows += [o for o in aggregator.flush() if isinstance(o, WindowStats)]

    def total(zone: str, field: str) -> int:
        return sum(getattr(w, field) or 0 for w in windows if w.zone_id == zone)

    line_in, line_out = aggregator.state.line_totals.get((STORE, LINE), [0, 0])
    return {"visitors": total(f"camera:{CAMERA}", "unique_tracks"),
            "floor in": total("floor", "entries"), "floor out": total("floor", "exits"),
            "table in": total("table", "entries"), "table out": total("table", "exits"),
            "line in": line_in, "line out": line_out}, gaps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--capacities", default="1,2,3,5,10", help="detector frames/s to simulate")
    parser.add_argument("--camera-fps", type=float, default=10.0)
    parser.add_argument("--no-write", action="store_true", help=f"do not write {OUT.name}")
    args = parser.parse_args()
    began = time.monotonic()
    recording = cached_recording(INTEL_CLIP, 1)
    print(f"recorded model outputs: {len(recording)} frames of {INTEL_CLIP.name} "
          f"({time.monotonic() - began:.1f} s, cached); load average {os.getloadavg()[0]:.1f}")
    times = [index / args.camera_fps for index, _, _ in recording]
    results = []
    for capacity in [float(c) for c in args.capacities.split(",")]:
        for policy, chooser in (("shedding", replay), ("fifo", fifo)):
            chosen = chooser(times, capacity)
            counts, gaps = count(recording, chosen, args.camera_fps)
            results.append(Result(policy, capacity, len(chosen), counts, gaps))
    header = ("| detector frames/s | policy | frames run | " + " | ".join(TRUTH) + " | error | gaps > track memory |")
    lines = [header, "|" + "---|" * (len(TRUTH) + 5),
             "| (truth) | | | " + " | ".join(str(v) for v in TRUTH.values()) + " | 0 | |"]
    for r in results:
        lines.append(f"| {r.capacity:g} | {r.policy} | {r.frames} | "
                     + " | ".join(str(r.counts[k]) for k in TRUTH) + f" | **{r.error}** | {r.gaps} |")
    shed = [r for r in results if r.policy == "shedding"]
    exact = sorted(r.capacity for r in shed if r.error == 0)
    floor = None
    for r in sorted(shed, key=lambda r: -r.capacity):
        if r.error:
            break
        floor = r.capacity
    summary = (f"shedding: error 0 at every capacity from {args.camera_fps:g} down to {floor:g} frames/s"
               if floor is not None else "shedding: no capacity gives error 0")
    text = "\n".join(lines) + f"\n\n{summary} (exact at {', '.join(f'{c:g}' for c in exact) or 'none'})\n"
    print(text)
    print(f"took {time.monotonic() - began:.0f} s")
    if not args.no_write:
        OUT.write_text(f"# Counts against detector capacity (`python -m bench.overload`)\n\n"
                       f"Intel clip as a {args.camera_fps:g} fps camera; load average "
                       f"{os.getloadavg()[0]:.1f}.\n\n{text}")
        print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
