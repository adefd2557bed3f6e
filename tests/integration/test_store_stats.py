"""The store as a whole through the real aggregate service: embedded broker, Redis, /metrics.

Truth (window 5 s, lateness 1 s, base time T0, two door cameras, store always open):
- window 0: one person walks in at door-a (cam-a), one at door-b (cam-b)   -> occupancy 2
- window 1: one more in at door-a                                          -> 3
- window 2: one out at door-b                                              -> 2
- window 3: three out at door-b (one of them was never seen coming in)      -> 0, clamped 1
- window 4: one in at door-a                                               -> 1
Footfall of the day: 2, 3, 3, 3, 4.
"""

from __future__ import annotations

import json
import signal

import pytest
import redis
import requests
import yaml
from kafka import KafkaConsumer

from services.aggregate.store_service import camera_partition
from storesight.broker import free_port
from storesight.contracts import StoreStats
from storesight.topics import DETECTIONS, STORE_STATS, ensure_topics
from tests.integration.test_aggregate_service import T0, W, detections, read_stats, start_worker, stop
from tests.support.bus import read_messages, send_detections

FPS = 5
# (camera, track, window, direction): a 2 s walk across the door starting 1 s into the window.
WALKS = [("cam-a", 1, 0, "in"), ("cam-b", 2, 0, "in"), ("cam-a", 3, 1, "in"), ("cam-b", 4, 2, "out"),
         ("cam-b", 5, 3, "out"), ("cam-b", 6, 3, "out"), ("cam-b", 7, 3, "out"), ("cam-a", 8, 4, "in")]
EXPECTED = {  # window -> (entries, exits, occupancy, clamped, footfall_day)
    0: (2, 0, 2, 0, 2), 1: (1, 0, 3, 0, 3), 2: (0, 1, 2, 0, 3), 3: (0, 3, 0, 1, 3), 4: (1, 0, 1, 0, 4)}


def store_config(bootstrap: str) -> dict:
    def camera(cam_id: str, door: str) -> dict:
        return {"id": cam_id, "source": f"{cam_id}.mp4",
                "zones": [{"id": f"{cam_id}-floor", "kind": "aisle", "polygon": [[0, 0], [0.7, 0], [0.7, 1], [0, 1]]},
                          {"id": f"{cam_id}-till", "kind": "area", "staff_only": True,
                           "polygon": [[0, 0.85], [0.1, 0.85], [0.1, 1], [0, 1]]}],
                "lines": [{"id": door, "a": [0.8, 0], "b": [0.8, 1], "in_point": [0.2, 0.5]}]}

    return {
        "region": "test",
        "pipeline": {"kafka": {"bootstrap": bootstrap},
                     "aggregate": {"window_s": 5, "allowed_lateness_s": 1, "stale_after_s": 2, "track_gone_s": 1,
                                   "zone_exit_grace_s": 0.3, "live_ttl_s": 60, "checkpoint_interval_s": 0.2}},
        "stores": [{"id": "s1", "timezone": "Europe/Lisbon", "staff_share": 0.5, "cameras": [camera("cam-a", "door-a"),
                                                                           camera("cam-b", "door-b")],
                    "entrances": [{"camera": "cam-a", "line": "door-a"}, {"camera": "cam-b", "line": "door-b"}]}],
    }


def persons(camera: str, rel: float) -> list[tuple[int, float, float]]:
    # Staff behind cam-a's till all along (in cam-a's floor zone too): no customer number may see them.
    people = [(99, 0.05, 0.9)] if camera == "cam-a" else []
    for cam, track, window, direction in WALKS:
        start = window * W + 1.0
        if cam == camera and start <= rel < start + 2.0:
            progress = (rel - start) / 2.0
            x = 0.95 - 0.4 * progress if direction == "in" else 0.55 + 0.4 * progress
            people.append((track, x, 0.3 + 0.05 * track))
    return people


