"""Detect service through the real embedded broker: Intel clip frames in, detections out."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections import Counter

import cv2
import pytest
from kafka import KafkaConsumer
from prometheus_client import REGISTRY

from bench.accuracy.groundtruth import intel_visits
from services.detect.backends import cpu_float_precision
from services.detect.service import DetectLoop
from storesight.bus import TypedProducer
from storesight.config import DetectSettings
from storesight.contracts import Detections, Frame, from_timestamp, to_timestamp
from storesight.kafka_clients import client_kwargs
from storesight.topics import Topic, ensure_topics
from storesight.video import every_nth_frame
from tests.support import servers

pytestmark = pytest.mark.slow

EVERY = 6  # 1.7 frames/s of the 10 fps clip keeps the test short; the tracker copes
FIRST_FRAME, LAST_FRAME = 36, 470  # the first two visits (61-197, 228-449) and the empty frames around them


def frame_message(camera: str, seq: int, when: dt.datetime, image) -> Frame:
    ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 80])
    assert ok
    return Frame(camera_id=camera, store_id="test-store", seq=seq, capture_time=to_timestamp(when),
                 width=image.shape[1], height=image.shape[0], jpeg=jpeg.tobytes())


def dropped_stale() -> float:
    return REGISTRY.get_sample_value("storesight_detect_frames_dropped_total", {"reason": "stale"}) or 0.0


def stage_cpu() -> dict[str, float]:
    return {stage: REGISTRY.get_sample_value("storesight_detect_cpu_seconds_total", {"stage": stage}) or 0.0
            for stage in ("decode", "model", "track", "publish")}


def test_intel_clip_through_the_broker(broker, kafka_settings, intel_clip):
    suffix = uuid.uuid4().hex[:8]
    frames_topic = Topic(f"test-detect-frames-{suffix}", Frame, partitions=2, retention_ms=60_000,
                         max_message_bytes=16 * 1024 * 1024)
    detections_topic = Topic(f"test-detect-detections-{suffix}", Detections, partitions=2, retention_ms=60_000)
    ensure_topics(broker.bootstrap, (frames_topic, detections_topic))

    camera = "intel-cam"
    start = dt.datetime.now(dt.UTC).replace(microsecond=0)
    producer = TypedProducer(kafka_settings, "test-ingest")
    # Backpressure: frames captured an hour ago are dropped and counted, never detected (a camera
    # of their own: a newer frame of the same camera would supersede them first).
    stale_before = dropped_stale()
    for seq in range(3):
        image = next(every_nth_frame(intel_clip))[2]
        producer.send(frames_topic, "old-cam", frame_message("old-cam", seq, start - dt.timedelta(hours=1, seconds=-seq),
                                                             image))
    sent: dict[int, dt.datetime] = {}
    for index, t, image in every_nth_frame(intel_clip, every=EVERY):
        if index > LAST_FRAME:
            break
        if index < FIRST_FRAME:
            continue
        when = start + dt.timedelta(seconds=t)
        producer.send(frames_topic, camera, frame_message(camera, 100 + index, when, image))
        sent[100 + index] = when
    producer.flush()
    producer.close()

    # A window as long as the backlog keeps every frame (no load shedding: all were sent at once).
    settings = DetectSettings(max_batch=4, max_wait_ms=20, max_frame_age_s=600, shed_window_s=600)
    loop = DetectLoop(settings, kafka_settings, {camera}, frames_topic=frames_topic,
                      detections_topic=detections_topic, group=f"test-detect-{suffix}")
    deadline = time.monotonic() + 240  # ~15 s on an idle 2-core machine
    cpu_before = stage_cpu()
    try:
        while loop.published < len(sent) and time.monotonic() < deadline:
            loop.step()
    finally:
        loop.close()
    assert loop.published == len(sent)
    # Every stage's CPU is counted, and the model is most of it (bench.pipeline reads these).
    cpu = {stage: seconds - cpu_before[stage] for stage, seconds in stage_cpu().items()}
    assert min(cpu.values()) > 0 and cpu["model"] > 10 * (cpu["decode"] + cpu["track"] + cpu["publish"]), cpu
    assert loop.dropped == 3
    # The model file, and the precision where it is not the file's FP32 (BF16 on a CPU that has it).
    precision = loop.detector.backend.precision
    model_name = "best_fp16.onnx" + ("" if precision == "fp32" else f" {precision}")
    assert dropped_stale() - stale_before == 3

    out = KafkaConsumer(detections_topic.name, **client_kwargs(broker.bootstrap, "storesight-test-reader"), auto_offset_reset="earliest",
                        consumer_timeout_ms=20000)
    received: dict[int, Detections] = {}
    keys = set()
    for m in out:
        message = Detections.FromString(m.value)
        received[message.frame_seq] = message
        keys.add(m.key)
        if len(received) == len(sent):
            break
    out.close()

    assert set(received) == set(sent)  # one Detections per fresh frame, none for stale ones
    assert keys == {camera.encode()}
    for seq, message in received.items():
        assert from_timestamp(message.capture_time) == sent[seq]  # capture time carried through
        assert message.model == model_name and message.inference_ms > 0
        assert (message.frame_width, message.frame_height) == (768, 432)
        assert message.ByteSize() < 1024  # boxes and ids only, never pixels
        for p in message.persons:
            assert 0 <= p.box.x1 < p.box.x2 <= 1 and 0 <= p.box.y1 < p.box.y2 <= 1
            assert p.foot.y == pytest.approx(p.box.y2) and p.foot.x == pytest.approx((p.box.x1 + p.box.x2) / 2)

    # Track ids are stable within each visit, and the two visitors get different ids.
    visit_ids = []
    for visit in intel_visits(servers.INTEL_DIR)[:2]:
        inside = [received[100 + i] for i in range(visit.first_frame + 10, visit.last_frame - 10)
                  if 100 + i in received]
        ids = Counter(p.track_id for m in inside for p in m.persons)
        assert sum(len(m.persons) == 1 for m in inside) >= 0.95 * len(inside)
        assert len(ids) == 1 and 0 not in ids, ids
        visit_ids.append(next(iter(ids)))
    assert visit_ids[0] != visit_ids[1]
    # Empty frames before the first visit hold nobody.
    assert all(not received[100 + i].persons for i in range(FIRST_FRAME, 55, EVERY))


def test_service_stops_cleanly_on_sigterm_and_commits(fresh_broker, tmp_path, intel_clip):
    """The real service process: reads frames, publishes, and on SIGTERM finishes, commits and exits 0."""
    import os
    import signal
    import subprocess
    import sys

    from kafka import KafkaAdminClient

    from storesight.broker import free_port
    from storesight.config import KafkaSettings
    from storesight.topics import DETECTIONS, FRAMES

    ensure_topics(fresh_broker.bootstrap, (FRAMES, DETECTIONS))
    config = tmp_path / "detect.yaml"
    config.write_text(
        "region: test\n"
        f"pipeline:\n  kafka:\n    bootstrap: '{fresh_broker.bootstrap}'\n"
        "  detect:\n    max_batch: 2\n    max_frame_age_s: 600\n    shed_window_s: 600\n"
        "stores:\n- id: s1\n  timezone: UTC\n  cameras:\n  - id: cam-1\n    source: x.mp4\n")
    producer = TypedProducer(KafkaSettings(bootstrap=fresh_broker.bootstrap), "test-ingest")
    now = dt.datetime.now(dt.UTC)
    frames = [image for _, _, image in every_nth_frame(intel_clip, every=100)][:3]
    for seq, image in enumerate(frames):
        producer.send(FRAMES, "cam-1", frame_message("cam-1", seq, now + dt.timedelta(seconds=seq), image))
    producer.flush()
    producer.close()

    port = free_port()
    env = {**os.environ, "STORESIGHT_HTTP_PORT": str(port), "PYTHONPATH": str(servers.REPO)}
    env.pop("KAFKA_BOOTSTRAP", None)
    proc = subprocess.Popen([sys.executable, "-m", "services.detect", "--config", str(config)],
                            cwd=servers.REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        out = KafkaConsumer(DETECTIONS.name, **client_kwargs(fresh_broker.bootstrap, "storesight-test-reader"),
                            auto_offset_reset="earliest", consumer_timeout_ms=60000)
        got = []
        for m in out:
            got.append(Detections.FromString(m.value))
            if len(got) == len(frames):
                break
        out.close()
        assert sorted(d.frame_seq for d in got) == [0, 1, 2]
        assert servers.wait_port("127.0.0.1", port, 5)
        import urllib.request

        metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        assert 'storesight_detect_frames_total{camera="cam-1"} 3.0' in metrics
        assert "storesight_detect_inference_seconds_count" in metrics
        # The default detector on a CPU: OpenVINO at the precision this CPU runs natively.
        import openvino

        precision = cpu_float_precision(openvino.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"))
        assert (f'storesight_detect_backend_info{{backend="openvino",device="cpu",precision="{precision}",'
                f'provider="openvino {openvino.get_version().split("-")[0]} CPU"}} 1.0') in metrics
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    log_text = proc.stdout.read().decode()
    assert "best_fp16.onnx" in log_text  # the log names the model used
    assert '"provider": "openvino' in log_text  # ... and what runs it
    admin = KafkaAdminClient(**client_kwargs(fresh_broker.bootstrap, "storesight-test-admin"))
    committed = admin.list_group_offsets("storesight-detect")["storesight-detect"]
    admin.close()
    assert sum(o.offset for tp, o in committed.items() if tp.topic == FRAMES.name) == 3


def skipped(camera: str, reason: str) -> float:
    return REGISTRY.get_sample_value("storesight_detect_frames_skipped_total",
                                     {"camera": camera, "reason": reason}) or 0.0


def test_a_backlog_is_shed_newest_first_and_every_offset_committed(broker, kafka_settings, intel_clip):
    """A detector behind its cameras runs each camera's newest frame, skips (and counts) the older
    ones, publishes the effective rate, and commits the skipped frames' offsets too."""
    from kafka import KafkaAdminClient

    suffix = uuid.uuid4().hex[:8]
    frames_topic = Topic(f"test-shed-frames-{suffix}", Frame, partitions=1, retention_ms=60_000,
                         max_message_bytes=16 * 1024 * 1024)
    detections_topic = Topic(f"test-shed-detections-{suffix}", Detections, partitions=1, retention_ms=60_000)
    ensure_topics(broker.bootstrap, (frames_topic, detections_topic))
    image = next(every_nth_frame(intel_clip))[2]
    start = dt.datetime.now(dt.UTC)
    producer = TypedProducer(kafka_settings, "test-ingest")
    cameras = ("shed-a", "shed-b")
    sent = 0
    for seq in range(20):  # 2 s of two 10 fps cameras, all waiting before the detector starts
        for camera in cameras:
            producer.send(frames_topic, camera, frame_message(camera, seq, start + dt.timedelta(seconds=seq / 10), image))
            sent += 1
    producer.flush()
    producer.close()
    before = {c: skipped(c, "superseded") for c in cameras}

    group = f"test-shed-{suffix}"
    loop = DetectLoop(DetectSettings(max_batch=2, max_wait_ms=0, max_frame_age_s=600), kafka_settings,
                      set(cameras), frames_topic=frames_topic, detections_topic=detections_topic, group=group)
    deadline = time.monotonic() + 120
    try:
        while loop.published + loop.skipped < sent and time.monotonic() < deadline:
            loop.step()
    finally:
        loop.close()
    assert loop.published + loop.skipped == sent and loop.dropped == 0
    assert loop.skipped >= sent - 2 * 2 * 5  # at most a few polls' newest frames ran, not the backlog
    assert sum(skipped(c, "superseded") - before[c] for c in cameras) == loop.skipped

    out = KafkaConsumer(detections_topic.name, bootstrap_servers=broker.bootstrap, auto_offset_reset="earliest",
                        consumer_timeout_ms=10000)
    seqs: dict[str, list[int]] = {c: [] for c in cameras}
    for m in out:
        message = Detections.FromString(m.value)
        seqs[message.camera_id].append(message.frame_seq)
    out.close()
    for camera in cameras:
        # Each camera's newest frame won, and no frame ran after a newer one of its camera.
        assert seqs[camera] and seqs[camera][-1] == 19 and seqs[camera] == sorted(set(seqs[camera]))
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    committed = admin.list_group_offsets(group)[group]
    admin.close()
    assert sum(o.offset for tp, o in committed.items() if tp.topic == frames_topic.name) == sent
