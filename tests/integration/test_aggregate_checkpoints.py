"""Aggregate checkpoints on the real broker and Redis: fenced against stale owners, and never
executed (services/aggregate/checkpoint.py is JSON data; a pickle or junk in the key is discarded).

- A stale owner (its partition re-assigned while it was away) cannot overwrite the new owner's
  checkpoint: the write is refused and counted, nothing is committed, the partition is dropped.
- A zombie worker process (SIGSTOP past the session timeout, the partitions re-assigned to a second
  worker, SIGCONT): its checkpoint write is refused, and the windows equal a run without the pause.
- A checkpoint key overwritten with junk or a crafted pickle: logged, counted, discarded, the
  partition rebuilt from the earliest retained offsets; the pickle's side effect never happens.
"""

from __future__ import annotations

import os
import pickle
import signal
import time

import pytest
import requests
from prometheus_client import REGISTRY

from services.aggregate.service import AggregateWorker
from storesight.broker import free_port
from storesight.config import load_config
from storesight.topics import ensure_topics
from tests.integration.test_aggregate_service import (
    T0,
    expected_from_core,
    keyed,
    read_stats,
    scripted_stream,
    start_worker,
    stop,
    write_config,
)
from tests.integration.test_checked_produce import committed, read_all, windows
from tests.integration.test_tracker_epoch import world  # noqa: F401 - the fixture
from tests.support.bus import send_detections


