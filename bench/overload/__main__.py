"""Counts when the detector is slower than the camera: entries/exits error against detector capacity.

    python -m bench.overload [--capacities 1,2,3,5,10] [--camera-fps 10] [--jitter 0,0.5] [--seeds 1]

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

A second clip, the synthetic door (``storesight synth --scenario demo``, seed 0: 14 people walk
in through the entrance line, 3 leave through it, 11 through the exit line; 10 fps), is run with
its exact boxes as the detector's output (a perfect detector: people at least half in view and
at most half covered, score 0.9), the current policy and aggregator only: its truth is exact,
and its people are small (~0.07 of the width) and walk ~2 of their widths a second, where the
Intel clip's are ~0.25 wide and walk ~1.2 widths a second. Error = the sum over visitors and
the two lines' entries and exits.
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
from services.detect.people import feet
from services.detect.pipeline import Detector
from services.detect.shedding import replay_timed
from storesight.config import load_config, parse_config
from tests.support.servers import INTEL_CLIP, REPO
from tools.synth import scene
from tools.synth.script import SCENARIOS, simulate

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
    seed: int = 1

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
        record = FrameRecord(CAMERA, t, people.tracker_id.tolist(), [tuple(f) for f in feet(people).tolist()], index)
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


DOOR_SCENARIO, DOOR_SEED, DOOR_ASPECT = "demo", 0, 0.42  # a person's width / height in the synth's sprites


class TruthBoxes:
    """A detector that finds exactly the synthetic people (at least half in view, at most half
    covered), in the order of the frames it is given."""

    name = model_name = "truth"
    input_size = 640

    def __init__(self, frames, width: int, height: int):
        self._frames, self._next, self.width, self.height = list(frames), 0, width, height

    def detect(self, images):
        out = []
        for _ in images:
            frame = self._frames[self._next]
            self._next += 1
            rows = [[p.box[0] * self.width, p.box[1] * self.height, p.box[2] * self.width, p.box[3] * self.height, 0.9]
                    for p in frame.people if p.visible >= 0.5 and p.occluded <= 0.5]
            out.append(np.asarray(rows, dtype=np.float32).reshape(-1, 5))
        return out, 0.0


def door_clip():
    """(truth frames, config, truth counts) of the synthetic door clip."""
    scenario = SCENARIOS[DOOR_SCENARIO]
    truth = simulate(scenario, DOOR_SEED, (DOOR_ASPECT,))
    config = parse_config(scene.store_config("clip.mp4", truth.fps, scenario.rule))
    counts = {"visitors": len(truth.people)}
    for line in ("entrance", "exit"):
        for direction, name in (("in", "in"), ("out", "out")):
            counts[f"{line} {name}"] = sum(1 for c in truth.crossings if c.line == line and c.direction == direction)
    return truth, config, counts


def count_door(truth, config, run: list[tuple[int, float]]) -> tuple[dict[str, int], int]:
    """Track and aggregate the door clip's frames run; its counts and the gaps longer than the track memory."""
    camera = next(config.cameras())[1].id
    frames = [truth.frames[i] for i, _ in run]
    settings = config.pipeline.detect
    detector = Detector(settings, backend=TruthBoxes(frames, truth.width, truth.height))
    aggregator = Aggregator(config)
    windows, gaps, last = [], 0, None
    image = np.empty((truth.height, truth.width, 0), dtype=np.uint8)
    for frame in frames:
        if last is not None and frame.t - last > settings.track_memory_s:
            gaps += 1
        last = frame.t
        (people,), _ = detector.process([camera], [image], [frame.t])
        record = FrameRecord(camera, frame.t, people.tracker_id.tolist(), [tuple(f) for f in feet(people).tolist()], frame.frame)
        windows += [o for o in aggregator.process([record]) if isinstance(o, WindowStats)]
    windows += [o for o in aggregator.flush() if isinstance(o, WindowStats)]
    counts = {"visitors": sum(w.unique_tracks or 0 for w in windows if w.zone_id == f"camera:{camera}")}
    for (_, line), (entries, exits) in sorted(aggregator.state.line_totals.items()):
        counts[f"{line} in"], counts[f"{line} out"] = entries, exits
    return counts, gaps


