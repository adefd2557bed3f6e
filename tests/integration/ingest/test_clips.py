"""Video files through the real camera pipeline (decode, sample, gate, resize, JPEG), without
Kafka: deterministic replay, and the motion gate on a static clip vs the labelled Intel clip."""

from __future__ import annotations

import csv
import datetime as dt
import subprocess
import threading

import cv2
import pytest

from services.ingest.camera import CameraWorker
from services.ingest.sources import EndOfStream, open_source
from storesight.config import Camera, IngestSettings, MotionGate
from tests.support.servers import INTEL_DIR

T0 = dt.datetime(2026, 11, 21, 9, 0, tzinfo=dt.UTC)


def replay(source: str, gate: MotionGate | None = None, fps: float = 5) -> tuple[list, list]:
    """Run a clip through one camera as fast as possible; (every sampled capture time, published frames)."""
    camera = Camera(id="cam-clip", source=source, fps=fps, realtime=False, start_time=T0,
                    motion_gate=gate or MotionGate())
    published: list = []
    worker = CameraWorker("s1", camera, IngestSettings(), published.append, lambda _h: None, threading.Event())
    src = open_source(camera)
    src.open()
    sampled = []
    try:
        while True:
            captured = src.next_frame(timeout_s=5)
            sampled.append(captured.capture_time)
            worker.process(captured)
    except EndOfStream:
        pass
    finally:
        src.close()
    return sampled, published


def test_file_replay_is_deterministic_and_timed_from_start_time(intel_clip):
    first = replay(str(intel_clip), fps=2)[1]
    second = replay(f"file://{intel_clip}", fps=2)[1]
    assert len(first) == 1394 // 5 + 1  # 10 fps clip sampled at 2 fps
    assert [f.seq for f in first] == list(range(1, len(first) + 1))
    times = [f.capture_time.ToDatetime(tzinfo=dt.UTC) for f in first]
    assert times == [T0 + dt.timedelta(seconds=0.5 * k) for k in range(len(first))]
    assert [f.jpeg for f in first] == [f.jpeg for f in second]
    assert (first[0].width, first[0].height) == (768, 432)


@pytest.fixture(scope="module")
def static_clip(intel_clip, tmp_path_factory):
    """20 s at 10 fps of the Intel clip's first (empty) frame, re-encoded with H.264."""
    folder = tmp_path_factory.mktemp("static")
    cap = cv2.VideoCapture(str(intel_clip))
    ok, image = cap.read()
    cap.release()
    assert ok
    cv2.imwrite(str(folder / "empty.png"), image)
    clip = folder / "static.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-loop", "1", "-i", str(folder / "empty.png"), "-t", "20",
                    "-r", "10", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(clip)], check=True)
    return clip


def person_labels() -> dict[int, int]:
    with open(INTEL_DIR / "frame_counts.csv", newline="") as f:
        return {int(row["frame"]): int(row["persons"]) for row in csv.DictReader(f)}


def frame_index(when: dt.datetime) -> int:
    return round((when - T0).total_seconds() * 10)  # the Intel clip is 10 fps


@pytest.mark.parametrize("threshold", [0.004, 0.02])
def test_motion_gate_skips_a_static_clip(static_clip, threshold):
    sampled, published = replay(str(static_clip), MotionGate(enabled=True, threshold=threshold, keepalive_s=5))
    skipped = 1 - len(published) / len(sampled)
    print(f"static clip, threshold {threshold}: {len(sampled)} sampled, skipped {skipped:.1%}")
    assert len(sampled) == 100
    assert skipped >= 0.95  # only the first frame and one keep-alive every 5 s
    assert sum(f.keepalive for f in published) == len(published) - 1


@pytest.mark.slow
@pytest.mark.parametrize("threshold", [0.004, 0.02])
def test_motion_gate_never_skips_a_frame_with_a_person(intel_clip, threshold):
    labels = person_labels()
    sampled, published = replay(str(intel_clip), MotionGate(enabled=True, threshold=threshold, keepalive_s=5))
    sent = {frame_index(f.capture_time.ToDatetime(tzinfo=dt.UTC)) for f in published}
    skipped = [frame_index(t) for t in sampled if frame_index(t) not in sent]
    with_person = [i for i in skipped if labels[i] > 0]
    empty = [frame_index(t) for t in sampled if labels[frame_index(t)] == 0]
    print(f"Intel clip, threshold {threshold}: {len(sampled)} sampled, skipped {len(skipped) / len(sampled):.1%}; "
          f"empty frames skipped {sum(labels[i] == 0 for i in skipped)}/{len(empty)}; "
          f"ambiguous (-1) skipped {sum(labels[i] < 0 for i in skipped)}; with a person skipped {len(with_person)}")
    assert with_person == []
    assert len(skipped) >= 0.25 * len(empty)  # the gate does skip empty frames on real footage
