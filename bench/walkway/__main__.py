"""The walkway demo's counts against detector capacity: how fast a detector the demo without ../shared needs.

    python -m bench.walkway [--capacities 1,2,3,4,5,7,10]

OpenCV's vtest.avi (PETS09-S2L1, ../shared/data/pets09-s2l1) plays as a 10 fps camera on
examples/demo-walkway.yaml. As in ``bench.overload``: the model's raw outputs for every frame are
recorded once (cached, ``bench.accuracy.recorded``), the frames a detector of C frames/s runs are
chosen by the live service's load shedding (``services.detect.shedding.replay_timed``), and only
those go through the real tracker (``services.detect.pipeline.Detector``, with the camera's
ignore regions) and the real aggregator. Truth: examples/demo-walkway.truth.yaml (the clip's ground
truth through the same aggregator: ``storesight clip-truth``). Settings are the service defaults.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from bench.accuracy.recorded import RecordedBackend, cached_recording
from services.aggregate.aggregator import Aggregator
from services.aggregate.records import FrameRecord, HealthRecord
from services.detect.people import feet
from services.detect.pipeline import Detector
from services.detect.shedding import replay_timed
from storesight.config import load_config
from tests.support.servers import PETS_DIR
from tools.clip_truth import load_truth, window_totals
from tools.demo import WALKWAY_CONFIG

CAMERA = "cam-walkway"
HEALTH_S = 2.0  # ingest's health reports move event time on between frames, as live


def counts(recording, run: list[tuple[int, float]], camera_fps: float) -> dict[str, dict[str, int]]:
    """Track and aggregate the frames run, in the order their detections come out."""
    config = load_config(WALKWAY_CONFIG)
    _, camera = config.camera(CAMERA)
    settings = config.pipeline.detect
    frames = [recording[i] for i, _ in run]
    detector = Detector(settings, backend=RecordedBackend(frames, settings.track_low_confidence, settings.iou),
                        ignore_regions={CAMERA: camera.ignore_regions})
    aggregator = Aggregator(config)
    out: list = []
    health = iter(np.arange(HEALTH_S, run[-1][1] + HEALTH_S, HEALTH_S))
    next_health = next(health, None)
    for (index, _, placement), (_, done) in zip(frames, run, strict=True):
        while next_health is not None and next_health <= done:
            out += aggregator.process([HealthRecord(CAMERA, float(next_health), True)])
            next_health = next(health, None)
        t = index / camera_fps
        image = np.empty((placement.height, placement.width, 0), dtype=np.uint8)  # only its shape is read
        (people,), _ = detector.process([CAMERA], [image], [t])
        out += aggregator.process([FrameRecord(CAMERA, t, people.tracker_id.tolist(), [tuple(f) for f in feet(people).tolist()],
                                               index)])
    return window_totals(out + aggregator.flush())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--capacities", default="1,2,3,4,5,7,10", help="detector frames/s to simulate")
    parser.add_argument("--camera-fps", type=float, default=10.0)
    args = parser.parse_args()
    began = time.monotonic()
    truth = load_truth(WALKWAY_CONFIG)["counts"]
    recording = cached_recording(PETS_DIR / "vtest.avi", 1)
    print(f"recorded model outputs: {len(recording)} frames ({time.monotonic() - began:.1f} s, cached); "
          f"load average {os.getloadavg()[0]:.1f}")
    zones = list(truth)
    times = [index / args.camera_fps for index, _, _ in recording]
    lines = ["| detector frames/s | frames run | " + " | ".join(f"{z} in / out" for z in zones)
             + " | zones and lines within 1 |", "|" + "---|" * (len(zones) + 3),
             "| (truth) | | " + " | ".join(f"{truth[z]['entries']} / {truth[z]['exits']}" for z in zones) + " | |"]
    for capacity in [float(c) for c in args.capacities.split(",")]:
        run = replay_timed(times, capacity)
        got = counts(recording, run, args.camera_fps)
        ok = all(abs(got.get(z, {}).get(k, 0) - truth[z][k]) <= 1
                 for z in zones if not z.startswith("camera:") for k in ("entries", "exits"))
        lines.append(f"| {capacity:g} | {len(run)} | " + " | ".join(
            f"{got.get(z, {}).get('entries', 0)} / {got.get(z, {}).get('exits', 0)}" for z in zones)
            + f" | {'yes' if ok else '**no**'} |")
    print("\n".join(lines))
    print(f"took {time.monotonic() - began:.0f} s")


if __name__ == "__main__":
    main()
