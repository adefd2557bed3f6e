"""Track identity across detect restarts: Detections.tracker_epoch through the real broker, Redis and
the aggregate worker.

Detect's track ids restart at 1 in every process. Here one detect incarnation (epoch A) tracks
person 1 standing in the shelf for 4 s and is then killed; its successor (epoch B) numbers the next
person in the shelf 1 again, 0.2 s later (well within track_gone_s). Two people, two visits: without
the epoch in the key the aggregate joins them into one visit of 8 s. The second person stands at the
other end of the shelf (0.45 from where the first was last seen, 0.4 s before): further than anyone
walks in that time, so the aggregate's continuation of tracks across a restart (epochs.py: within
epoch_stitch_distance + epoch_stitch_speed * gap = 0.25) does not take them for the first person.
"""

from __future__ import annotations

import time
import uuid

import pytest
import redis

from services.aggregate.service import AggregateWorker
from storesight.config import load_config
from storesight.contracts import CameraHealth, Detections, ZoneStats, decode
from storesight.topics import DAY_MS, Topic, ensure_topics
from tests.integration.test_aggregate_service import FPS, T0, detections, write_config
from tests.integration.test_checked_produce import committed, read_all
from tests.support.bus import send_detections


def two_incarnations() -> list[Detections]:
    msgs = []
    for i in range(int(20 * FPS)):
        t = T0 + i / FPS
        rel = t - T0
        if rel < 4.0:
            msg = detections("cam-a", t, [(1, 0.2, 0.5)])  # person 1, first detect process
            msg.tracker_epoch = "epoch-a"
        elif rel >= 4.2:
            persons = [(1, 0.4, 0.9)] if rel < 8.2 else []  # person 2, numbered 1 by the restarted process
            msg = detections("cam-a", t, persons)
            msg.tracker_epoch = "epoch-b"
        else:
            continue  # the restart
        msgs.append(msg)
    return msgs


@pytest.fixture()
def world(fresh_broker, redis_url, tmp_path):
    tag = uuid.uuid4().hex[:8]
    topics = (Topic(f"t{tag}.detections", Detections, partitions=1, retention_ms=DAY_MS),
              Topic(f"t{tag}.health", CameraHealth, partitions=1, retention_ms=DAY_MS),
              Topic(f"t{tag}.zone-stats", ZoneStats, partitions=1, retention_ms=DAY_MS, key="store_id/zone_id"))
    ensure_topics(fresh_broker.bootstrap, topics)
    config = load_config(write_config(tmp_path / "aggregate.yaml", fresh_broker.bootstrap))
    prefix = f"storesight:test-{tag}:"
    yield fresh_broker.bootstrap, config, topics, prefix, f"agg-{tag}"
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
    client.close()


def test_a_restarted_detect_does_not_join_two_people_into_one_visit(world):
    bootstrap, config, (detections_topic, health, stats), prefix, group = world
    msgs = two_incarnations()
    worker = AggregateWorker(config, group=group, redis_prefix=prefix, detections=detections_topic, health=health,
                             stats=stats)
    worker.open()
    try:
        send_detections(bootstrap, msgs, topic=detections_topic)
        deadline = time.monotonic() + 60
        while committed(bootstrap, group, detections_topic.name) < len(msgs):
            assert time.monotonic() < deadline
            worker.step(timeout_ms=100)
    finally:
        worker.close()
    out = [decode(ZoneStats, r.value) for r in read_all(bootstrap, stats.name)]
    shelf = {s.window_start.seconds - T0: s for s in out if s.zone_id == "shelf"}
    # Two visits of about 4 s each, as the script (the labels) says: not one visit of 8 s.
    assert sum(s.entries for s in shelf.values()) == 2
    assert sum(s.exits for s in shelf.values()) == 2
    assert max(s.dwell_max_s for s in shelf.values() if s.HasField("dwell_max_s")) == pytest.approx(4.0, abs=0.3)