def stream(until: float) -> list:
    msgs = []
    for i in range(int(until * FPS)):
        rel = i / FPS
        for camera in ("cam-a", "cam-b"):
            msgs.append(detections(camera, T0 + rel, persons(camera, rel)))
    return msgs


def read_store_stats(bootstrap: str, want: int, timeout_s: float = 60.0) -> list[StoreStats]:
    return read_messages(bootstrap, STORE_STATS.name, StoreStats, want, timeout_s)


def test_store_occupancy_and_footfall_through_the_service(fresh_broker, redis_url, tmp_path):
    bootstrap = fresh_broker.bootstrap
    ensure_topics(bootstrap)
    config_path = tmp_path / "store.yaml"
    config_path.write_text(yaml.safe_dump(store_config(bootstrap)))
    prefix = f"storesight:test-store-{free_port()}:"
    client = redis.Redis.from_url(redis_url)
    port = free_port()
    proc = start_worker(config_path, redis_url, "store-test", prefix, port)
    try:
        send_detections(bootstrap, stream(30.0))
        got = read_store_stats(bootstrap, want=5)
        by_window = {}
        for msg in got:
            key = round(msg.window_start.seconds - T0)
            assert key not in by_window, f"store window {key} published twice"
            by_window[key] = msg
        assert sorted(by_window) == [0, 5, 10, 15, 20]
        for k, (entries, exits, occupancy, clamped, footfall) in EXPECTED.items():
            msg = by_window[int(k * W)]
            assert (msg.entries, msg.exits, msg.occupancy, msg.clamped, msg.footfall_day) == \
                (entries, exits, occupancy, clamped, footfall), f"window {k}"
            assert msg.status == StoreStats.STATUS_OK and msg.coverage == pytest.approx(1.0)
            assert msg.reset == StoreStats.RESET_NONE and msg.open
            assert msg.local_date == "2027-01-15"  # Lisbon is on UTC in January

        live = json.loads(client.get(f"{prefix}store:s1"))
        assert (live["status"], live["occupancy"], live["footfall_today"]) == ("ok", 1, 4)
        assert client.ttl(f"{prefix}store:s1") > 0
        metrics = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        assert 'storesight_store_occupancy{store="s1"} 1.0' in metrics
        assert 'storesight_store_footfall_total{store="s1"} 4.0' in metrics
        assert 'storesight_store_footfall_today{store="s1"} 4.0' in metrics
        assert 'storesight_store_occupancy_clamped_total{store="s1"} 1.0' in metrics
        assert 'storesight_store_staff_tracks_total{store="s1"} 1.0' in metrics
        assert 'storesight_store_staff{store="s1"} 1.0' in metrics
        floor = [s for s in read_stats(bootstrap, want=1, timeout_s=5) if s.zone_id == "cam-a-floor"]
        assert floor and all(s.occupancy_max == 0 for s in floor if s.window_start.seconds - T0 in (10, 15))  # no walker on cam-a
        assert all(s.occupancy_min == 0 for s in floor)  # the staff member is never in the floor's count
        # The worker decides which stores it owns from the partition each camera's records are on.
        consumer = KafkaConsumer(DETECTIONS.name, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                 group_id=None, consumer_timeout_ms=2000)
        seen = {(r.key.decode(), r.partition) for r in consumer}
        consumer.close()
        assert seen == {(c, camera_partition(c, DETECTIONS.partitions)) for c in ("cam-a", "cam-b")}
        # The state is saved for a restart, as plain JSON.
        saved = json.loads(client.get(f"{prefix}aggregate:store:store-test:s1"))
        assert saved["occupancy"] == 1 and saved["clamped_total"] == 1
    finally:
        stop(proc)
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
        client.close()


