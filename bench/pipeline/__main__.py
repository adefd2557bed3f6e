"""Whole-pipeline benchmark: ingest -> detect -> aggregate -> alerts as separate processes
(tools.stack.LocalStack: embedded broker, a private Redis, local SMS/e-mail peers).

    python -m bench.pipeline [--capacity-frames 120] [--bare-frames 40] [--duration 600] [--load 0.8]
                             [--fetch-max-wait-ms N]

1. Capacity, in one run on the same frames: the bare detector (``Detector.process``: model +
   tracker on decoded images, in this process, nothing else running) against the whole pipeline
   fed as fast as it takes them (a file camera with ``realtime: false``); pipeline frames/s =
   detections reaching aggregate per second, after a warm-up. Bare runs before and after the
   pipeline and the two are averaged, so a change of load from other processes shows.
2. Latency at ``--load`` x that capacity: a live HTTP MJPEG camera (capture time = the wall clock
   when ingest decodes a frame), sampled by ingest at load x capacity frames/s, for ``--duration``
   seconds. Latency = the Redis live value's ``updated_at`` - its ``capture_time``, both written
   by aggregate, for every distinct frame seen by polling Redis every 10 ms (a frame overwritten
   within 10 ms is missed; the last frame of a batch is the one seen).
3. RSS (VmRSS) of each service process after the warm-up and at the end of that run, plus every
   minute between: flat = within 10 % of the warm value.
4. CPU per frame of every stage, over the timed span of 1. and of 2. (``bench.pipeline.cpu``):
   each process's total (ingest, broker, detect, aggregate, alerts, Redis) and the stages ingest
   and detect time themselves (``storesight_{ingest,detect}_cpu_seconds_total{stage}``), plus the
   detector's steps (decode, letterbox, inference, NMS, tracking) one frame at a time in this
   process. ``--duration 0`` stops after 1.
The frames are the same for all parts: every 7th frame of the labelled Intel clip (with and
without people), as ``bench.detect`` uses.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import tempfile
import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np
import yaml

from bench.detect.frames import intel_jpegs
from bench.pipeline import cpu
from services.detect.pipeline import Detector
from storesight.broker import free_port
from storesight.config import DetectSettings
from tests.support.mjpeg_server import make_handler
from tools.stack import LocalStack

REPO = Path(__file__).resolve().parents[2]
STORE, CAMERA = "demo-store", "cam-table"
WARMUP_FRAMES = 10
FLAT_WITHIN = 0.10


# Consumers' fetch wait (pipeline.kafka.fetch_max_wait_ms): None = the config's (10 ms, for the
# embedded broker, which waits the whole time); --fetch-max-wait-ms sets it for every service.
FETCH_MAX_WAIT_MS: int | None = None


def write_config(path: Path, camera: dict, detect: dict | None = None) -> Path:
    """The demo store (its zones, line and rule) with this run's camera settings."""
    data = yaml.safe_load((REPO / "examples" / "demo-store.yaml").read_text())
    data["stores"][0]["cameras"][0].update(camera)
    if detect:
        data["pipeline"]["detect"] = detect
    if FETCH_MAX_WAIT_MS is not None:
        data["pipeline"]["kafka"]["fetch_max_wait_ms"] = FETCH_MAX_WAIT_MS
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def bare_fps(detector: Detector, images: list[np.ndarray]) -> float:
    """Frames/s of model + tracker, one frame per call, as the service calls it."""
    started = time.perf_counter()
    t0 = time.time()
    for i, image in enumerate(images):
        detector.process([CAMERA], [image], [t0 + i * 0.2])
    return len(images) / (time.perf_counter() - started)


