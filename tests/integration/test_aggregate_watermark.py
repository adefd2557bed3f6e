"""Event time per camera, through the real broker and Redis: cameras sharing an input partition.

Two cameras send to one partition, cam-b's captures 20 s behind cam-a's (a camera whose ingest
or detect lags). With one watermark per partition, cam-a's captures closed cam-b's windows
before cam-b's records arrived: they were counted late and lost. With a watermark per camera,
the closed windows are exactly those of a run where each camera has a partition of its own,
and nothing is late.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
import uuid

import yaml
from kafka import KafkaConsumer
from kafka.partitioner.default import murmur2

from services.aggregate.service import AggregateWorker
from storesight.bus import TypedProducer
from storesight.config import KafkaSettings, load_config
from storesight.contracts import Detections, ZoneStats, decode, to_timestamp
from storesight.topics import CAMERA_HEALTH, DETECTIONS, ZONE_STATS, ensure_topics

T0 = 1_800_000_000.0
FPS = 5
LAG_S = 20.0
CAMERAS = ("cam-a", "cam-b")


def write_config(path, bootstrap: str):
    cams = [{"id": c, "source": f"{c}.mp4",
             "zones": [{"id": f"{c}-shelf", "kind": "area", "polygon": [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]},
                       {"id": f"{c}-queue", "kind": "queue", "polygon": [[0.5, 0], [1, 0], [1, 1], [0.5, 1]]}],
             "lines": [{"id": f"{c}-door", "a": [0.7, 0], "b": [0.7, 1], "in_point": [0.2, 0.5]}]}
            for c in CAMERAS]
    path.write_text(yaml.safe_dump({
        "region": "test",
        "pipeline": {"kafka": {"bootstrap": bootstrap},
                     "aggregate": {"window_s": 5, "allowed_lateness_s": 1, "stale_after_s": 2, "track_gone_s": 1,
                                   "zone_exit_grace_s": 0.3, "min_visit_dwell_s": 1, "checkpoint_interval_s": 0.5}},
        "stores": [{"id": "s1", "timezone": "UTC", "cameras": cams}]}))
    return load_config(path)


def detections(camera: str, t: float, rel: float) -> Detections:
    """People walk left to right across the view (shelf, door line, queue), a new one every 3 s."""
    msg = Detections(camera_id=camera, store_id="s1")
    msg.capture_time.CopyFrom(to_timestamp(dt.datetime.fromtimestamp(t, dt.UTC)))
    for k in range(int(rel // 3) + 1):
        x = (rel - 3 * k) / 9
        if 0 <= x < 1:
            p = msg.persons.add(track_id=1 + k, confidence=0.9)
            p.foot.x, p.foot.y = x, 0.5
            p.box.x1, p.box.y1, p.box.x2, p.box.y2 = max(0.0, x - 0.05), 0.3, min(1.0, x + 0.05), 0.5
    return msg


def stream() -> list[Detections]:
    """In send order: at each step cam-a's frame at t and cam-b's frame at t - 20 s."""
    msgs = []
    for i in range(int(45 * FPS)):
        rel = i / FPS
        msgs.append(detections("cam-a", T0 + rel, rel))
        msgs.append(detections("cam-b", T0 - LAG_S + rel, rel))
    return msgs


def run(bootstrap: str, config, partitions: int, msgs: list[Detections]) -> dict[tuple[str, float], ZoneStats]:
    """Feed ``msgs`` through a worker on topics of ``partitions`` partitions; the windows it closed."""
    tag = f"wm{partitions}-{uuid.uuid4().hex[:6]}"
    det = dataclasses.replace(DETECTIONS, name=f"{tag}.detections", partitions=partitions)
    health = dataclasses.replace(CAMERA_HEALTH, name=f"{tag}.health", partitions=partitions)
    stats = dataclasses.replace(ZONE_STATS, name=f"{tag}.stats", partitions=1)
    ensure_topics(bootstrap, (det, health, stats))
    producer = TypedProducer(KafkaSettings(bootstrap=bootstrap), f"{tag}-producer")
    for m in msgs:
        producer.send(det, m.camera_id, m)
    producer.flush()
    producer.close()
    worker = AggregateWorker(config, group=tag, redis_prefix=f"storesight:test-{tag}:", detections=det,
                             health=health, stats=stats, client_id=tag)
    worker.open()
    done, deadline = 0, time.monotonic() + 90
    try:
        while done < len(msgs) and time.monotonic() < deadline:
            done += worker.step(timeout_ms=100)
    finally:
        worker.close()
    assert done == len(msgs)
    consumer = KafkaConsumer(stats.name, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             group_id=None, consumer_timeout_ms=2000)
    closed: dict[tuple[str, float], ZoneStats] = {}
    try:
        for record in consumer:
            s = decode(ZoneStats, record.value)
            key = (s.zone_id, s.window_start.seconds - T0)
            assert key not in closed, f"window {key} emitted twice"
            closed[key] = s
    finally:
        consumer.close()
    return closed


def test_a_camera_20s_behind_on_a_shared_partition_closes_the_windows_it_closes_alone(broker, redis_url, tmp_path,
                                                                                      monkeypatch):
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.delenv("KAFKA_BOOTSTRAP", raising=False)
    # kafka-python's default partitioner (murmur2 of the key): with 2 partitions the cameras part.
    assert len({(murmur2(c.encode()) & 0x7FFFFFFF) % 2 for c in CAMERAS}) == 2
    config = write_config(tmp_path / "c.yaml", broker.bootstrap)
    msgs = stream()
    shared = run(broker.bootstrap, config, 1, msgs)
    own = run(broker.bootstrap, config, 2, msgs)
    # Each camera closes the windows whose end + lateness its own watermark passed (cam-a: T0 + 44.8,
    # cam-b: 20 s less): 8 each, from T0 and T0 - 20 s, each with 2 zones, the view and the door.
    assert sum("cam-a" in k[0] for k in own) == 8 * 4
    assert {k for k in own if "cam-b" in k[0]} == {(z, -LAG_S + 5 * w) for w in range(8)
                                                   for z in ("cam-b-shelf", "cam-b-queue", "camera:cam-b")} | {
        ("line:cam-b-door", -LAG_S + 5 * w) for w in range(8)}
    assert all(s.late_records == 0 for s in shared.values())
    assert shared == own
    assert sum(s.exits for k, s in shared.items() if k[0] == "line:cam-b-door") >= 5  # people walked out
