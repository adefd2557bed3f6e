"""Fenced aggregate checkpoints on the real broker and Redis: once a newer owner of a partition has
been assigned (its generation bumped), the old owner's checkpoint write is refused and counted, the
stored checkpoint stays the newer one, and the old owner commits nothing and drops the partition."""

from __future__ import annotations

import time

from prometheus_client import REGISTRY

from services.aggregate.service import AggregateWorker
from tests.integration.test_aggregate_service import scripted_stream
from tests.integration.test_checked_produce import committed
from tests.integration.test_tracker_epoch import world  # noqa: F401 - the fixture
from tests.support.bus import send_detections


def refused() -> float:
    return REGISTRY.get_sample_value("storesight_aggregate_checkpoints_refused_total") or 0.0


def test_a_stale_owner_cannot_overwrite_the_new_owners_checkpoint(world):  # noqa: F811
    bootstrap, config, (detections, health, stats), prefix, group = world
    msgs = scripted_stream(30.0)
    worker = AggregateWorker(config, group=group, redis_prefix=prefix, detections=detections, health=health,
                             stats=stats)
    worker.open()
    try:
        send_detections(bootstrap, msgs[:100], topic=detections)
        deadline = time.monotonic() + 60
        while committed(bootstrap, group, detections.name) < 100:
            assert time.monotonic() < deadline
            worker.step(timeout_ms=100)
        assert worker.tasks[0].generation >= 1
        # A second worker is assigned the partition while this one is paused: it bumps the
        # generation and writes its own checkpoint (here: a marker standing for its state).
        worker.redis.incr(worker._generation_key(0))
        worker.redis.set(worker._checkpoint_key(0), b"the new owner's checkpoint")
        before = refused()
        send_detections(bootstrap, msgs[100:], topic=detections)
        deadline = time.monotonic() + 30
        while 0 in worker.tasks:  # the zombie wakes up and tries to checkpoint
            assert time.monotonic() < deadline, "the stale owner was never fenced off"
            worker.step(timeout_ms=100)
        assert refused() == before + 1
        assert worker.redis.get(worker._checkpoint_key(0)) == b"the new owner's checkpoint"
        assert committed(bootstrap, group, detections.name) == 100  # nothing committed after the fence
    finally:
        worker.tasks.clear()
        worker.close()
