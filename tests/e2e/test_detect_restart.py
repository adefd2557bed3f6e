"""Detect SIGKILLed mid-visit and restarted: the labelled Intel clip through ingest -> detect ->
aggregate, each its own process on the real embedded broker and a private Redis (issue 18).

While the second visitor stands at the table, detect is killed (SIGKILL: no batch finished,
nothing committed) and a new detect process is started. The new process has a new tracker epoch:
it numbers the person at the table anew and publishes again the frames the old one had published
but not committed. The aggregate must skip those replays and continue the person's visit
(services/aggregate/epochs.py), so that the visits equal the labels (visits.csv: 6 people, one
after another): 6 visitors, 6 exits through `right-exit`, 6 visits of the table and of the floor.
A split visit would show as 7, a replay counted twice as a frame with twice the people.

Settings as in tests/e2e/test_intel_pipeline.py (stated there): 5 fps, every frame, `realtime:
false`, no frame dropped for age or shed, 1-s windows, `health_advances_watermark: false`;
alerts and attribute models are not part of this run.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import yaml
from kafka import KafkaConsumer, TopicPartition

from services.aggregate.geometry import PolygonSet
from storesight.config import load_config
from storesight.contracts import seconds
from storesight.kafka_clients import client_kwargs
from storesight.topics import DETECTIONS, FRAMES, ZONE_STATS
from tests.e2e.pipeline_run import decode_all, read_topics
from tests.support.servers import INTEL_CLIP, REPO
from tools.stack import LocalStack, metric_value

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

CAMERA, STORE = "cam-table", "demo-store"
PUBLISHED = 697  # 1,394 frames at 10 fps sampled at 5 fps
KILL_AFTER = 175  # detections published: capture ~35 s, visit 2 (22.8-44.9 s in view) at the table
DETECT_GROUP = "storesight-detect"
TIMEOUT_S = 900


def write_config(workdir) -> tuple:
    data = yaml.safe_load((REPO / "examples" / "demo-store.yaml").read_text())
    pipeline = data["pipeline"]
    pipeline["aggregate"] = {"window_s": 1, "allowed_lateness_s": 2, "health_advances_watermark": False}
    pipeline["detect"] = {"max_frame_age_s": 1.0e9, "shed_window_s": 1.0e9}
    camera = data["stores"][0]["cameras"][0]
    camera.update(source=str(INTEL_CLIP), fps=5, realtime=False)
    path = workdir / "intel-restart.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path, load_config(path)


def committed_total(bootstrap: str, group: str, topic: str) -> int:
    consumer = KafkaConsumer(**client_kwargs(bootstrap, "storesight-test-reader"), group_id=group,
                             enable_auto_commit=False)
    try:
        return sum(consumer.committed(TopicPartition(topic, p)) or 0
                   for p in sorted(consumer.partitions_for_topic(topic) or ()))
    finally:
        consumer.close()


def wait_for(what: str, done, stack: LocalStack, timeout_s: float = TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for name, process in stack.processes.items():
            if process.proc.poll() is not None:
                raise AssertionError(f"{name} exited with {process.proc.returncode}:\n{process.log_tail()}")
        if done():
            return
        time.sleep(0.2)
    tails = "\n".join(f"--- {n}\n{p.log_tail(8)}" for n, p in stack.processes.items())
    raise AssertionError(f"{what}: not after {timeout_s:.0f} s\n{tails}")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    assert INTEL_CLIP.exists(), f"the labelled Intel clip is missing: {INTEL_CLIP}"
    workdir = tmp_path_factory.mktemp("intel-restart")
    config_path, config = write_config(workdir)
    (workdir / "run" / "tmp").mkdir(parents=True)
    stack = LocalStack(config_path, workdir / "run", services=("aggregate", "detect", "ingest"),
                       private_redis=True, extra_env={"TMPDIR": str(workdir / "run" / "tmp")})
    started = time.time()
    try:
        stack.start()
        bootstrap = stack.broker.bootstrap

        def produced() -> float:
            return stack.processes["detect"].metric("storesight_produced_messages_total", topic=DETECTIONS.name)

        wait_for("detect reached the kill point", lambda: produced() >= KILL_AFTER, stack)
        stack.kill_and_restart("detect")
        ingest, aggregate = stack.processes["ingest"], stack.processes["aggregate"]

        def detect_done() -> bool:
            published = ingest.metric("storesight_ingest_frames_published_total")
            return (published == PUBLISHED and ingest.metric("storesight_ingest_camera_up", camera=CAMERA) == 0
                    and committed_total(bootstrap, DETECT_GROUP, FRAMES.name) == published)

        wait_for("detect committed every frame", detect_done, stack)
        detections = decode_all(read_topics(bootstrap, [DETECTIONS.name])[DETECTIONS.name], DETECTIONS.name)

        def aggregate_done() -> bool:
            return aggregate.metric("storesight_consumed_messages_total", topic=DETECTIONS.name) >= len(detections)

        wait_for("aggregate consumed every detection", aggregate_done, stack)
        time.sleep(2.0)  # its last batch settled and its windows published
        metrics = aggregate.metrics()
        codes = stack.stop_services()
        stats = decode_all(read_topics(bootstrap, [ZONE_STATS.name])[ZONE_STATS.name], ZONE_STATS.name)
    finally:
        stack.stop()
    print(f"intel restart: {time.time() - started:.0f} s, {len(detections)} detections")
    return {"config": config, "detections": detections, "stats": stats, "metrics": metrics, "codes": codes}


def total(stats, zone: str, field: str) -> int:
    return sum(getattr(s, field) for s in stats if not s.live and s.zone_id == zone and s.HasField(field))


def test_detect_was_killed_while_a_person_stood_at_the_table(run):
    epochs = []
    for msg in run["detections"]:
        if not epochs or epochs[-1][0] != msg.tracker_epoch:
            epochs.append((msg.tracker_epoch, []))
        epochs[-1][1].append(msg)
    assert len(epochs) == 2 and all(e for e, _ in epochs), [e for e, _ in epochs]  # two lives, one switch
    last_old = epochs[0][1][-1]
    table = next(z for z in run["config"].camera(CAMERA)[1].zones if z.id == "table")
    feet = [(p.foot.x, p.foot.y) for p in last_old.persons]
    assert feet and PolygonSet([table.polygon]).contains(np.asarray(feet)).any(), (seconds(last_old.capture_time), feet)
    # The new process starts from the last committed frame: at or before the old one's last frame.
    first_new = epochs[1][1][0]
    assert seconds(first_new.capture_time) <= seconds(last_old.capture_time) + 0.25
    assert run["codes"]["aggregate"] == 0


def test_visits_equal_the_labels(run):
    stats = run["stats"]
    assert total(stats, f"camera:{CAMERA}", "unique_tracks") == 6
    assert total(stats, "line:right-exit", "exits") == 6
    assert total(stats, "line:right-exit", "entries") == 0
    assert (total(stats, "table", "entries"), total(stats, "table", "exits")) == (6, 6)
    assert (total(stats, "floor", "entries"), total(stats, "floor", "exits")) == (6, 6)


def test_the_person_at_the_table_was_continued_and_replays_skipped(run):
    metrics = run["metrics"]
    assert metric_value(metrics, "storesight_aggregate_tracks_continued_total", store=STORE) >= 1
    # Exactly the new process's frames that were not newer than the old one's last were skipped.
    old_epoch = run["detections"][0].tracker_epoch
    last_old = max(seconds(m.capture_time) for m in run["detections"] if m.tracker_epoch == old_epoch)
    replays = sum(1 for m in run["detections"]
                  if m.tracker_epoch != old_epoch and seconds(m.capture_time) <= last_old)
    assert metric_value(metrics, "storesight_aggregate_replayed_frames_total", store=STORE) == replays
    print(f"replayed frames skipped: {replays}")


def core_totals(run) -> dict[str, int]:
    """The run's detections, in topic order, through the aggregate core (as the worker applies them)."""
    from services.aggregate.aggregator import Aggregator
    from services.aggregate.convert import frame_from_proto
    from services.aggregate.records import WindowStats

    aggregator = Aggregator(run["config"])
    out = [w for w in aggregator.process([frame_from_proto(m) for m in run["detections"]])
           if isinstance(w, WindowStats)]

    def add(zone: str, field: str) -> int:
        return sum(getattr(w, field) or 0 for w in out if w.zone_id == zone)

    return {"visitors": add(f"camera:{CAMERA}", "unique_tracks"), "table entries": add("table", "entries"),
            "table exits": add("table", "exits"), "floor entries": add("floor", "entries")}


def test_without_the_continuation_the_visit_at_the_table_splits(run, monkeypatch):
    """The control: the same detections with epochs.py's continuation switched off count the person
    who stood at the table through the restart twice (the old track ends, the new one is a newcomer)."""
    from services.aggregate import epochs

    assert core_totals(run) == {"visitors": 6, "table entries": 6, "table exits": 6, "floor entries": 6}
    monkeypatch.setattr(epochs.EpochStitcher, "frame", lambda self, state, epoch, t, ids, feet, open_tracks: ids)
    without = core_totals(run)
    assert (without["visitors"], without["table entries"]) == (7, 7), without
