"""Counts when the detector is slower than the camera: entries/exits error against detector capacity.

    python -m bench.overload [--capacities 1,2,3,5,10] [--camera-fps 10] [--jitter 0,0.5]

Prints a table; bench/RESULTS-overload.md holds its output with the discussion.

The Intel clip (6 labelled visits, ../shared/data/intel-one-by-one/visits.csv) plays as a 10 fps
camera. A detector that runs C frames a second (batch 1; each run's time constant, or drawn
log-normal around 1/C with ``--jitter`` sigma, as on a loaded CPU) is simulated offline: the model's raw
outputs for every frame are recorded once (cached, ``bench.accuracy.recorded``: the detector has
seen every frame once), the frames such a detector would run are chosen by a policy, and only
those go through the real tracker (``services.detect.pipeline.Detector``) and the real
aggregation core (``services.aggregate.aggregator.Aggregator``) with the demo store's zones and line.

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

import numpy as np

from bench.accuracy.recorded import RecordedBackend, cached_recording
from services.aggregate.aggregator import Aggregator
from services.aggregate.records import FrameRecord, HealthRecord, WindowStats
from services.detect.pipeline import Detector
from services.detect.shedding import replay_timed
from storesight.config import load_config
from tests.support.servers import INTEL_CLIP, REPO

CONFIG = REPO / "examples" / "demo-store.yaml"
CAMERA, STORE, LINE = "cam-table", "demo-store", "right-exit"
TRUTH = {"visitors": 6, "floor in": 6, "floor out": 6, "table in": 6, "table out": 6, "line in": 0, "line out": 6}
FIFO_MAX_AGE_S = 5.0
HEALTH_S = 2.0  # ingest's health_interval_s: reports carry wall time and move event time on


def fifo(capture_s: list[float], capacity_fps: float, service_s=None,
         max_age_s: float = FIFO_MAX_AGE_S) -> list[tuple[int, float]]:
    """(index, done) of the frames a FIFO detector with a stale-frame rule runs (the policy before shedding)."""
    service = service_s or (lambda _: 1.0 / capacity_fps)
    run, free_at = [], -np.inf
    for i, t in enumerate(capture_s):
        start = max(free_at, t)
        if start - t > max_age_s:
            continue  # dropped as stale: costs nothing
        free_at = start + service(len(run) + 1)
        run.append((i, free_at))
    return run


def service_times(capacity_fps: float, jitter: float, seed: int):
    """Seconds each run takes: 1/capacity on average, log-normal with sigma ``jitter`` (a model on a
    shared CPU is not a metronome; 0 = constant), the same draws for both policies."""
    if jitter <= 0:
        return None
    rng = np.random.default_rng(seed)
    draws = rng.lognormal(-jitter ** 2 / 2, jitter, 100_000) / capacity_fps  # mean 1/capacity
    return lambda k: float(draws[k % len(draws)])


@dataclass
class Result:
    policy: str
    capacity: float
    frames: int
    counts: dict[str, int]
    gaps: int  # processed frames further apart than the track memory
    jitter: float
    lag_s: float  # median capture -> detections out
    aggregator: str

    @property
    def error(self) -> int:
        return sum(abs(self.counts[k] - v) for k, v in TRUTH.items())


class WatermarkAggregator(Aggregator):
    """The aggregator before tracks were judged on their camera's own frames (for comparison)."""

    def _camera_clock(self, cam, wm: float) -> float:
        return wm