def sample(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def run_until_committed(worker: AggregateWorker, bootstrap: str, group: str, topic: str, n: int) -> None:
    deadline = time.monotonic() + 60
    while committed(bootstrap, group, topic) < n:
        assert time.monotonic() < deadline, "the worker did not commit in time"
        worker.step(timeout_ms=100)


def test_a_stale_owner_cannot_overwrite_the_new_owners_checkpoint(world):  # noqa: F811
    bootstrap, config, (detections, health, stats), prefix, group = world
    msgs = scripted_stream(30.0)
    worker = AggregateWorker(config, group=group, redis_prefix=prefix, detections=detections, health=health,
                             stats=stats)
    worker.open()
    try:
        send_detections(bootstrap, msgs[:100], topic=detections)
        run_until_committed(worker, bootstrap, group, detections.name, 100)
        assert worker.tasks[0].generation >= 1
        # A second worker is assigned the partition while this one is away: it bumps the
        # generation and writes its own checkpoint (here: a marker standing for its state).
        worker.redis.incr(worker._generation_key(0))
        worker.redis.set(worker._checkpoint_key(0), b"the new owner's checkpoint")
        before = sample("storesight_aggregate_checkpoints_refused_total")
        send_detections(bootstrap, msgs[100:], topic=detections)
        deadline = time.monotonic() + 30
        while 0 in worker.tasks:  # the stale owner carries on and tries to checkpoint
            assert time.monotonic() < deadline, "the stale owner was never fenced off"
            worker.step(timeout_ms=100)
        assert sample("storesight_aggregate_checkpoints_refused_total") == before + 1
        assert worker.redis.get(worker._checkpoint_key(0)) == b"the new owner's checkpoint"
        assert committed(bootstrap, group, detections.name) == 100  # nothing committed after the fence
    finally:
        worker.tasks.clear()
        worker.close()


class _Planted:
    """What an attacker with write access to the key would plant: unpickling creates ``path``."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (os.mkdir, (self.path,))


@pytest.mark.parametrize("kind", ["junk", "pickle"])
def test_an_unreadable_checkpoint_is_discarded_never_executed_and_rebuilt(world, kind, tmp_path, caplog):  # noqa: F811
    bootstrap, config, (detections, health, stats), prefix, group = world
    msgs = scripted_stream(30.0)
    expected = sorted((z, s - T0) for z, s in expected_from_core(config, msgs))
    marker = tmp_path / "planted-code-ran"
    first = AggregateWorker(config, group=group, redis_prefix=prefix, detections=detections, health=health,
                            stats=stats)
    first.open()
    try:
        send_detections(bootstrap, msgs[:100], topic=detections)
        run_until_committed(first, bootstrap, group, detections.name, 100)
    finally:
        first.close()
    key = first._checkpoint_key(0)
    first.redis.set(key, b"\x00\xffnot a checkpoint" if kind == "junk" else pickle.dumps(_Planted(str(marker))))
    before = sample("storesight_aggregate_checkpoints_discarded_total", reason="unreadable")
    send_detections(bootstrap, msgs[100:], topic=detections)
    second = AggregateWorker(config, group=group, redis_prefix=prefix, detections=detections, health=health,
                             stats=stats)
    second.open()
    try:
        run_until_committed(second, bootstrap, group, detections.name, len(msgs))
    finally:
        second.close()
    assert not marker.exists(), "the planted pickle ran"
    assert sample("storesight_aggregate_checkpoints_discarded_total", reason="unreadable") == before + 1
    assert any("checkpoint unreadable" in r.getMessage() for r in caplog.records)
    # Rebuilt from the earliest offsets: every window the core closes, with the same values; those
    # the first worker had emitted already come again, identical (readers upsert by key and window).
    out = read_all(bootstrap, stats.name)
    assert sorted(set(windows(out))) == expected
    by_window: dict = {}
    for record in out:
        by_window.setdefault(windows([record])[0], set()).add(record.value)
    assert all(len(values) == 1 for values in by_window.values())


def _metric(port: int, name: str) -> float:
    for line in requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def _ready(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _wait(predicate, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def test_a_zombie_worker_is_fenced_and_the_counts_equal_a_run_without_the_pause(fresh_broker, redis_url, tmp_path):
    bootstrap = fresh_broker.bootstrap
    ensure_topics(bootstrap)
    # Checkpoints only when windows close: the zombie holds processed, unsaved records when stopped.
    config_path = write_config(tmp_path / "zombie.yaml", bootstrap, checkpoint_interval_s=600)
    # Without the stream's one late record: whether it is late depends on batch boundaries, which
    # differ between any two runs; the windows must not.
    msgs = [m for m in scripted_stream(30.0) if not any(90 <= p.track_id < 100 for p in m.persons)]
    expected = expected_from_core(load_config(config_path), msgs)
    window0 = [m for m in msgs if m.capture_time.seconds + m.capture_time.nanos / 1e9 < T0 + 5.0]
    rest = msgs[len(window0):]
    prefix = f"storesight:test-zombie-{os.getpid()}-{int(time.time())}:"
    group = f"agg-zombie-{int(time.time())}"
    port_a, port_b = free_port(), free_port()
    zombie = start_worker(config_path, redis_url, group, prefix, port_a)
    second = None
    try:
        _wait(lambda: _ready(port_a), 60, "worker A never got its partitions")
        send_detections(bootstrap, window0)
        _wait(lambda: _metric(port_a, "storesight_aggregate_records_total") >= len(window0), 60,
              "worker A did not process window 0")
        zombie.send_signal(signal.SIGSTOP)  # past the session timeout (6 s): the group evicts it
        second = start_worker(config_path, redis_url, group, prefix, port_b)
        _wait(lambda: _ready(port_b), 90, "worker B never got the partitions")
        send_detections(bootstrap, rest)
        _wait(lambda: _metric(port_b, "storesight_aggregate_records_total") >= len(msgs), 90,
              "worker B did not process the stream")
        zombie.send_signal(signal.SIGCONT)
        _wait(lambda: _metric(port_a, "storesight_aggregate_checkpoints_refused_total") >= 1, 60,
              "the zombie's checkpoint write was not refused")
        got = keyed(read_stats(bootstrap, want=len(expected), timeout_s=60))  # keyed: no window twice
    finally:
        if zombie.poll() is None:
            zombie.send_signal(signal.SIGCONT)
        stop(zombie)
        if second is not None:
            stop(second)
    assert set(got) == {(z, s - T0) for z, s in expected}
    for (zone, start), e in expected.items():
        g = got[(zone, start - T0)]
        for name in ("occupancy_avg", "occupancy_max", "entries", "exits", "unique_tracks"):
            ev = getattr(e, name)
            if ev is not None:
                assert getattr(g, name) == pytest.approx(ev, rel=1e-6), (zone, start - T0, name)
