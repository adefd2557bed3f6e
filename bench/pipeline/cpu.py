"""Where the pipeline's CPU goes: cumulative CPU seconds of every process of a ``LocalStack``
(``/proc/PID/stat``, all threads; Redis from ``INFO cpu``) and of the stages ingest and detect
time themselves (``storesight_{ingest,detect}_cpu_seconds_total{stage}``), turned into CPU ms
per frame between two marks; and the detector's own steps measured one frame at a time."""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import cv2
import numpy as np

from services.detect.backends import people_in_image
from services.detect.letterbox import letterbox_batch
from services.detect.pipeline import Detector
from storesight.topics import DETECTIONS
from tools.stack import LocalStack, metric_value

# The stages each service times itself (services/ingest/metrics.py, services/detect/service.py).
STAGES = {"ingest": ("decode", "resize", "gate", "encode", "publish"),
          "detect": ("decode", "model", "track", "publish")}
PROCESSES = ("ingest", "broker", "detect", "aggregate", "alerts", "redis")


def aggregated(stack: LocalStack) -> float:
    """Detections consumed by aggregate so far (frames through the whole pipeline)."""
    return stack.processes["aggregate"].metric("storesight_consumed_messages_total", topic=DETECTIONS.name)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def marks(stack: LocalStack) -> dict[str, float]:
    """Cumulative CPU seconds now, per process and per timed stage, with the frame counts and wall time."""
    import redis

    out: dict[str, float] = {"wall": time.monotonic(), "aggregated": aggregated(stack)}
    for name, service in stack.processes.items():
        text = service.metrics()
        out[name] = cpu_seconds(service.proc.pid)
        for stage in STAGES.get(name, ()):
            out[f"{name} {stage}"] = metric_value(text, f"storesight_{name}_cpu_seconds_total", stage=stage)
        if name == "ingest":
            out["published"] = metric_value(text, "storesight_ingest_frames_published_total")
    out["broker"] = cpu_seconds(stack.broker._proc.pid)
    client = redis.Redis.from_url(stack.redis_url)
    try:
        info = client.info("cpu")
    finally:
        client.close()
    out["redis"] = info["used_cpu_user"] + info["used_cpu_sys"]
    return out


def print_table(first: dict[str, float], last: dict[str, float], ingest_whole_run: bool = False) -> None:
    """CPU ms per frame of each process between the marks, split into the stages it times and
    the rest (its other threads: Kafka client I/O, polling, health), and its share of a core."""
    wall = last["wall"] - first["wall"]
    frames = last["aggregated"] - first["aggregated"]
    total = 0.0
    for name in PROCESSES:
        start = {k: 0.0 for k in first} if name == "ingest" and ingest_whole_run else first
        count = (last["published"] - start["published"]) if name == "ingest" else frames
        per_frame = (last[name] - first[name]) / count if not (name == "ingest" and ingest_whole_run) else math.nan
        stages = [(s, (last[f"{name} {s}"] - start[f"{name} {s}"]) / count) for s in STAGES.get(name, ())]
        cores = (last[name] - first[name]) / wall
        line = f"  {name:9s} {per_frame * 1000:7.1f} ms  {cores:4.2f} cores"
        if stages:
            line += "  (" + ", ".join(f"{s} {v * 1000:.2f}" for s, v in stages)
            line += ")" if math.isnan(per_frame) else f", rest {(per_frame - sum(v for _, v in stages)) * 1000:.1f})"
        total += 0.0 if math.isnan(per_frame) else per_frame
        print(line)
    print(f"  all       {total * 1000:7.1f} ms per frame over {frames:.0f} frames in {wall:.0f} s "
          f"({frames / wall:.2f} frames/s), {sum(last[n] - first[n] for n in PROCESSES) / wall:.2f} cores")


def bare_split(detector: Detector, images: list[np.ndarray], quality: int = 80) -> dict[str, float]:
    """CPU seconds per frame of the detector's steps on the same frames, one image at a time in
    this process: JPEG decode (of the frame as ingest sends it), letterbox and NMS (this thread),
    inference (the whole process: the runtime's threads), tracking (``Detector.cpu_spent``)."""
    backend = detector.backend
    spent = dict.fromkeys(("decode", "letterbox", "inference", "nms", "track"), 0.0)
    t0 = time.time()
    for i, image in enumerate(images):
        jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])[1]
        mark = time.thread_time()
        cv2.imdecode(jpeg, cv2.IMREAD_COLOR)
        spent["decode"] += time.thread_time() - mark
        mark = time.thread_time()
        tensor, (placement,) = letterbox_batch([image], backend.input_size)
        spent["letterbox"] += time.thread_time() - mark
        mark = time.process_time()
        output = run_model(backend, tensor)
        spent["inference"] += time.process_time() - mark
        mark = time.thread_time()
        people_in_image(output, placement, backend.confidence, backend.iou)
        spent["nms"] += time.thread_time() - mark
        detector.process(["bench"], [image], [t0 + i * 0.2])
        spent["track"] += detector.cpu_spent["track"]
    return {key: value / len(images) for key, value in spent.items()}


def run_model(backend, tensor: np.ndarray) -> np.ndarray:
    """The raw model output for one letterboxed (1, 3, H, W) tensor, synchronously."""
    if hasattr(backend, "requests"):  # openvino
        request = backend.requests[0]
        request.infer({0: tensor})
        return request.get_output_tensor(0).data[0].copy()
    return backend.session.run(None, {backend.input_name: tensor})[0][0]  # onnxruntime
