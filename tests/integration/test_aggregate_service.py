"""The aggregate service through a real embedded broker and real Redis, with a scripted stream.

Truth of the stream (window 5 s, lateness 1 s, stale after 2 s, base time T0):
- cam-a, zone 'shelf' (left half): in window k exactly (k % 3) + 1 people stand in it on
  every frame; track 100 walks in through line 'door' in window 1, track 101 out in window 2.
- cam-b, zone 'aisle': frames until T0+7 and from T0+15: window 1 is PARTIAL (frames until
  T0+6.8 cover until T0+8.8: 76 %), window 2 is UNKNOWN (no values at all, never 0).
- Window 3: one more person in the shelf and one entry through 'door' in T0+16.6..17.4.
- One cam-a frame for window 0 with 5 people arrives after window 0 closed: counted late.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis
import requests
import yaml

from services.aggregate.aggregator import Aggregator
from services.aggregate.convert import frame_from_proto
from services.aggregate.records import WindowStats
from storesight.broker import free_port
from storesight.bus import TypedProducer
from storesight.config import KafkaSettings, load_config
from storesight.contracts import CameraHealth, Detections, ZoneStats, to_timestamp
from storesight.topics import CAMERA_HEALTH, DETECTIONS, ZONE_STATS, ensure_topics
from tests.support.bus import read_messages, send_detections
from tests.support.servers import INTEL_CLIP, REPO

T0 = 1_800_000_000.0
W = 5.0
FPS = 5


def write_config(path: Path, bootstrap: str, checkpoint_interval_s: float = 0.2) -> Path:
    cfg = {
        "region": "test",
        "pipeline": {"kafka": {"bootstrap": bootstrap},
                     "aggregate": {"window_s": 5, "allowed_lateness_s": 1, "stale_after_s": 2,
                                   "track_gone_s": 1, "zone_exit_grace_s": 0.3, "live_ttl_s": 60,
                                   "checkpoint_interval_s": checkpoint_interval_s}},
        "stores": [{"id": "s1", "timezone": "UTC", "cameras": [
            # A real clip as cam-a's file source, so the heatmap verb can build its background.
            {"id": "cam-a", "source": str(INTEL_CLIP) if INTEL_CLIP.exists() else "a.mp4",
             "zones": [{"id": "shelf", "kind": "area", "polygon": [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]}],
             "lines": [{"id": "door", "a": [0.8, 0], "b": [0.8, 1], "in_point": [0.2, 0.5]}]},
            {"id": "cam-b", "source": "b.mp4",
             "zones": [{"id": "aisle", "kind": "aisle", "polygon": [[0, 0], [1, 0], [1, 1], [0, 1]]}]},
        ]}],
    }
    path.write_text(yaml.safe_dump(cfg))
    return path


def detections(camera: str, t: float, persons: list[tuple[int, float, float]]) -> Detections:
    msg = Detections(camera_id=camera, store_id="s1")
    msg.capture_time.CopyFrom(to_timestamp(dt.datetime.fromtimestamp(t, dt.UTC)))
    for track, x, y in persons:
        p = msg.persons.add(track_id=track, confidence=0.9)
        p.box.x1, p.box.y1, p.box.x2, p.box.y2 = max(0, x - 0.05), max(0, y - 0.2), min(1, x + 0.05), y
        p.foot.x, p.foot.y = x, y
    return msg


def cam_a_persons(t: float) -> list[tuple[int, float, float]]:
    rel = round(t - T0, 3)
    k = int(rel // W)
    people = [(10 * (k + 1) + i, 0.1 + 0.1 * i, 0.5) for i in range(k % 3 + 1)]
    if 5.0 <= rel < 7.0:  # track 100 walks from x=0.95 to x=0.55 (inside the door line, outside the shelf)
        people.append((100, 0.95 - (rel - 5.0) * 0.2, 0.6))
    if 10.0 <= rel < 12.0:  # track 101 walks out
        people.append((101, 0.55 + (rel - 10.0) * 0.2, 0.6))
    if 16.6 <= rel < 17.4:  # the stretch the restart test kills the worker in
        people.append((102, 0.3, 0.5))  # one more in the shelf for 4 frames
        people.append((103, 0.95 - (rel - 16.6) * 0.5, 0.6))  # and one walking in through the door
    return people


def scripted_stream(until: float = 30.0) -> list[Detections]:
    """The stream in send order (two out-of-order swaps and one late record included)."""
    msgs = []
    for i in range(int(until * FPS)):
        t = T0 + i / FPS
        msgs.append(detections("cam-a", t, cam_a_persons(t)))
        msgs[-1].effective_fps = FPS  # detect's rate of cam-a; cam-b's stays 0: unknown
        rel = t - T0
        if rel < 7.0 or rel >= 15.0:
            msgs.append(detections("cam-b", t, [(7, 0.5, 0.5)] if rel < 7.0 else []))
        if abs(rel - 7.0) < 1e-6:  # window 0 closed at T0 + 6: this record for it is late
            msgs.append(detections("cam-a", T0 + 2.0, [(90 + j, 0.2, 0.5) for j in range(5)]))
    # Swap two cam-a frames inside window 3: still merged (within lateness).
    msgs[80], msgs[82] = msgs[82], msgs[80]
    return msgs


def expected_from_core(config, msgs) -> dict:
    agg = Aggregator(config)
    out = agg.process(frame_from_proto(m) for m in msgs)
    return {(o.zone_id, o.window_start): o for o in out if isinstance(o, WindowStats)}


def start_worker(config_path: Path, redis_url: str, group: str, prefix: str, port: int) -> subprocess.Popen:
    env = dict(os.environ, REDIS_URL=redis_url, STORESIGHT_HTTP_PORT=str(port), LOG_LEVEL="WARNING")
    env.pop("KAFKA_BOOTSTRAP", None)
    return subprocess.Popen([sys.executable, "-m", "services.aggregate", "--config", str(config_path),
                             "--group", group, "--redis-prefix", prefix], cwd=REPO, env=env)


def read_stats(bootstrap: str, want: int, timeout_s: float = 60.0) -> list[ZoneStats]:
    return read_messages(bootstrap, ZONE_STATS.name, ZoneStats, want, timeout_s)


def keyed(stats: list[ZoneStats]) -> dict:
    table = {}
    for s in stats:
        key = (s.zone_id, s.window_start.seconds - T0)
        assert key not in table, f"window {key} emitted twice"
        table[key] = s
    return table


@pytest.fixture()
def setup(fresh_broker, redis_url, tmp_path):
    ensure_topics(fresh_broker.bootstrap)
    config_path = write_config(tmp_path / "aggregate.yaml", fresh_broker.bootstrap)
    prefix = f"storesight:test-{uuid.uuid4().hex[:8]}:"
    client = redis.Redis.from_url(redis_url)
    yield fresh_broker.bootstrap, config_path, prefix, client
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
    client.close()


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def test_window_stats_live_state_and_metrics(setup, redis_url):
    bootstrap, config_path, prefix, client = setup
    msgs = scripted_stream(30.0)
    port = free_port()
    proc = start_worker(config_path, redis_url, "agg-test", prefix, port)
    try:
        send_detections(bootstrap, msgs)
        # cam-a: 5 windows closed (watermark T0+29.8) x (shelf, camera view, line) ; cam-b: 5 x (aisle, view).
        got = keyed(read_stats(bootstrap, want=5 * 3 + 5 * 2))
        for k in (0, 1, 2, 4):
            shelf = got[("shelf", k * W)]
            assert shelf.status == ZoneStats.STATUS_OK
            assert (shelf.occupancy_avg, shelf.occupancy_min, shelf.occupancy_max) == (k % 3 + 1,) * 3
        assert got[("line:door", 5.0)].entries == 1 and got[("line:door", 5.0)].exits == 0
        assert got[("line:door", 10.0)].exits == 1 and got[("line:door", 10.0)].entries == 0
        w3 = got[("shelf", 15.0)]
        assert w3.occupancy_avg == pytest.approx((21 * 1 + 4 * 2) / 25) and w3.occupancy_max == 2
        assert got[("line:door", 15.0)].entries == 1
        # The late record changed nothing in window 0 and is reported with the next window.
        assert got[("shelf", 0.0)].late_records == 0 and got[("shelf", 5.0)].late_records == 1
        assert got[("aisle", 0.0)].status == ZoneStats.STATUS_OK and got[("aisle", 0.0)].occupancy_avg == 1
        partial = got[("aisle", 5.0)]
        assert partial.status == ZoneStats.STATUS_PARTIAL and partial.coverage == pytest.approx(0.76, abs=1e-3)
        assert partial.occupancy_avg == 1
        gap = got[("aisle", 10.0)]
        assert gap.status == ZoneStats.STATUS_UNKNOWN and gap.coverage == 0
        assert not gap.HasField("occupancy_avg") and not gap.HasField("entries")
        assert got[("aisle", 15.0)].status == ZoneStats.STATUS_OK and got[("aisle", 15.0)].occupancy_avg == 0
        # Every window the service emitted is one the core closes on the same stream.
        expected = expected_from_core(load_config(config_path), msgs)
        assert set(got) <= {(z, s - T0) for z, s in expected}

        live = {k.decode(): json.loads(v) for k, v in client.hgetall(f"{prefix}live:s1").items()}
        assert live["shelf"]["status"] == "ok" and live["shelf"]["occupancy"] == 3  # window 5: k % 3 + 1
        assert live["shelf"]["capture_time"].startswith("2027-01-15T08:00:29.8")
        assert live["camera:cam-a"]["effective_fps"] == FPS and live["camera:cam-a"]["status"] == "ok"
        assert live["camera:cam-b"]["effective_fps"] is None and live["camera:cam-b"]["status"] == "ok"
        assert 0 < client.ttl(f"{prefix}live:s1") <= 60
        metrics = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        assert 'storesight_zone_occupancy{store="s1",zone="shelf"} 3.0' in metrics
        assert 'storesight_zone_entries_total{line="door",store="s1"} 2.0' in metrics
        assert 'storesight_zone_exits_total{line="door",store="s1"} 1.0' in metrics
        assert 'storesight_aggregate_late_records_total{store="s1"} 1.0' in metrics
        assert 'storesight_zone_known{store="s1",zone="shelf"} 1.0' in metrics
        assert client.hlen(f"{prefix}heatmap:cam-a") == 5
        if INTEL_CLIP.exists():
            import cv2

            from tools.cli import main

            png = config_path.parent / "heat.png"
            assert main(["heatmap", "cam-a", "--config", str(config_path), "--out", str(png),
                         "--redis-prefix", prefix, "--samples", "5"]) == 0
            assert cv2.imread(str(png)).shape == (432, 768, 3)

        # cam-a reports DOWN on the health topic: its zones turn unknown live, never 0.
        health = CameraHealth(camera_id="cam-a", store_id="s1", status=CameraHealth.STATUS_DOWN, reason="test")
        health.report_time.CopyFrom(to_timestamp(dt.datetime.fromtimestamp(T0 + 29.9, dt.UTC)))
        producer = TypedProducer(KafkaSettings(bootstrap=bootstrap), "test-health")
        producer.send(CAMERA_HEALTH, "cam-a", health)
        producer.flush()
        producer.close()
        deadline = time.monotonic() + 30
        while json.loads(client.hget(f"{prefix}live:s1", "shelf"))["status"] != "unknown":
            assert time.monotonic() < deadline, "DOWN health did not make the zone unknown"
            time.sleep(0.05)
        assert json.loads(client.hget(f"{prefix}live:s1", "shelf"))["occupancy"] is None
        metrics = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        assert 'storesight_zone_known{store="s1",zone="shelf"} 0.0' in metrics
        assert 'storesight_zone_occupancy{store="s1",zone="shelf"}' not in metrics
        assert 'storesight_camera_up{camera="cam-a",store="s1"} 0.0' in metrics
    finally:
        stop(proc)


def _checkpointed_offsets(client, prefix: str, group: str) -> int:
    from services.aggregate.checkpoint import decode

    return sum(sum(decode(client.get(k)).offsets.values())
               for k in client.scan_iter(f"{prefix}aggregate:checkpoint:{group}:*"))


def _wait_live(client, prefix: str, at_least: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        live = client.hget(f"{prefix}live:s1", "shelf")
        if live and json.loads(live)["capture_time"] >= at_least:
            return
        time.sleep(0.05)
    pytest.fail(f"worker did not get to {at_least}")


def test_sigkill_mid_window_restart_is_exact(setup, redis_url, tmp_path):
    bootstrap, _, prefix, client = setup
    # Checkpoints only when a window closes: records after that are processed but not checkpointed.
    config_path = write_config(tmp_path / "kill.yaml", bootstrap, checkpoint_interval_s=600)
    msgs = scripted_stream(40.0)
    expected = expected_from_core(load_config(config_path), msgs)
    upto_close = [m for m in msgs if m.capture_time.seconds + m.capture_time.nanos / 1e9 < T0 + 16.5]
    mid_window = [m for m in msgs[len(upto_close):] if m.capture_time.seconds < T0 + 17.6]
    rest = msgs[len(upto_close) + len(mid_window):]
    proc = start_worker(config_path, redis_url, "agg-kill", prefix, free_port())
    try:
        send_detections(bootstrap, upto_close)  # closes window 2 at T0+16: checkpoint
        _wait_live(client, prefix, "2027-01-15T08:00:16.4")
        time.sleep(0.5)
        at_checkpoint = _checkpointed_offsets(client, prefix, "agg-kill")
        send_detections(bootstrap, mid_window)  # processed, live updated, not checkpointed
        _wait_live(client, prefix, "2027-01-15T08:00:17.4")
        assert _checkpointed_offsets(client, prefix, "agg-kill") == at_checkpoint  # the kill loses work
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        send_detections(bootstrap, rest)
        proc = start_worker(config_path, redis_url, "agg-kill", prefix, free_port())
        got = keyed(read_stats(bootstrap, want=len(expected), timeout_s=90))
        assert set(got) == {(z, s - T0) for z, s in expected}
        for (zone, start), e in expected.items():
            g = got[(zone, start - T0)]
            assert g.status == {"OK": 1, "PARTIAL": 2, "UNKNOWN": 3}[e.status]
            for name in ("occupancy_avg", "occupancy_min", "occupancy_max", "entries", "exits",
                         "unique_tracks", "dwell_max_s"):
                ev = getattr(e, name)
                assert g.HasField(name) == (ev is not None), (zone, start - T0, name)
                if ev is not None:
                    assert getattr(g, name) == pytest.approx(ev, rel=1e-6), (zone, start - T0, name)
            assert g.late_records == e.late_records
        # Hand truth of window 3, whose middle the kill interrupted: 25 frames, 4 with 2 people,
        # one entry (a record lost or replayed twice would change both).
        assert got[("shelf", 15.0)].occupancy_avg == pytest.approx(29 / 25)
        assert got[("line:door", 15.0)].entries == 1
    finally:
        stop(proc)


def test_checkpoint_of_a_camera_removed_from_the_config_is_dropped_not_fatal(broker, redis_url, tmp_path):
    """A camera removed from the config after a checkpoint must not crash-loop the worker."""
    from services.aggregate.checkpoint import encode
    from services.aggregate.records import FrameRecord
    from services.aggregate.service import AggregateWorker

    old_path = write_config(tmp_path / "old.yaml", broker.bootstrap)
    old = load_config(old_path)
    before = Aggregator(old)
    before.process([FrameRecord.of("cam-b", 1000.0, [(1, 0.5, 0.5)]), FrameRecord.of("cam-a", 1000.0, [(2, 0.2, 0.5)])])
    assert {"cam-a", "cam-b"} <= set(before.state.cameras)

    data = yaml.safe_load(old_path.read_text())
    data["stores"][0]["cameras"] = [c for c in data["stores"][0]["cameras"] if c["id"] != "cam-b"]
    new_path = tmp_path / "new.yaml"
    new_path.write_text(yaml.safe_dump(data))
    prefix = f"storesight:test-{uuid.uuid4().hex[:8]}:"
    worker = AggregateWorker(load_config(new_path), group="g-removed", redis_prefix=prefix)
    client = redis.Redis.from_url(redis_url)
    try:
        client.set(worker._checkpoint_key(0), encode(before.state, {}, worker.topic_ids, generation=1))
        task = worker._load(0)
        assert set(task.aggregator.state.cameras) == {"cam-a"}
        worker.tasks[0] = task
        worker._publish_live(None)  # used to raise KeyError for the removed camera
        assert client.hget(f"{prefix}live:s1", "shelf") is not None
    finally:
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
        worker.producer.close()


def test_checkpoint_made_on_other_topics_is_discarded(broker, redis_url, tmp_path):
    """Same group name, recreated topics (or another broker): old offsets would point past the end."""
    from services.aggregate.checkpoint import encode
    from services.aggregate.records import FrameRecord
    from services.aggregate.service import AggregateWorker

    ensure_topics(broker.bootstrap, (DETECTIONS, CAMERA_HEALTH, ZONE_STATS))
    config = load_config(write_config(tmp_path / "c.yaml", broker.bootstrap))
    before = Aggregator(config)
    before.process([FrameRecord.of("cam-a", 1000.0, [(2, 0.2, 0.5)])])
    prefix = f"storesight:test-{uuid.uuid4().hex[:8]}:"
    worker = AggregateWorker(config, group="g-other-topics", redis_prefix=prefix)
    client = redis.Redis.from_url(redis_url)
    try:
        assert set(worker.topic_ids) == {DETECTIONS.name, CAMERA_HEALTH.name}
        stale = {name: "another-incarnation" for name in worker.topic_ids}
        client.set(worker._checkpoint_key(0), encode(before.state, {(DETECTIONS.name, 0): 500}, stale, 1))
        task = worker._load(0)
        assert task.offsets == {} and not task.aggregator.state.cameras
        client.set(worker._checkpoint_key(0), encode(before.state, {(DETECTIONS.name, 0): 500}, worker.topic_ids, 1))
        assert worker._load(0).offsets == {(DETECTIONS.name, 0): 500}
    finally:
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
        worker.producer.close()
