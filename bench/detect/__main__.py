"""CPU benchmark: the bare model's frames/s against the detect service's frames/s through the broker.

Same backend object, same batch size, same machine, in one run. The two alternate batch by
batch (and which goes first alternates too), so load from other processes hits both alike.
Bare = letterbox + model + decode/NMS on decoded images. Service = DetectLoop on the embedded
broker: consume Frames, JPEG decode, batch, detect, track, publish Detections, commit; timed
from the frames being in the topic to the last Detections published.
``python -m bench.detect --frames 64 --batch 8 --rounds 2``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time
import uuid

import cv2
import numpy as np

from bench.detect.frames import intel_jpegs
from services.detect.pipeline import Detector
from services.detect.service import DetectLoop
from storesight.broker import EmbeddedBroker, free_port
from storesight.bus import TypedProducer
from storesight.config import DetectSettings, KafkaSettings
from storesight.contracts import Detections, Frame, to_timestamp
from storesight.topics import Topic, ensure_topics


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=48, help="frames per round")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    settings = DetectSettings(max_batch=args.batch, max_frame_age_s=3600, shed_window_s=3600)  # every frame runs
    detector = Detector(settings)
    jpegs = intel_jpegs(args.frames)
    images = [cv2.imdecode(np.frombuffer(j, np.uint8), cv2.IMREAD_COLOR) for j in jpegs]
    print(f"backend {detector.backend.name} ({', '.join(getattr(detector.backend, 'providers', []))}), "
          f"model {detector.model_name}, batch {args.batch}, {args.frames} frames/round, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")

    with EmbeddedBroker(port=free_port()) as broker:
        kafka = KafkaSettings(bootstrap=broker.bootstrap)
        suffix = uuid.uuid4().hex[:8]
        frames_topic = Topic(f"bench-frames-{suffix}", Frame, 4, 600_000, 16 * 1024 * 1024)
        detections_topic = Topic(f"bench-detections-{suffix}", Detections, 4, 600_000)
        ensure_topics(broker.bootstrap, (frames_topic, detections_topic))
        producer = TypedProducer(kafka, "bench-ingest")
        loop = DetectLoop(settings, kafka, frames_topic=frames_topic, detections_topic=detections_topic,
                          group=f"bench-{suffix}", detector=detector)
        # Warm-up: joins the consumer group and warms the model; not timed.
        service_seconds(loop, producer, frames_topic, jpegs[:args.batch], 0)
        # Bare and service alternate batch by batch, so load from other processes hits both alike.
        bare_s = service_s = 0.0
        done = 0
        for r in range(args.rounds):
            for i in range(0, len(jpegs), args.batch):
                # Alternate which goes first, so neither always runs right after the other.
                chunk_images, chunk_jpegs = images[i:i + args.batch], jpegs[i:i + args.batch]
                seq0 = 100_000 * (r + 1) + i
                if (i // args.batch + r) % 2 == 0:
                    bare_s += bare_seconds(detector, chunk_images)
                    service_s += service_seconds(loop, producer, frames_topic, chunk_jpegs, seq0)
                else:
                    service_s += service_seconds(loop, producer, frames_topic, chunk_jpegs, seq0)
                    bare_s += bare_seconds(detector, chunk_images)
                done += len(jpegs[i:i + args.batch])
            print(f"round {r + 1}: bare {done / bare_s:.2f} frames/s, service {done / service_s:.2f} frames/s, "
                  f"ratio {bare_s / service_s:.3f}, load average {os.getloadavg()[0]:.2f}")
        loop.close()
        producer.close()
    print(f"total over {done} frames: bare {done / bare_s:.2f} frames/s, service {done / service_s:.2f} frames/s, "
          f"ratio {bare_s / service_s:.3f} (target >= 0.90)")


if __name__ == "__main__":
    main()
