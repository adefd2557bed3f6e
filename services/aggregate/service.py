"""The aggregate worker: Kafka in, ZoneStats out, live state in Redis, business metrics.

A thin shell around ``aggregator.Aggregator``. One aggregator per input partition number (detections
and camera-health are both keyed by camera id with the same partition count, so partition p of
each holds the same cameras). Exactly-once *state*: each aggregator's state is checkpointed to
Redis (versioned JSON, ``checkpoint.py``: data only, never code) together with the input offsets it
reflects; on assignment the worker bumps the partition's generation, loads the checkpoint and seeks
to those offsets, so after a SIGKILL the records since the checkpoint are replayed into the
checkpointed state: every record counts once. A write is a compare-and-set on the generation, so a
stale owner (a paused "zombie") can neither overwrite its successor's checkpoint nor, checked
before each batch, publish windows from its stale state. Closed windows are produced and settled
(each ZoneStats acknowledged by the broker, or after retries in its ``.dlq`` topic with the
reason: storesight.bus.PendingSends), then checkpointed at once; only a crash between those two
steps re-sends a window (same key and window, so a consumer that upserts by (store, zone,
window_start) stays exact). An unreadable checkpoint (junk, a pickle) is discarded and the
partition rebuilt from the earliest retained offsets.

Why not faust: see the package README (faust's at-least-once table changelog replays records
already in the table after a crash, and its hard-coded 1.5 s fetch wait sets the live latency).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import defaultdict
from dataclasses import dataclass, field

from kafka import ConsumerRebalanceListener
from prometheus_client import Counter, Gauge

from services.aggregate import checkpoint as checkpoints
from services.aggregate.aggregator import Aggregator
from services.aggregate.attributes import HISTOGRAMS, metric_values
from services.aggregate.convert import frame_from_proto, health_from_proto, live_to_json, zone_stats_to_proto
from services.aggregate.multi_zone_service import MultiZones
from services.aggregate.records import HeatmapWindow, WindowStats
from services.aggregate.staff import StaffFilter
from services.aggregate.store_service import StorePublisher, export_staff
from storesight import heap
from storesight.bus import SendRetry, TypedConsumer, TypedProducer
from storesight.config import Config
from storesight.contracts import Detections
from storesight.redis_client import connect_redis, redis_url
from storesight.service import ServiceRunner
from storesight.topics import CAMERA_HEALTH, DETECTIONS, STORE_STATS, ZONE_STATS, Topic, topic_ids

log = logging.getLogger(__name__)

OCCUPANCY = Gauge("storesight_zone_occupancy", "Persons in the zone now (absent when unknown)", ["store", "zone"])
QUEUE_LENGTH = Gauge("storesight_zone_queue_length", "Persons in the queue zone now", ["store", "zone"])
WAIT_SECONDS = Gauge("storesight_zone_wait_seconds", "Little's-law wait estimate of the queue now",
                     ["store", "zone"])
KNOWN = Gauge("storesight_zone_known", "1 when the zone's camera is delivering, 0 when unknown", ["store", "zone"])
CAMERA_UP = Gauge("storesight_camera_up", "1 when the camera delivers fresh frames", ["store", "camera"])
ENTRIES = Counter("storesight_zone_entries_total", "Line crossings towards the inside", ["store", "line"])
EXITS = Counter("storesight_zone_exits_total", "Line crossings towards the outside", ["store", "line"])
LATE = Counter("storesight_aggregate_late_records_total", "Records for already closed windows", ["store"])
RECORDS = Counter("storesight_aggregate_records_total", "Detection and health records aggregated")
REPLAYED = Counter("storesight_aggregate_replayed_frames_total",
                   "Frames skipped as a restarted detect's replay of frames already aggregated", ["store"])
CONTINUED = Counter("storesight_aggregate_tracks_continued_total",
                    "Tracks of a restarted detect continued onto the track of the same person before it", ["store"])
DISCARDED = Counter("storesight_aggregate_checkpoints_discarded_total",
                    "Checkpoints not restored, by reason (unreadable: junk, pickle, other format)", ["reason"])
FENCED = Counter("storesight_aggregate_checkpoints_refused_total",
                 "Checkpoint writes (or batches) refused because the partition has a newer owner (a zombie worker)")

# Fenced checkpoint write: each assignment of a partition bumps its generation (INCR); a write
# carries the writer's generation and is refused when a newer owner has bumped it since.
_FENCED_SET = """
local current = tonumber(redis.call('GET', KEYS[2]) or '0')
if current > tonumber(ARGV[2]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
return 1
"""
# Opt-in sentiment (docs/privacy.md): tracks per label in the zone's last closed window, only for
# k-anonymous groups; no sample at all when the window had none. Labels are the fixed sets of labels.py.
ATTRIBUTE_TRACKS = {
    "expression": Gauge("storesight_zone_expression_tracks",
                        "Tracks per expression in the zone's last closed window (k-anonymous groups only)",
                        ["store", "zone", "expression"]),
    "band": Gauge("storesight_zone_age_band_tracks",
                  "Tracks per age band in the zone's last closed window (k-anonymous groups only)",
                  ["store", "zone", "band"]),
    "gender": Gauge("storesight_zone_gender_tracks",
                    "Tracks per gender label in the zone's last closed window (k-anonymous groups only)",
                    ["store", "zone", "gender"]),
}


def redis_url_from_env(config: Config) -> str:
    return redis_url(config.pipeline.redis_url)


@dataclass
class Task:
    """The aggregator of one partition number and the input offsets its state reflects."""

    aggregator: Aggregator
    offsets: dict[tuple[str, int], int] = field(default_factory=dict)
    exported_lines: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    exported_late: dict[str, int] = field(default_factory=dict)
    exported_epochs: dict[str, list[int]] = field(default_factory=dict)
    dirty: bool = False
    generation: int = 0  # this worker's fencing token for the partition (bumped on assignment)
    rebuild: bool = False  # the checkpoint was unreadable: replay the partition from its start


class AggregateWorker:
    def __init__(self, config: Config, *, group: str = "storesight-aggregate", redis_prefix: str = "storesight:",
                 detections: Topic = DETECTIONS, health: Topic = CAMERA_HEALTH, stats: Topic = ZONE_STATS,
                 client_id: str | None = None, send_retry: SendRetry | None = None,
                 store_stats: Topic = STORE_STATS):
        self.config = config
        self.settings = config.pipeline.aggregate
        self.group = group
        self.prefix = redis_prefix
        self.topics = (detections, health)
        self.stats_topic = stats
        self.client_id = client_id or f"aggregate-{os.getpid()}"
        # REDIS_PASSWORD / rediss:// with a CA; a wrong password or CA is a StartupError (exit 2).
        self.redis = connect_redis(redis_url_from_env(config))
        self.tasks: dict[int, Task] = {}
        # Checkpoints carry the ids of the topics they were made on: one made on a recreated topic
        # or another broker (same group name) has offsets and state that do not belong here.
        self.topic_ids = topic_ids(config.pipeline.kafka, [t.name for t in self.topics])
        self.producer = TypedProducer(config.pipeline.kafka, f"{self.client_id}-stats")
        self.sends = self.producer.batch(send_retry)  # closed windows, settled before each checkpoint
        # The store as a whole (entrance lines): see store_service.py.
        self.store_stats = StorePublisher(config, self.sends, self.redis, topic=store_stats, prefix=redis_prefix,
                                          group=group, input_partitions=detections.partitions)
        self.multi_zones = MultiZones(config, self.redis, prefix=redis_prefix, group=group,
                                      input_partitions=detections.partitions)
        # Staff exclusion (stores with staff_share): staff persons leave the frames before aggregation.
        self.staff = StaffFilter(config)
        self._staff_key = f"{redis_prefix}aggregate:staff:{group}"
        if self.staff.enabled:
            self.staff.load_json(self.redis.hgetall(self._staff_key))
        # Counters of rare events exist at 0 from the start: "nothing happened yet" is 0 on the
        # dashboards, not "no data".
        for store in config.stores:
            LATE.labels(store.id)
            REPLAYED.labels(store.id)
            CONTINUED.labels(store.id)
            for camera in store.cameras:
                for line in camera.lines:
                    ENTRIES.labels(store.id, line.id)
                    EXITS.labels(store.id, line.id)
        self.consumer: TypedConsumer | None = None
        self._last_checkpoint = time.monotonic()
        self._last_refresh = 0.0
        self.assigned = False
        for store in config.stores:
            if store.privacy.attributes_enabled and store.privacy.track_close_s >= self.settings.allowed_lateness_s:
                # Detect publishes a window's groups track_close_s after its end: they would all be late.
                log.warning("privacy.track_close_s must be below allowed_lateness_s, or attribute groups arrive "
                            "after their window closed and are dropped as late", extra={"store": store.id})

    # ------------------------------------------------------------ checkpoints

    def _checkpoint_key(self, partition: int) -> str:
        return f"{self.prefix}aggregate:checkpoint:{self.group}:{partition}"

    def _generation_key(self, partition: int) -> str:
        return f"{self.prefix}aggregate:generation:{self.group}:{partition}"

    def _load(self, partition: int) -> Task:
        blob = self.redis.get(self._checkpoint_key(partition))
        if blob is None:
            return Task(Aggregator(self.config))
        try:
            saved = checkpoints.decode(blob)  # JSON data only: junk or a pickle never runs
        except checkpoints.CheckpointError as exc:
            # Junk, a pickle (from an older version, or planted), another format: discarded, and
            # the partition's state rebuilt from the earliest retained inputs.
            DISCARDED.labels("unreadable").inc()
            log.warning("checkpoint unreadable: discarded, rebuilding the partition from the earliest "
                        "retained offsets", extra={"partition": partition, "reason": str(exc), "bytes": len(blob)})
            return Task(Aggregator(self.config), rebuild=True)
        if saved.topic_ids != self.topic_ids:
            DISCARDED.labels("other_topics").inc()
            log.warning("checkpoint was made on other topics (recreated, or another broker): discarded",
                        extra={"partition": partition})
            return Task(Aggregator(self.config))
        state = saved.state
        known = {camera.id for _, camera in self.config.cameras()}
        removed = sorted(set(state.cameras) - known)
        if removed:
            # The config changed since the checkpoint (a camera was removed or renamed): its state
            # has nowhere to go. Dropping it keeps the worker running instead of crash-looping.
            log.warning("checkpoint holds cameras that are not in the config: their state is dropped",
                        extra={"partition": partition, "cameras": ",".join(removed)})
            for camera_id in removed:
                del state.cameras[camera_id]
        task = Task(Aggregator(self.config, state=state), offsets=dict(saved.offsets))
        task.exported_lines = {k: list(v) for k, v in task.aggregator.state.line_totals.items()}
        task.exported_late = dict(task.aggregator.state.late_total)
        task.exported_epochs = task.aggregator.epoch_totals()
        return task

    def checkpoint(self, commit: bool = True) -> None:
        self.multi_zones.save()  # before the offsets move past the frames it holds
        if self.staff.enabled and (staff_state := self.staff.state_json()):
            self.redis.hset(self._staff_key, mapping=staff_state)
        pipe = self.redis.pipeline()
        written = []
        for partition, task in self.tasks.items():
            if not task.dirty:
                continue
            blob = checkpoints.encode(task.aggregator.state, task.offsets, self.topic_ids, task.generation)
            pipe.eval(_FENCED_SET, 2, self._checkpoint_key(partition), self._generation_key(partition), blob,
                      task.generation)
            written.append(partition)
            task.dirty = False
        commits = {}
        for partition, ok in zip(written, pipe.execute() if written else [], strict=True):
            if ok:
                commits.update(self.tasks[partition].offsets)
                continue
            # A newer owner took the partition while we were paused (a zombie): our state is stale,
            # so it is neither written nor committed, and we stop working on the partition.
            self._fenced(partition, "checkpoint refused")
        if commits and commit:
            # Kafka's committed offsets follow the checkpoint (for lag); the checkpoint is the truth.
            self.consumer.commit_offsets(commits)
        self._last_checkpoint = time.monotonic()

    def _fenced(self, partition: int, what: str) -> None:
        FENCED.inc()
        log.warning(f"{what}: the partition has a newer owner; dropping it", extra={
            "partition": partition, "generation": self.tasks[partition].generation})
        del self.tasks[partition]

    def _drop_fenced(self, partitions: list[int]) -> None:
        """Before aggregating a batch: a worker that was away (paused, partitioned) while its
        partitions moved must not publish windows from its stale state. One MGET per batch."""
        generations = self.redis.mget([self._generation_key(p) for p in partitions])
        for partition, current in zip(partitions, generations, strict=True):
            if int(current or 0) > self.tasks[partition].generation:
                self._fenced(partition, "batch not aggregated")

    def _on_assigned(self, assigned) -> None:
        for partition in sorted({tp.partition for tp in assigned}):
            if partition in self.tasks:
                continue
            # Bump the generation before reading the checkpoint: from now on an older owner's write
            # is refused, so what we load is the last state anyone may write before us.
            generation = int(self.redis.incr(self._generation_key(partition)))
            task = self._load(partition)
            task.generation = generation
            self.tasks[partition] = task
            for topic in self.topics:
                offset = 0 if task.rebuild else task.offsets.get((topic.name, partition))
                if offset is not None:  # 0: the earliest retained offset (auto_offset_reset=earliest)
                    self.consumer.seek(topic.name, partition, offset)
            log.info("partition assigned", extra={"partition": partition, "restored": bool(task.offsets)})
        self.assigned = True

    def _on_revoked(self, revoked) -> None:
        try:
            if self.consumer is not None and self.tasks:
                # No Kafka commit here: kafka-python 3 cannot block inside a rebalance listener, and
                # the Redis checkpoint is what the next owner resumes from (commits only show lag).
                self.checkpoint(commit=False)
        finally:
            self.store_stats.forget()
            self.multi_zones.forget()
            for partition in {tp.partition for tp in revoked}:
                self.tasks.pop(partition, None)

    # ------------------------------------------------------------ main loop

    def open(self) -> None:
        worker = self

        class Listener(ConsumerRebalanceListener):
            def on_partitions_revoked(self, revoked):
                worker._on_revoked(revoked)

            def on_partitions_assigned(self, assigned):
                worker._on_assigned(assigned)

        self.consumer = TypedConsumer(self.config.pipeline.kafka, self.topics, self.group, self.client_id,
                                      listener=Listener())

    def step(self, timeout_ms: int = 200) -> int:
        """Poll once, aggregate, publish; return the number of records handled."""
        records = self.consumer.poll(timeout_ms=timeout_ms, max_records=5000)
        if records:
            self._drop_fenced(sorted({r.partition for r in records} & set(self.tasks)))
        per_task: dict[int, list] = defaultdict(list)
        for r in records:
            task = self.tasks.get(r.partition)
            key = (r.topic, r.partition)
            if task is None or r.offset < task.offsets.get(key, -1):
                continue
            task.offsets[key] = r.offset + 1
            task.dirty = True
            is_frame = isinstance(r.value, Detections)
            per_task[r.partition].append(frame_from_proto(r.value) if is_frame else health_from_proto(r.value))
        closed = False
        touched: set[str] = set()
        if self.staff.enabled:
            per_task = {partition: self.staff.filter(recs) for partition, recs in per_task.items()}
            export_staff(self.staff)
        for partition, recs in per_task.items():
            task = self.tasks[partition]
            source = ",".join(f"{t}/{p}/{o - 1}" for (t, p), o in sorted(task.offsets.items()))
            for out in task.aggregator.process(recs):
                closed = True
                self._publish_closed(out, source)
            touched.update(r.camera_id for r in recs)
        for out in self.multi_zones.feed((r for recs in per_task.values() for r in recs), set(self.tasks)):
            closed = True
            self._publish_closed(out, "multi-zones")
        RECORDS.inc(len(records))
        now = time.monotonic()
        if now - self._last_refresh >= 1.0:
            touched = None  # refresh every camera: staleness changes without new data
            self._last_refresh = now
        if per_task or touched is None:
            self._publish_live(touched)
        if closed:
            self.sends.settle()  # raises DeliveryFailed (no checkpoint, no commit) when even the DLQ failed
            self.store_stats.publish(set(self.tasks))  # settles its own sends, then saves the store states
            self.checkpoint()
        elif now - self._last_checkpoint >= self.settings.checkpoint_interval_s:
            self.checkpoint()
        return len(records)

    def _publish_closed(self, out, source: str) -> None:
        self.store_stats.collect(out)
        if isinstance(out, WindowStats):
            self.sends.send(self.stats_topic, f"{out.store_id}/{out.zone_id}", zone_stats_to_proto(out), source=source)
            if out.zone_kind != "line":
                self._attribute_metrics(out)
        elif isinstance(out, HeatmapWindow):
            key = f"{self.prefix}heatmap:{out.camera_id}"
            value = json.dumps({"window_start": out.window_start, "window_end": out.window_end,
                                "grid": [out.counts.shape[1], out.counts.shape[0]],
                                "counts": out.counts.tolist()})
            pipe = self.redis.pipeline()
            pipe.hset(key, str(int(out.window_start)), value)
            pipe.expire(key, 24 * 3600)
            pipe.execute()
            fields = sorted(self.redis.hkeys(key), key=lambda f: int(f))
            extra = fields[:-self.settings.heatmap_windows_kept]
            if extra:
                self.redis.hdel(key, *extra)

    def _publish_live(self, cameras: set[str] | None) -> None:
        wall = time.time()
        per_store: dict[str, dict[str, str]] = defaultdict(dict)
        for task in self.tasks.values():
            agg = task.aggregator
            ids = None if cameras is None else [c for c in cameras if c in agg.state.cameras]
            for zone in agg.live(ids):
                per_store[zone.store_id][zone.zone_id] = json.dumps(live_to_json(zone, wall))
                self._zone_metrics(zone)
            self._counter_metrics(task)
            for camera_id, cam in agg.state.cameras.items():
                if ids is None or camera_id in ids:
                    fresh = (cam.live_capture is not None and cam.up is not False and
                             cam.watermark - cam.live_capture <= self.settings.stale_after_s)
                    CAMERA_UP.labels(agg.models[camera_id].store_id, camera_id).set(1 if fresh else 0)
        for zone in self.multi_zones.live():
            per_store[zone.store_id][zone.zone_id] = json.dumps(live_to_json(zone, wall))
            self._zone_metrics(zone)
        if per_store:
            pipe = self.redis.pipeline()
            for store_id, mapping in per_store.items():
                key = f"{self.prefix}live:{store_id}"
                pipe.hset(key, mapping=mapping)
                pipe.expire(key, self.settings.live_ttl_s)
            pipe.execute()

    @staticmethod
    def _zone_metrics(zone) -> None:
        labels = (zone.store_id, zone.zone_id)
        KNOWN.labels(*labels).set(1 if zone.status == "ok" else 0)
        for gauge, value in ((OCCUPANCY, zone.occupancy), (QUEUE_LENGTH, zone.queue_length),
                             (WAIT_SECONDS, zone.wait_estimate_s)):
            if value is None:
                try:
                    gauge.remove(*labels)  # unknown: no sample at all, never a 0
                except KeyError:
                    pass
            else:
                gauge.labels(*labels).set(value)

    @staticmethod
    def _attribute_metrics(stats: WindowStats) -> None:
        """Set the sentiment gauges from a closed window; remove them when it had no k-anonymous group."""
        if stats.attributes is not None:
            for name, counts in metric_values(stats.attributes).items():
                for label, tracks in counts.items():
                    ATTRIBUTE_TRACKS[name].labels(stats.store_id, stats.zone_id, label).set(tracks)
            return
        for name, labels in HISTOGRAMS.values():
            for label in labels:
                try:
                    ATTRIBUTE_TRACKS[name].remove(stats.store_id, stats.zone_id, label)
                except KeyError:
                    pass

    @staticmethod
    def _counter_metrics(task: Task) -> None:
        state = task.aggregator.state
        for key, (entries, exits) in state.line_totals.items():
            before = task.exported_lines.setdefault(key, [0, 0])
            if entries > before[0]:
                ENTRIES.labels(*key).inc(entries - before[0])
            if exits > before[1]:
                EXITS.labels(*key).inc(exits - before[1])
            task.exported_lines[key] = [entries, exits]
        for store_id, late in state.late_total.items():
            before = task.exported_late.get(store_id, 0)
            if late > before:
                LATE.labels(store_id).inc(late - before)
            task.exported_late[store_id] = late
        for store_id, now in task.aggregator.epoch_totals().items():
            before = task.exported_epochs.get(store_id, [0, 0])
            for metric, value, done in zip((REPLAYED, CONTINUED), now, before, strict=True):
                if value > done:
                    metric.labels(store_id).inc(value - done)
            task.exported_epochs[store_id] = now

    def close(self) -> None:
        if self.consumer is not None:
            if self.tasks:
                self.sends.settle()
                self.checkpoint()
            self.consumer.close()
        self.producer.close()
        self.redis.close()


def run(config: Config, runner: ServiceRunner, **options) -> None:
    """Run until SIGTERM: finish the batch, checkpoint, commit, close."""
    worker = AggregateWorker(config, **options)
    worker.open()
    heap.settle_after_startup()  # about a fifth of the worker's CPU was the collector (storesight/heap.py)
    runner.add_health_check(lambda: None if worker.redis.ping() else "redis not answering")
    try:
        while not runner.stopping.is_set():
            worker.step()
            if worker.assigned:
                runner.set_ready(True)
    finally:
        runner.set_ready(False)
        worker.close()
        log.info("aggregate stopped")