def write_clip(path: Path, images: list[np.ndarray], fps: float = 10.0) -> Path:
    height, width = images[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    for image in images:
        writer.write(image)
    writer.release()
    return path


def pipeline_fps(workdir: Path, clip: Path, frames: int) -> tuple[float, dict[str, float], dict[str, float]]:
    """Detections/s into aggregate while the pipeline works through a backlog of ``frames``, and
    the CPU marks (``cpu.marks``) at the start and end of the timed span."""
    config = write_config(workdir / "capacity.yaml",
                          {"source": str(clip), "fps": 10, "realtime": False, "motion_gate": {"enabled": False}},
                          detect={"max_frame_age_s": 1.0e9, "shed_window_s": 1.0e9})
    with LocalStack(config, workdir / "capacity", private_redis=True) as stack:
        marks: list[tuple[float, float, dict[str, float]]] = []
        deadline = time.monotonic() + 60 + frames * 5.0
        while time.monotonic() < deadline:
            done = cpu.aggregated(stack)
            if done >= WARMUP_FRAMES:
                marks[min(len(marks), 1):] = [(time.monotonic(), done, cpu.marks(stack))]  # first and latest
            if done >= frames:
                break
            time.sleep(0.2)
        else:
            raise SystemExit(f"pipeline did not finish {frames} frames in time ({marks[-1:]})")
    (t1, n1, first), (t2, n2, last) = marks[0], marks[-1]
    return (n2 - n1) / (t2 - t1), first, last


class LiveLatency:
    """Polls the Redis live value of the camera view and records updated_at - capture_time."""

    def __init__(self, redis_url: str):
        import redis

        self.client = redis.Redis.from_url(redis_url)
        self.samples: list[tuple[float, float]] = []  # (wall time seen, latency s)
        self._seen: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> LiveLatency:
        self._thread.start()
        return self

    def _run(self) -> None:
        key, field = f"storesight:live:{STORE}", f"camera:{CAMERA}"
        while not self._stop.wait(0.01):
            raw = self.client.hget(key, field)
            if not raw:
                continue
            value = json.loads(raw)
            capture = value.get("capture_time")
            if not capture or capture in self._seen:
                continue
            self._seen.add(capture)
            captured = dt.datetime.fromisoformat(capture.replace("Z", "+00:00")).timestamp()
            updated = dt.datetime.fromisoformat(value["updated_at"].replace("Z", "+00:00")).timestamp()
            self.samples.append((time.monotonic(), updated - captured))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.client.close()


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def steady_run(workdir: Path, jpegs: list[bytes], fps: float, duration_s: float, warmup_s: float) -> dict:
    """The pipeline on a live MJPEG camera at ``fps`` for ``duration_s``: latency and RSS."""
    server_fps = max(10.0, 2 * fps)
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), make_handler(jpegs, server_fps))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/stream.mjpg"
    config = write_config(workdir / "steady.yaml", {"source": url, "fps": round(fps, 2), "motion_gate": {"enabled": False}})
    result: dict = {"fps": fps, "rss": []}
    try:
        with LocalStack(config, workdir / "steady", private_redis=True) as stack:
            latency = LiveLatency(stack.redis_url).start()
            started = time.monotonic()
            time.sleep(warmup_s)
            cpu_warm = cpu.marks(stack)
            pids = {name: p.proc.pid for name, p in stack.processes.items()}
            pids["broker"] = stack.broker._proc.pid
            next_sample = time.monotonic()
            while True:
                now = time.monotonic()
                if now >= next_sample:
                    result["rss"].append((now - started, {n: rss_mib(p) for n, p in pids.items()}))
                    next_sample = now + 60
                if now - started >= duration_s:
                    break
                time.sleep(min(1.0, started + duration_s - now))
            result["rss"].append((time.monotonic() - started, {n: rss_mib(p) for n, p in pids.items()}))
            result["cpu"] = (cpu_warm, cpu.marks(stack))
            latency.stop()
            ingest, detect = stack.processes["ingest"], stack.processes["detect"]
            result["published"] = ingest.metric("storesight_ingest_frames_published_total")
            result["ingest_dropped"] = ingest.metric("storesight_ingest_frames_dropped_total")
            result["stale"] = detect.metric("storesight_detect_frames_dropped_total", reason="stale")
            result["aggregated"] = cpu.aggregated(stack)
            result["elapsed_s"] = time.monotonic() - started
            result["latency"] = [lat for seen, lat in latency.samples if seen - started >= warmup_s]
    finally:
        server.shutdown()
        server.server_close()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pipeline", description=__doc__.split("\n")[0])
    parser.add_argument("--capacity-frames", type=int, default=120, help="backlog the pipeline works through")
    parser.add_argument("--bare-frames", type=int, default=40, help="frames for each bare-detector run")
    parser.add_argument("--duration", type=float, default=600.0,
                        help="seconds of the steady run (latency, RSS); 0 = capacity and CPU only")
    parser.add_argument("--warmup", type=float, default=30.0, help="seconds before latency and RSS count")
    parser.add_argument("--load", type=float, default=0.8, help="steady rate as a share of the measured capacity")
    parser.add_argument("--fetch-max-wait-ms", type=int, default=None,
                        help="every consumer's fetch wait (default: the config's, 10 ms for the embedded broker)")
    args = parser.parse_args()
    global FETCH_MAX_WAIT_MS
    FETCH_MAX_WAIT_MS = args.fetch_max_wait_ms

    jpegs = intel_jpegs(max(args.capacity_frames, args.bare_frames))
    images = [cv2.imdecode(np.frombuffer(j, np.uint8), cv2.IMREAD_COLOR) for j in jpegs]
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; frames: every 7th of the Intel clip, "
          f"{images[0].shape[1]}x{images[0].shape[0]}; fetch_max_wait_ms "
          f"{'from the config' if FETCH_MAX_WAIT_MS is None else FETCH_MAX_WAIT_MS}")
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        workdir = Path(tmp)
        clip = write_clip(workdir / "frames.mp4", images[:args.capacity_frames])
        detector = Detector(DetectSettings())
        bare_fps(detector, images[:4])  # warm-up: first runs of the session are slow
        before = bare_fps(detector, images[:args.bare_frames])
        print(f"bare detector: {before:.2f} frames/s (model + tracker, {args.bare_frames} frames)", flush=True)
        through, cpu_first, cpu_last = pipeline_fps(workdir, clip, args.capacity_frames)
        print(f"whole pipeline: {through:.2f} frames/s into aggregate/Redis ({args.capacity_frames} frames, "
              f"first {WARMUP_FRAMES} not timed), load average {os.getloadavg()[0]:.2f}", flush=True)
        after = bare_fps(detector, images[:args.bare_frames])
        bare = (before + after) / 2
        print(f"bare detector again: {after:.2f} frames/s; mean {bare:.2f}")
        print(f"capacity ratio pipeline / bare detector: {through / bare:.3f}", flush=True)
        print("CPU per frame, capacity run (ingest had read the whole backlog before the timed span: its stages "
              "are over its whole run, its process total is left out):")
        cpu.print_table(cpu_first, cpu_last, ingest_whole_run=True)
        print("bare detector, one frame at a time in this process, same frames, CPU ms per frame: "
              + ", ".join(f"{k} {v * 1000:.2f}" for k, v in cpu.bare_split(detector, images[:args.bare_frames]).items()))
        del detector
        if args.duration <= 0:
            return 0

        rate = args.load * through
        print(f"steady run: live MJPEG camera sampled at {rate:.2f} frames/s ({args.load:.0%} of capacity) "
              f"for {args.duration:.0f} s (warm-up {args.warmup:.0f} s)", flush=True)
        run = steady_run(workdir, jpegs, rate, args.duration, args.warmup)
    lat = [x * 1000 for x in run["latency"]]
    print(f"frames published {run['published']:.0f}, reached aggregate {run['aggregated']:.0f}, dropped by ingest "
          f"{run['ingest_dropped']:.0f}, dropped as stale by detect {run['stale']:.0f}, "
          f"load average {os.getloadavg()[0]:.2f}")
    if lat:
        print(f"capture -> Redis live latency over {len(lat)} frames: p50 {percentile(lat, 50):.0f} ms, "
              f"p99 {percentile(lat, 99):.0f} ms, mean {statistics.fmean(lat):.0f} ms, max {max(lat):.0f} ms")
    else:
        print("capture -> Redis live latency: no sample (nothing reached Redis after the warm-up)")
    print("CPU per frame, steady run after the warm-up (ingest per frame published, the rest per frame "
          "aggregated):")
    cpu.print_table(*run["cpu"])
    first, last = run["rss"][0], run["rss"][-1]
    print(f"RSS MiB at t={first[0]:.0f} s -> t={last[0]:.0f} s (samples every 60 s):")
    flat = True
    for name in first[1]:
        series = " ".join(f"{sample[name]:.0f}" for _, sample in run["rss"])
        change = last[1][name] / first[1][name] - 1
        judged = name != "broker"
        flat &= abs(change) <= FLAT_WITHIN or not judged
        verdict = ("flat" if abs(change) <= FLAT_WITHIN else "NOT flat") if judged else \
            "not judged: the embedded broker keeps every message (no retention)"
        print(f"  {name:9s} {first[1][name]:7.1f} -> {last[1][name]:7.1f} ({change:+.1%}) {verdict}  [{series}]")
    print(f"services' RSS flat within {FLAT_WITHIN:.0%} over {last[0] - first[0]:.0f} s: {'yes' if flat else 'NO'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