def door_table(capacities: list[float], jitters: list[float], seeds: list[int]) -> str:
    truth, config, expected = door_clip()
    times = [f.t for f in truth.frames]
    lines = ["| jitter | seed | detector frames/s | frames run | " + " | ".join(expected) + " | error | gaps > track memory |",
             "|" + "---|" * (len(expected) + 6),
             f"| | | (truth, {truth.fps:g} fps, {len(times)} frames) | | "
             + " | ".join(str(v) for v in expected.values()) + " | 0 | |"]
    for jitter in jitters:
        for seed in (seeds if jitter else seeds[:1]):
            for capacity in capacities:
                run = replay_timed(times, capacity, service_s=service_times(capacity, jitter, seed))
                counts, gaps = count_door(truth, config, run)
                error = sum(abs(counts.get(k, 0) - v) for k, v in expected.items())
                lines.append(f"| {jitter:g} | {seed} | {capacity:g} | {len(run)} | "
                             + " | ".join(str(counts.get(k, 0)) for k in expected) + f" | **{error}** | {gaps} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--capacities", default="1,2,3,5,10", help="detector frames/s to simulate")
    parser.add_argument("--camera-fps", type=float, default=10.0)
    parser.add_argument("--jitter", default="0,0.5",
                        help="sigmas of the log-normal service time to run (0 = constant; default 0 and 0.5)")
    parser.add_argument("--seeds", default="1", help="seeds of the jittery run times (comma separated)")
    args = parser.parse_args()
    began = time.monotonic()
    recording = cached_recording(INTEL_CLIP, 1)
    print(f"recorded model outputs: {len(recording)} frames of {INTEL_CLIP.name} "
          f"({time.monotonic() - began:.1f} s, cached); load average {os.getloadavg()[0]:.1f}")
    times = [index / args.camera_fps for index, _, _ in recording]
    results = []
    capacities = [float(c) for c in args.capacities.split(",")]
    jitters = [float(j) for j in args.jitter.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    for jitter in jitters:
        for seed in (seeds if jitter else seeds[:1]):
            for capacity in capacities:
                for policy, chooser in (("shedding", replay_timed), ("fifo", fifo)):
                    run = chooser(times, capacity, service_s=service_times(capacity, jitter, seed))
                    for name, kind in (("camera clock", Aggregator), ("watermark", WatermarkAggregator)):
                        counts, gaps, lag = count(recording, run, args.camera_fps, kind)
                        results.append(Result(policy, capacity, len(run), counts, gaps, jitter, lag, name, seed))
    header = ("| jitter | seed | detector frames/s | policy | aggregate tracks end on | frames run | lag p50 s | "
              + " | ".join(TRUTH) + " | error | gaps > track memory |")
    lines = [header, "|" + "---|" * (len(TRUTH) + 9),
             "| | | (truth) | | | | | " + " | ".join(str(v) for v in TRUTH.values()) + " | 0 | |"]
    for r in results:
        lines.append(f"| {r.jitter:g} | {r.seed} | {r.capacity:g} | {r.policy} | {r.aggregator} | {r.frames} | {r.lag_s:.1f} | "
                     + " | ".join(str(r.counts[k]) for k in TRUTH) + f" | **{r.error}** | {r.gaps} |")
    summaries = []
    for jitter in sorted({r.jitter for r in results}):
        for policy, aggregator in (("shedding", "camera clock"), ("fifo", "camera clock"),
                                   ("shedding", "watermark"), ("fifo", "watermark")):
            mine = sorted((r for r in results if r.policy == policy and r.jitter == jitter
                           and r.aggregator == aggregator), key=lambda r: -r.capacity)
            worst: dict[float, int] = {}  # capacity -> largest error over the seeds
            for r in mine:
                worst[r.capacity] = max(worst.get(r.capacity, 0), r.error)
            floor = None
            for capacity, error in worst.items():
                if error:
                    break
                floor = capacity
            summaries.append(f"- jitter {jitter:g}, {policy}, tracks end on the {aggregator}: " + (
                f"error 0 at every capacity from {mine[0].capacity:g} down to {floor:g} frames/s"
                if floor is not None else "error at the highest capacity already")
                + f"; largest error over {len(seeds) if jitter else 1} seed(s) by capacity: "
                + ", ".join(f"{c:g}: {e}" for c, e in worst.items()))
    text = "\n".join(lines) + "\n\n" + "\n".join(summaries) + "\n"
    print(text)
    print("Synthetic door clip (perfect detector, shedding, tracks end on the camera clock):\n")
    print(door_table(capacities, jitters, seeds))
    print(f"took {time.monotonic() - began:.0f} s")


if __name__ == "__main__":
    main()