def count(recording, run: list[tuple[int, float]], camera_fps: float,
          aggregator_type=Aggregator) -> tuple[dict[str, int], int, float]:
    """Track and aggregate the frames run, in the order their detections come out, with ingest's
    health reports (every ``HEALTH_S`` of wall time) between them, as the live aggregate sees them.
    Returns the 7 counts, the gaps longer than the track memory and the median capture->out lag."""
    config = load_config(CONFIG)
    settings = config.pipeline.detect
    frames = [recording[i] for i, _ in run]
    backend = RecordedBackend(frames, settings.track_low_confidence, settings.iou)
    detector = Detector(settings, backend=backend)
    aggregator = aggregator_type(config)
    windows: list[WindowStats] = []
    gaps, last = 0, None
    end = run[-1][1] if run else 0.0
    health = iter(np.arange(HEALTH_S, end + HEALTH_S, HEALTH_S))
    next_health = next(health, None)
    for (index, _, placement), (_, done) in zip(frames, run, strict=True):
        while next_health is not None and next_health <= done:
            windows += [o for o in aggregator.process([HealthRecord(CAMERA, float(next_health), True)])
                        if isinstance(o, WindowStats)]
            next_health = next(health, None)
        t = index / camera_fps
        if last is not None and t - last > settings.track_memory_s:
            gaps += 1
        last = t
        image = np.empty((placement.height, placement.width, 0), dtype=np.uint8)  # only its shape is read
        (people,), _ = detector.process([CAMERA], [image], [t])
        record = FrameRecord(CAMERA, t, [p.track_id for p in people], [p.foot for p in people], index)
        windows += [o for o in aggregator.process([record]) if isinstance(o, WindowStats)]
    windows += [o for o in aggregator.flush() if isinstance(o, WindowStats)]
    lag = float(np.median([done - i / camera_fps for i, done in run]))

    def total(zone: str, field: str) -> int:
        return sum(getattr(w, field) or 0 for w in windows if w.zone_id == zone)

    line_in, line_out = aggregator.state.line_totals.get((STORE, LINE), [0, 0])
    return {"visitors": total(f"camera:{CAMERA}", "unique_tracks"),
            "floor in": total("floor", "entries"), "floor out": total("floor", "exits"),
            "table in": total("table", "entries"), "table out": total("table", "exits"),
            "line in": line_in, "line out": line_out}, gaps, lag


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--capacities", default="1,2,3,5,10", help="detector frames/s to simulate")
    parser.add_argument("--camera-fps", type=float, default=10.0)
    parser.add_argument("--jitter", default="0,0.5",
                        help="sigmas of the log-normal service time to run (0 = constant; default 0 and 0.5)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    began = time.monotonic()
    recording = cached_recording(INTEL_CLIP, 1)
    print(f"recorded model outputs: {len(recording)} frames of {INTEL_CLIP.name} "
          f"({time.monotonic() - began:.1f} s, cached); load average {os.getloadavg()[0]:.1f}")
    times = [index / args.camera_fps for index, _, _ in recording]
    results = []
    for jitter in [float(j) for j in args.jitter.split(",")]:
        for capacity in [float(c) for c in args.capacities.split(",")]:
            for policy, chooser in (("shedding", replay_timed), ("fifo", fifo)):
                run = chooser(times, capacity, service_s=service_times(capacity, jitter, args.seed))
                for name, kind in (("camera clock", Aggregator), ("watermark", WatermarkAggregator)):
                    counts, gaps, lag = count(recording, run, args.camera_fps, kind)
                    results.append(Result(policy, capacity, len(run), counts, gaps, jitter, lag, name))
    header = ("| jitter | detector frames/s | policy | aggregate tracks end on | frames run | lag p50 s | "
              + " | ".join(TRUTH) + " | error | gaps > track memory |")
    lines = [header, "|" + "---|" * (len(TRUTH) + 8),
             "| | (truth) | | | | | " + " | ".join(str(v) for v in TRUTH.values()) + " | 0 | |"]
    for r in results:
        lines.append(f"| {r.jitter:g} | {r.capacity:g} | {r.policy} | {r.aggregator} | {r.frames} | {r.lag_s:.1f} | "
                     + " | ".join(str(r.counts[k]) for k in TRUTH) + f" | **{r.error}** | {r.gaps} |")
    summaries = []
    for jitter in sorted({r.jitter for r in results}):
        for policy, aggregator in (("shedding", "camera clock"), ("fifo", "camera clock"),
                                   ("shedding", "watermark"), ("fifo", "watermark")):
            mine = sorted((r for r in results if r.policy == policy and r.jitter == jitter
                           and r.aggregator == aggregator), key=lambda r: -r.capacity)
            floor = None
            for r in mine:
                if r.error:
                    break
                floor = r.capacity
            summaries.append(f"- jitter {jitter:g}, {policy}, tracks end on the {aggregator}: " + (
                f"error 0 at every capacity from {mine[0].capacity:g} down to {floor:g} frames/s"
                if floor is not None else "error at the highest capacity already")
                + f"; errors by capacity: {', '.join(f'{r.capacity:g}: {r.error}' for r in mine)}")
    text = "\n".join(lines) + "\n\n" + "\n".join(summaries) + "\n"
    print(text)
    print(f"took {time.monotonic() - began:.0f} s")


if __name__ == "__main__":
    main()
