"""CPU benchmark: every CPU detector, bare and as the detect service through the broker, in one run.

Variants: ONNX Runtime FP32 (the fallback, and what the service ran before OpenVINO), OpenVINO
FP32 with one synchronous request (no overlap), OpenVINO at each precision this CPU supports
(FP32, BF16 where the CPU has it, INT8 when the NNCF model exists) with its async request ring.
Each variant is one backend object used both bare and inside its own DetectLoop. All variants
and both modes alternate batch by batch (the order rotates), so load from other processes hits
them alike. Bare = letterbox + model + decode/NMS on decoded images. Service = DetectLoop on the
embedded broker: consume Frames, JPEG decode, batch, detect, track, publish Detections, commit;
timed from the frames being in the topic to the last Detections published.
``python -m bench.detect --frames 32 --batch 8 --rounds 1``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from bench.detect.frames import intel_jpegs
from services.detect.backends import (
    BackendUnavailable,
    OnnxBackend,
    OpenVinoBackend,
    resolve_model,
)
from services.detect.pipeline import Detector
from services.detect.quantize import DEFAULT_INT8_PATH
from services.detect.service import DetectLoop
from storesight.broker import EmbeddedBroker, free_port
from storesight.bus import TypedProducer
from storesight.config import DetectSettings, KafkaSettings
from storesight.contracts import Detections, Frame, to_timestamp
from storesight.topics import Topic, ensure_topics


@dataclass
class Variant:
    name: str
    detector: Detector
    loop: DetectLoop | None = None
    bare_s: float = 0.0
    service_s: float = 0.0
    frames: int = 0
    topic: Topic | None = field(default=None)


def bare_seconds(detector: Detector, images: list[np.ndarray]) -> float:
    started = time.perf_counter()
    detector.backend.detect(images)
    return time.perf_counter() - started


def service_seconds(loop: DetectLoop, producer: TypedProducer, topic: Topic, jpegs: list[bytes], seq0: int) -> float:
    """Produce the frames first (not timed), then time the service until all are published."""
    now = dt.datetime.now(dt.UTC)
    for i, jpeg in enumerate(jpegs):
        frame = Frame(camera_id=f"cam-{i % 4}", store_id="bench", seq=seq0 + i,
                      capture_time=to_timestamp(now + dt.timedelta(milliseconds=100 * i)),
                      width=768, height=432, jpeg=jpeg)
        producer.send(topic, frame.camera_id, frame)
    producer.flush()
    target = loop.published + len(jpegs)
    started = time.perf_counter()
    while loop.published < target:
        loop.step()
    return time.perf_counter() - started


def backends(settings: DetectSettings, int8: Path) -> list[tuple[str, object]]:
    """(name, backend) for every variant this machine can run; the ones it cannot are said, not hidden."""
    model = resolve_model("onnxruntime", settings.model_path)
    low, iou = settings.track_low_confidence, settings.iou
    out: list[tuple[str, object]] = [("onnxruntime fp32", OnnxBackend(model, 640, low, iou)),
                                     ("openvino fp32 sync", OpenVinoBackend(model, 640, low, iou, precision="fp32",
                                                                            requests=1)),
                                     ("openvino fp32", OpenVinoBackend(model, 640, low, iou, precision="fp32"))]
    for precision, path in (("bf16", model), ("int8", int8)):
        try:
            if not path.is_file():
                raise BackendUnavailable(f"no INT8 model at {path} (make it with `storesight detect-quantize`)")
            out.append((f"openvino {precision}", OpenVinoBackend(path, 640, low, iou, precision=precision)))
        except BackendUnavailable as error:
            print(f"openvino {precision}: not run: {error}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=32, help="frames per round")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--int8", type=Path, default=DEFAULT_INT8_PATH, help="the NNCF INT8 model (OpenVINO IR)")
    args = parser.parse_args()

    settings = DetectSettings(max_batch=args.batch, max_frame_age_s=3600, shed_window_s=3600)  # every frame runs
    default = Detector(settings)
    default_name = f"{default.backend.name} {default.backend.precision}"
    variants = [Variant(name, Detector(settings, backend=backend)) for name, backend in backends(settings, args.int8)]
    jpegs = intel_jpegs(args.frames)
    images = [cv2.imdecode(np.frombuffer(j, np.uint8), cv2.IMREAD_COLOR) for j in jpegs]
    print(f"default backend: {default_name} ({default.backend.provider}); variants: "
          f"{', '.join(v.name for v in variants)}; batch {args.batch}, {args.frames} frames/round, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    del default

    with EmbeddedBroker(port=free_port()) as broker:
        kafka = KafkaSettings(bootstrap=broker.bootstrap)
        producer = TypedProducer(kafka, "bench-ingest")
        for v in variants:
            suffix = uuid.uuid4().hex[:8]
            v.topic = Topic(f"bench-frames-{suffix}", Frame, 4, 600_000, 16 * 1024 * 1024)
            detections = Topic(f"bench-detections-{suffix}", Detections, 4, 600_000)
            ensure_topics(broker.bootstrap, (v.topic, detections))
            v.loop = DetectLoop(settings, kafka, frames_topic=v.topic, detections_topic=detections,
                                group=f"bench-{suffix}", detector=v.detector)
            # Warm-up: joins the consumer group and warms the model; not timed.
            service_seconds(v.loop, producer, v.topic, jpegs[:args.batch], 0)
            bare_seconds(v.detector, images[:args.batch])
        step = 0
        for r in range(args.rounds):
            for i in range(0, len(jpegs), args.batch):
                chunk_images, chunk_jpegs = images[i:i + args.batch], jpegs[i:i + args.batch]
                seq0 = 100_000 * (r + 1) + i
                # Rotate the variants' order and alternate bare/service, so none always follows another.
                order = variants[step % len(variants):] + variants[:step % len(variants)]
                for k, v in enumerate(order):
                    if (step + k) % 2 == 0:
                        v.bare_s += bare_seconds(v.detector, chunk_images)
                        v.service_s += service_seconds(v.loop, producer, v.topic, chunk_jpegs, seq0)
                    else:
                        v.service_s += service_seconds(v.loop, producer, v.topic, chunk_jpegs, seq0)
                        v.bare_s += bare_seconds(v.detector, chunk_images)
                    v.frames += len(chunk_images)
                step += 1
            print(f"round {r + 1} done, load average {os.getloadavg()[0]:.2f}")
        for v in variants:
            v.loop.close()
        producer.close()
    report(variants, default_name)


def report(variants: list[Variant], default_name: str) -> None:
    print(f"{'variant':<22} {'bare f/s':>9} {'bare ms/f':>10} {'service f/s':>12} {'service ms/f':>12} "
          f"{'service/bare':>13}")
    for v in variants:
        print(f"{v.name:<22} {v.frames / v.bare_s:>9.2f} {1000 * v.bare_s / v.frames:>10.1f} "
              f"{v.frames / v.service_s:>12.2f} {1000 * v.service_s / v.frames:>12.1f} {v.bare_s / v.service_s:>13.3f}")
    by_name = {v.name: v for v in variants}
    base = by_name["onnxruntime fp32"]
    best = min(variants, key=lambda v: v.service_s / v.frames)
    default = by_name.get(default_name)
    if default is not None:
        print(f"default service ({default.name}) / onnxruntime service: {base.service_s / default.service_s:.2f}x "
              f"(target >= 3.5); default service / its bare model: {default.bare_s / default.service_s:.3f} "
              "(target >= 0.90)")
    print(f"fastest service ({best.name}) / onnxruntime service: {base.service_s / best.service_s:.2f}x; "
          f"async ring / one sync request (openvino fp32 service): "
          f"{by_name['openvino fp32 sync'].service_s / by_name['openvino fp32'].service_s:.2f}x; "
          f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
