"""Cost of the opt-in attribute stage (faces, expression, age/gender), compared in the same run.

    python -m bench.sentiment [--frames 120] [--repeat 20]

1. Stage alone: ms per person crop, (a) a frontal face (Grace Hopper portrait: face detection +
   expression + age + gender) and (b) a person seen from behind (Intel clip: face detection only,
   nothing found), each at batch 1 and batch 8.
2. With the detect service's Detector (when services.detect.pipeline is present): detect
   frames/s on the Intel clip with attributes off, on (every 5th frame per track, the default),
   and on at every frame, on the same decoded frames in the same run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import time
from pathlib import Path

import cv2
import numpy as np

from storesight.config import parse_config
from storesight.contracts import to_timestamp
from storesight.v1.detections_pb2 import Box, Detections, Person, Point

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = Path(os.environ.get("STORESIGHT_SHARED_DATA", REPO.parent / "shared" / "data"))
INTEL_CLIP = SHARED_DATA / "intel-one-by-one" / "one-by-one-person-detection.mp4"
T0 = dt.datetime(2026, 11, 21, 9, 0, tzinfo=dt.UTC)


def config(enabled: bool, every_n: int = 5, head_fraction: float = 0.4):
    camera = {"id": "cam-b", "source": "/dev/null", "attributes_enabled": enabled}
    return parse_config({
        "region": "bench",
        "pipeline": {"detect": {"attributes_every_n_frames": every_n, "attributes_head_fraction": head_fraction}},
        "stores": [{"id": "s", "timezone": "UTC", "cameras": [camera],
                    "privacy": {"attributes_enabled": enabled}}],
    })


def detections(seq: int, seconds: float, boxes: list[tuple[float, float, float, float]],
               tracks: list[int]) -> Detections:
    persons = [Person(box=Box(x1=b[0], y1=b[1], x2=b[2], y2=b[3]), confidence=0.9, track_id=t,
                      foot=Point(x=(b[0] + b[2]) / 2, y=b[3])) for b, t in zip(boxes, tracks, strict=True)]
    return Detections(camera_id="cam-b", store_id="s", frame_seq=seq, persons=persons,
                      capture_time=to_timestamp(T0 + dt.timedelta(seconds=seconds)))


def stage_alone(models, image: np.ndarray, box, batch: int, repeat: int, head_fraction: float) -> float:
    """Median ms per person for the attribute stage on ``batch`` copies of one person."""
    from services.detect.attributes.stage import AttributeStage

    stage = AttributeStage(config(True, every_n=1, head_fraction=head_fraction), models=models)
    timings, seq = [], 0
    for _ in range(repeat + 2):
        items = []
        for track in range(batch):
            seq += 1
            items.append((image, detections(seq, seq * 0.1, [box], [track + 1])))
        started = time.perf_counter()
        stage.process(items)
        timings.append((time.perf_counter() - started) * 1000 / batch)
    return statistics.median(timings[2:])


def intel_frames(count: int, first: int = 100) -> list[np.ndarray]:
    """Decoded frames from ``first`` on (frame 100: the first visitor is in view)."""
    capture = cv2.VideoCapture(str(INTEL_CLIP))
    frames, index = [], 0
    while len(frames) < count:
        ok, image = capture.read()
        if not ok:
            break
        if index >= first:
            frames.append(image)
        index += 1
    capture.release()
    return frames


def detect_runs(detector, stages: dict, frames: list[np.ndarray], batch: int) -> tuple[float, dict, int]:
    """Seconds of detect+track, seconds of each attribute stage on the same batches, person boxes.

    Each batch is detected once and then given to every stage, so all configurations see the
    same frames and the same tracks, and the (noisy, shared-CPU) detector time is common to all.
    """
    detect_s, stage_s, persons = 0.0, dict.fromkeys(stages, 0.0), 0
    for start in range(0, len(frames), batch):
        images = frames[start:start + batch]
        times = [(start + i) / 10.0 for i in range(len(images))]
        began = time.perf_counter()
        people, _ = detector.process(["cam-b"] * len(images), images, times)
        detect_s += time.perf_counter() - began
        persons += sum(len(ps) for ps in people)
        for name, stage in stages.items():
            items = [(image, detections(start + i, times[i], [p.box for p in ps], [p.track_id for p in ps]))
                     for i, (image, ps) in enumerate(zip(images, people, strict=True))]
            began = time.perf_counter()
            stage.process(items)
            stage_s[name] += time.perf_counter() - began
    return detect_s, stage_s, persons


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()

    import matplotlib

    from services.detect.attributes.stage import AttributeModels, AttributeStage

    print(f"cpu cores visible: {os.cpu_count()}")
    models = AttributeModels.load()
    portrait = cv2.imread(str(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"))
    face_box = (0.2, 0.15, 0.85, 1.0)
    print("\n1. attribute stage alone, median ms per person (every frame due)")
    for batch in (1, 8):
        with_face = stage_alone(models, portrait, face_box, batch, args.repeat, head_fraction=0.6)
        print(f"   batch {batch}: frontal face (detect+expression+age+gender) {with_face:7.2f} ms/person")
    if INTEL_CLIP.exists():
        back = intel_frames(1, first=150)[0]
        back_box = (0.50, 0.03, 0.67, 0.90)  # the first visitor, seen from behind, at frame 150
        for batch in (1, 8):
            no_face = stage_alone(models, back, back_box, batch, args.repeat, head_fraction=0.4)
            print(f"   batch {batch}: person from behind (face detection only)  {no_face:7.2f} ms/person")

    try:
        from services.detect.pipeline import Detector
    except ImportError:
        print("\n2. services.detect.pipeline not present: detect frames/s on vs off skipped")
        return
    if not INTEL_CLIP.exists():
        print("\n2. Intel clip absent: detect frames/s on vs off skipped")
        return
    frames = intel_frames(args.frames)
    settings = config(False).pipeline.detect.model_copy(update={"max_batch": args.batch})
    detector = Detector(settings)
    detector.process(["warmup"] * args.batch, frames[: args.batch], [0.0] * args.batch)
    stages = {"every 5th frame per track (default)": AttributeStage(config(True, 5), models=models),
              "every frame": AttributeStage(config(True, 1), models=models)}
    detect_s, stage_s, persons = detect_runs(detector, stages, frames, args.batch)
    n = len(frames)
    print(f"\n2. detect on the Intel clip, {n} frames from frame 100, batch {args.batch}, "
          f"model {detector.model_name}, {persons} person boxes")
    print(f"   attributes off: {n / detect_s:6.2f} frames/s  (detect+track {detect_s * 1000 / n:7.1f} ms/frame)")
    for name, spent in stage_s.items():
        fps = n / (detect_s + spent)
        print(f"   attributes on, {name:36s} {fps:6.2f} frames/s  = {fps * detect_s / n:5.3f} x off "
              f"(stage {spent * 1000 / n:6.2f} ms/frame, {spent * 1000 / max(persons, 1):6.2f} ms/person box)")


if __name__ == "__main__":
    main()
