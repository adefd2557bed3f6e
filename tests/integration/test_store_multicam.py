"""The synthetic multi-camera store (``storesight synth --scenario store-multicam``) through the real
broker, Redis and the aggregate service as a process, against the scenario's exact truth:

- store occupancy and footfall per window exact (front door on one camera, side door on another);
- the shop floor, watched by three overlapping cameras, counts each customer once (min and max
  persons per window exact: the naive sum of the cameras' counts is higher whenever someone stands
  in an overlap);
- the member of staff behind the counter is in no customer number (the counter zone's min/max are
  the customers' only) and is counted apart (``storesight_store_staff``).
Detections are generated from the scenario's floor paths (no video, no detector): this checks the
counting, not detection.
"""

from __future__ import annotations

import json

import redis
import requests
import yaml

from storesight.broker import free_port
from storesight.contracts import StoreStats, ZoneStats
from storesight.topics import ensure_topics
from tests.integration.test_aggregate_service import detections, read_stats, start_worker, stop
from tests.integration.test_store_stats import read_store_stats
from tests.support.bus import send_detections
from tools.cli import main
from tools.synth.multicam import CAMERAS, SHOP_FLOOR_X, position, to_image


def test_synth_writes_the_scenario(tmp_path):
    assert main(["synth", "--scenario", "store-multicam", "--out", str(tmp_path)]) == 0
    truth = json.loads((tmp_path / "truth.json").read_text())
    assert [w["occupancy"] for w in truth["windows"]] == [1, 2, 3, 4, 4, 3, 2]
    assert main(["config", "check", str(tmp_path / "store.yaml")]) == 0
    # The overlap is real: at t = 45 s the cameras see 7 foot points on the shop floor, for 4 customers.
    points = sum(1 for c in CAMERAS for p in ("p1", "p2", "p3", "p4")
                 if (xy := position(p, 45.0)) and to_image(c, *xy) and SHOP_FLOOR_X[0] < xy[0] < SHOP_FLOOR_X[1])
    assert points == 7 and truth["windows"][4]["shop_floor_max"] == 4


def test_multicam_store_through_the_service_is_exact(fresh_broker, redis_url, tmp_path):
    from tools.synth.multicam import write

    bootstrap = fresh_broker.bootstrap
    ensure_topics(bootstrap)
    scenario = write(tmp_path)
    data = yaml.safe_load((tmp_path / "store.yaml").read_text())
    data["pipeline"]["kafka"] = {"bootstrap": bootstrap}
    data["pipeline"]["aggregate"].update(checkpoint_interval_s=0.2, live_ttl_s=60)
    config_path = tmp_path / "run.yaml"
    config_path.write_text(yaml.safe_dump(data))
    prefix = f"storesight:test-multicam-{free_port()}:"
    client = redis.Redis.from_url(redis_url)
    port = free_port()
    proc = start_worker(config_path, redis_url, "multicam-test", prefix, port)
    try:
        msgs = []
        for camera, t, persons in scenario.frames:
            msg = detections(camera, t, persons)
            msg.store_id = "multicam"
            msgs.append(msg)
        send_detections(bootstrap, msgs)
        windows = scenario.truth["windows"]
        stores = {round(s.window_start.seconds): s for s in read_store_stats(bootstrap, want=len(windows))}
        assert len(stores) == len(windows)
        for w in windows:
            got = stores[round(w["window_start"])]
            assert got.status == StoreStats.STATUS_OK
            assert (got.entries, got.exits, got.occupancy, got.footfall_day, got.clamped) == \
                (w["entries"], w["exits"], w["occupancy"], w["footfall_day"], 0), w
        zone_rows = read_stats(bootstrap, want=len(windows) * 7)
        floor = {round(s.window_start.seconds): s for s in zone_rows if s.zone_id == "shop-floor"}
        counter = {round(s.window_start.seconds): s for s in zone_rows if s.zone_id == "counter"}
        for w in windows:
            start = round(w["window_start"])
            assert floor[start].status == ZoneStats.STATUS_OK
            assert (floor[start].occupancy_min, floor[start].occupancy_max) == \
                (w["shop_floor_min"], w["shop_floor_max"]), w
            assert (counter[start].occupancy_min, counter[start].occupancy_max) == \
                (w["counter_min"], w["counter_max"]), w
        metrics = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        assert 'storesight_store_staff{store="multicam"} 1.0' in metrics
        assert 'storesight_store_staff_tracks_total{store="multicam"} 1.0' in metrics
        # The shop floor live, counted once: p2 and p4 (p4 in the overlap of two cameras) at the end.
        assert 'storesight_zone_occupancy{store="multicam",zone="shop-floor"} 2.0' in metrics
        shop_floor = json.loads(client.hget(f"{prefix}live:multicam", "shop-floor"))
        assert (shop_floor["status"], shop_floor["occupancy"]) == ("ok", 2)
        live = json.loads(client.get(f"{prefix}store:multicam"))
        assert (live["occupancy"], live["footfall_today"]) == (windows[-1]["occupancy"], 4)
    finally:
        stop(proc)
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
        client.close()
