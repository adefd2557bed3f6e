"""What the people type costs per frame downstream of the model: old code vs new, one run.

Issue 16 made ``supervision.Detections`` the one type people travel as from the backend's rows
(after NMS) through ignore regions, static fixtures and the tracker to the ``Detections`` message
and the detect-file JSON line (services/detect/people.py). Before, the rows stayed (N, 5) arrays
up to the tracker, which converted them to ``sv.Detections`` and back to a list of ``Person``.

Both versions run the same scripted scene: a 768x432 camera at 10 frames/s, six walkers crossing
(boxes jittered like a detector's), weak candidates around them, a mannequin (a fixture after
``fixture_after_s`` = 20 s) and one ignore region. A backend stand-in replays the scene's pixel
rows, so only what follows the model is timed: ``Detector.process`` (normalise, ignore regions,
fixtures, tracker, clipping) plus the proto message and the JSON line of every frame. The old
version is the base commit's tree (``git archive``); each version runs in its own process with
that tree first on ``PYTHONPATH``, alternated A B B A; each times its own CPU (process time: on a
shared, loaded machine wall time measures the wait for a core), so the ratio is the comparison.
Every worker also prints a digest of its JSON lines: equal digests = the same output.

``python -m bench.detect.currency --base c930c73 --rounds 4 --frames 3000``
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
WIDTH, HEIGHT, FPS = 768, 432, 10.0
IGNORE = [(0.0, 0.8), (0.15, 0.8), (0.15, 1.0), (0.0, 1.0)]


def scene(frames: int, seed: int = 0) -> list[np.ndarray]:
    """Per frame the (N, 5) pixel rows a detector would give: walkers, weak candidates, a mannequin."""
    rng = np.random.default_rng(seed)
    starts = rng.uniform(-0.2, 1.2, size=(6, 2)) * [1, 0.3] + [0, 0.55]  # foot points on the floor
    speeds = rng.uniform(-0.08, 0.08, size=6)  # image widths per second
    out = []
    for k in range(frames):
        t = k / FPS
        rows = []
        for (x0, y0), v in zip(starts, speeds, strict=True):
            x = (x0 + v * t) % 1.4 - 0.2
            w, h = 0.06 * WIDTH, 0.4 * HEIGHT
            cx, foot = x * WIDTH, y0 * HEIGHT
            box = np.array([cx - w / 2, foot - h, cx + w / 2, foot]) + rng.normal(0, 1.5, 4)
            if rng.random() > 0.05:  # the detector misses a person now and then
                rows.append([*box, rng.uniform(0.4, 0.95)])
            if rng.random() < 0.3:  # a weak duplicate next to them
                rows.append([*(box + rng.normal(0, 6, 4)), rng.uniform(0.05, 0.3)])
        rows.append([0.10 * WIDTH, 0.20 * HEIGHT, 0.15 * WIDTH, 0.60 * HEIGHT, rng.uniform(0.3, 0.6)])
        arr = np.array(rows, dtype=np.float32)
        inside = (arr[:, 0] >= 0) & (arr[:, 2] <= WIDTH) & (arr[:, 1] >= 0) & (arr[:, 3] <= HEIGHT)
        out.append(arr[inside])
    return out


class Replay:
    """A backend stand-in: the scene's rows in order, no model."""

    name = model_name = "replay"
    input_size = 640

    def __init__(self, rows: list[np.ndarray]):
        self.rows, self.next = rows, 0

    def detect(self, images):
        chunk = self.rows[self.next:self.next + len(images)]
        self.next += len(images)
        return [r.copy() for r in chunk], 0.0


def worker(frames: int) -> None:
    """Run the scene through whatever services/ is first on the path; print seconds/frame and a digest."""
    import datetime as dt

    from services.detect.pipeline import Detector, FrameResult
    from services.detect.service import detections_message
    from storesight.config import DetectSettings
    from storesight.contracts import Frame, to_timestamp

    rows = scene(frames)
    settings = DetectSettings(fixture_after_s=20.0, max_batch=8)
    detector = Detector(settings, backend=Replay(rows), ignore_regions={"cam": [IGNORE]})
    image = np.empty((HEIGHT, WIDTH, 3), dtype=np.uint8)
    start = dt.datetime(2026, 12, 6, tzinfo=dt.UTC)
    digest = hashlib.sha256()
    people = hidden = 0
    started = 0.0
    for first in range(0, frames, settings.max_batch):
        if first == settings.max_batch:  # after one batch: the old tracker imports supervision on its first frame
            started = time.process_time()
        indices = range(first, min(first + settings.max_batch, frames))
        times = [k / FPS for k in indices]
        results, _ = detector.process(["cam"] * len(times), [image] * len(times), times)
        for k, t, persons in zip(indices, times, results, strict=True):
            when = start + dt.timedelta(seconds=t)
            frame = Frame(camera_id="cam", store_id="s", seq=k, capture_time=to_timestamp(when))
            message = detections_message(frame, persons, "replay", 0.0, WIDTH, HEIGHT, "epoch")
            line = FrameResult(k, t, when, WIDTH, HEIGHT, persons, 0.0, "replay").to_json()
            digest.update(line.encode() + message.SerializeToString())
            people += len(message.persons)
            hidden += sum(p.predicted for p in message.persons)
    spent = (time.process_time() - started) / (frames - settings.max_batch) * frames
    fixtures = len(detector.fixtures["cam"].fixtures)
    print(f"{spent / frames * 1e6:.1f} {people} {hidden} {fixtures} {digest.hexdigest()[:16]}")


def base_tree(commit: str, into: Path) -> Path:
    """The base commit's services/ and storesight/ (what the old version imports)."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit, "services", "storesight"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def run_worker(tree: Path, frames: int) -> tuple[float, int, int, int, str]:
    env = dict(os.environ, PYTHONPATH=str(tree))
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--worker", "--frames", str(frames)],
                         env=env, check=True, capture_output=True, text=True, cwd=str(tree)).stdout.split()
    return float(out[0]), int(out[1]), int(out[2]), int(out[3]), out[4]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base", default="c930c73", help="the commit before the change (the old version)")
    parser.add_argument("--frames", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.frames)
        return
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"old": base_tree(args.base, Path(tmp)), "new": ROOT}
        times: dict[str, list[float]] = {"old": [], "new": []}
        outputs: dict[str, set] = {"old": set(), "new": set()}
        for r in range(args.rounds):
            for name in ("old", "new") if r % 2 == 0 else ("new", "old"):
                us, people, hidden, fixtures, digest = run_worker(trees[name], args.frames)
                times[name].append(us)
                outputs[name].add((people, digest))
                print(f"round {r + 1} {name}: {us:.1f} CPU us/frame ({people} people in {args.frames} frames, "
                      f"{hidden} of them predicted, {fixtures} fixture; output {digest})", flush=True)
    old, new = statistics.median(times["old"]), statistics.median(times["new"])
    print(f"median CPU us/frame: old {old:.1f}, new {new:.1f}, new/old {new / old:.2f}; "
          f"load average {os.getloadavg()[0]:.1f}")
    print("same output (JSON lines + proto messages):", outputs["old"] == outputs["new"] and len(outputs["new"]) == 1)


if __name__ == "__main__":
    main()