def test_a_zone_two_cameras_watch_counts_the_overlap_once_through_the_service(fresh_broker, redis_url, tmp_path):
    from tests.unit.test_multi_zone import config as multi_config
    from tests.unit.test_multi_zone import frames

    bootstrap = fresh_broker.bootstrap
    ensure_topics(bootstrap)
    data = multi_config().model_dump(mode="json")
    data["pipeline"]["kafka"] = {"bootstrap": bootstrap}
    data["pipeline"]["aggregate"].update(checkpoint_interval_s=0.2, live_ttl_s=60)
    config_path = tmp_path / "multi.yaml"
    config_path.write_text(yaml.safe_dump(data))
    prefix = f"storesight:test-multi-{free_port()}:"
    client = redis.Redis.from_url(redis_url)
    proc = start_worker(config_path, redis_url, "multi-test", prefix, free_port())
    try:
        msgs = []
        for rec in frames(21.2):  # windows [0, 10) and [10, 20) close
            msg = detections(rec.camera_id, T0 + rec.capture_s, [(tr, x, y) for tr, (x, y)
                                                                   in zip(rec.track_ids, rec.feet, strict=True)])
            msg.store_id = "s"
            msgs.append(msg)
        send_detections(bootstrap, msgs)
        hall = [s for s in read_stats(bootstrap, want=2 * 2 + 2) if s.zone_id == "hall"]
        assert len(hall) == 2
        for window in hall:
            assert window.status == window.STATUS_OK and window.coverage == pytest.approx(1.0)
            assert (window.occupancy_avg, window.occupancy_min, window.occupancy_max) == (3, 3, 3)
        assert json.loads(client.get(f"{prefix}aggregate:multi-zones:multi-test"))["next_close"] is not None
    finally:
        stop(proc)
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
        client.close()


def test_sigkill_mid_stream_restart_keeps_the_store_exact(fresh_broker, redis_url, tmp_path):
    """Killed after store window 1 and in the middle of window 3 (three exits at door-b, one of them
    already seen): the successor replays from the checkpoint and every store window is published once,
    with the same numbers (the store state ignores replayed line windows)."""
    bootstrap = fresh_broker.bootstrap
    ensure_topics(bootstrap)
    data = store_config(bootstrap)
    data["pipeline"]["aggregate"]["checkpoint_interval_s"] = 600  # only when a window closes
    config_path = tmp_path / "kill.yaml"
    config_path.write_text(yaml.safe_dump(data))
    prefix = f"storesight:test-store-kill-{free_port()}:"
    client = redis.Redis.from_url(redis_url)
    msgs = stream(30.0)
    cut_a = sum(1 for m in msgs if m.capture_time.seconds + m.capture_time.nanos / 1e9 < T0 + 11.5)
    cut_b = sum(1 for m in msgs if m.capture_time.seconds + m.capture_time.nanos / 1e9 < T0 + 17.5)
    proc = start_worker(config_path, redis_url, "store-kill", prefix, free_port())
    try:
        send_detections(bootstrap, msgs[:cut_a])  # closes window 1 (at T0 + 11): store windows 0, 1
        assert len(read_store_stats(bootstrap, want=2, timeout_s=60)) == 2
        send_detections(bootstrap, msgs[cut_a:cut_b])  # closes window 2, then half of window 3's walks
        assert len(read_store_stats(bootstrap, want=3, timeout_s=60)) == 3  # read_messages waits 1 s more
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        send_detections(bootstrap, msgs[cut_b:])
        proc = start_worker(config_path, redis_url, "store-kill", prefix, free_port())
        got = read_store_stats(bootstrap, want=5, timeout_s=90)
        starts = [round(m.window_start.seconds - T0) for m in got]
        assert sorted(starts) == [0, 5, 10, 15, 20], "a store window was lost or published twice"
        for msg in got:
            k = round(msg.window_start.seconds - T0) // int(W)
            assert (msg.entries, msg.exits, msg.occupancy, msg.clamped, msg.footfall_day) == EXPECTED[k], k
    finally:
        stop(proc)
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
        client.close()
