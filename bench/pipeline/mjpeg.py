"""Ingest's CPU on a live MJPEG camera, two code trees alternated (A B A B) in one run.

    python -m bench.pipeline.mjpeg --old /tmp/pb-old [--seconds 20] [--camera-fps 15] [--fps 5]

An HTTP MJPEG camera (this process) serves frames of the Intel clip at ``--camera-fps``, once
at a size that fits the camera's ``max_width`` (768x432) and once larger (1920x1080, the clip
upscaled: an HD camera's decode cost, not its detail). For each tree a child process runs the
real ``CameraWorker`` (LiveSource reader thread, sampling at ``--fps``, resize/JPEG) with a
no-op publish, and reports its process CPU (all threads) per published frame and per second.
The old tree is a git worktree of the code before (``git worktree add --detach DIR COMMIT``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np

from bench.detect.frames import intel_jpegs
from storesight.broker import free_port
from tests.support.mjpeg_server import make_handler

REPO = Path(__file__).resolve().parents[2]
MAX_WIDTH = 768

# Runs inside each tree (same API before and after): the camera loop, no Kafka.
CHILD = """
import json, sys, threading, time
from services.ingest.camera import CameraWorker
from storesight.config import Camera, IngestSettings
url, fps, max_width, seconds = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
frames, stop = [], threading.Event()
camera = Camera(id="cam", source=url, fps=fps, max_width=max_width, jpeg_quality=80)
worker = CameraWorker("store", camera, IngestSettings(), frames.append, lambda _h: None, stop)
threading.Thread(target=worker.run, daemon=True).start()
deadline = time.monotonic() + 20
while len(frames) < 3 and time.monotonic() < deadline:
    time.sleep(0.05)
n0, c0, t0 = len(frames), time.process_time(), time.monotonic()
time.sleep(seconds)
n1, c1, t1 = len(frames), time.process_time(), time.monotonic()
stop.set()
worker.finished.wait(15)  # the reader thread releases the capture before the interpreter exits
print(json.dumps({"frames": n1 - n0, "cpu_s": c1 - c0, "wall_s": t1 - t0,
                  "bytes": sum(len(f.jpeg) for f in frames[n0:n1]) / max(1, n1 - n0),
                  "width": frames[-1].width if frames else 0}))
"""


def camera_jpegs(width: int, height: int, count: int = 30, quality: int = 85) -> list[bytes]:
    images = [cv2.imdecode(np.frombuffer(j, np.uint8), cv2.IMREAD_COLOR) for j in intel_jpegs(count)]
    return [cv2.imencode(".jpg", cv2.resize(i, (width, height), interpolation=cv2.INTER_CUBIC),
                         [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes() for i in images]


def run_tree(tree: Path, url: str, fps: float, seconds: float) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run([sys.executable, "-c", CHILD, url, str(fps), str(MAX_WIDTH), str(seconds)],
                         cwd=tree, env=env, capture_output=True, text=True, timeout=seconds + 60, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pipeline.mjpeg", description=__doc__.split("\n")[0])
    parser.add_argument("--old", required=True, help="git worktree of the code before")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--camera-fps", type=float, default=15.0)
    parser.add_argument("--fps", type=float, default=5.0, help="ingest's sampling rate")
    parser.add_argument("--rounds", type=int, default=2, help="A B pairs per camera size")
    args = parser.parse_args()
    trees = {"before": Path(args.old).resolve(), "after": REPO}
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; MJPEG camera {args.camera_fps:g} fps, "
          f"sampled at {args.fps:g} fps, max_width {MAX_WIDTH}, {args.seconds:g} s per run, "
          f"before = {trees['before']}")
    for width, height in ((768, 432), (1920, 1080)):
        jpegs = camera_jpegs(width, height)
        server = ThreadingHTTPServer(("127.0.0.1", free_port()), make_handler(jpegs, args.camera_fps))
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}/stream.mjpg"
        results: dict[str, list[dict]] = {"before": [], "after": []}
        try:
            for _ in range(args.rounds):
                for name in ("before", "after"):
                    results[name].append(run_tree(trees[name], url, args.fps, args.seconds))
        finally:
            server.shutdown()
            server.server_close()
        print(f"camera {width}x{height}, camera JPEG {statistics.fmean(map(len, jpegs)) / 1024:.0f} KiB:")
        per_frame = {}
        for name, runs in results.items():
            ms = [r["cpu_s"] * 1000 / max(1, r["frames"]) for r in runs]
            cores = [r["cpu_s"] / r["wall_s"] for r in runs]
            per_frame[name] = statistics.fmean(ms)
            print(f"  {name:6s} CPU ms per published frame {' '.join(f'{m:.2f}' for m in ms)} "
                  f"(mean {per_frame[name]:.2f}); cores {' '.join(f'{c:.3f}' for c in cores)}; "
                  f"{statistics.fmean(r['frames'] / r['wall_s'] for r in runs):.2f} frames/s published, "
                  f"{runs[-1]['width']} wide, {statistics.fmean(r['bytes'] for r in runs) / 1024:.0f} KiB each")
        print(f"  after / before CPU per frame: {per_frame['after'] / per_frame['before']:.2f}, "
              f"load average {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
