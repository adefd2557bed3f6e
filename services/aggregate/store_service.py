"""Store windows out of the aggregate worker: StoreStats on Kafka, the store's live value in Redis, gauges.

The worker hands it every closed ``WindowStats`` (``collect``) and, once those are settled, calls
``publish(owned_partitions)``. A store is counted only by the worker that holds every input
partition carrying one of its entrance cameras (partition = Kafka's default key hash of the camera id):
with several replicas a store whose doors land on two workers would otherwise be counted twice, half
each; such a store is skipped with a warning (put its door cameras on one worker). Each store's state
(``StoreOccupancy``, plain JSON) is saved to Redis after its windows are settled (acknowledged, or in
the DLQ) and before the worker's checkpoint: a replay of rows already applied is ignored, so a restart counts nobody twice.
"""

from __future__ import annotations

import json
import logging
import time

from kafka.partitioner.default import murmur2
from prometheus_client import Counter, Gauge

from services.aggregate.convert import store_live_to_json, store_stats_to_proto
from services.aggregate.records import WindowStats
from services.aggregate.store_occupancy import CLOSING, OPENING, RECONCILED, StoreOccupancy, StoreWindow
from storesight.config import Config, Store
from storesight.topics import Topic

log = logging.getLogger(__name__)

STORE_OCCUPANCY = Gauge("storesight_store_occupancy",
                        "Persons in the store at the end of its last closed window, from the entrance lines "
                        "(absent when unknown)", ["store"])
STORE_FOOTFALL = Counter("storesight_store_footfall_total", "Entries through the store's entrance lines", ["store"])
STORE_FOOTFALL_TODAY = Gauge("storesight_store_footfall_today", "Entries of the store-local day so far", ["store"])
STORE_CLAMPED = Counter("storesight_store_occupancy_clamped_total",
                        "Persons dropped by the clamp of the store occupancy at 0 (an exit without its entry)",
                        ["store"])
STORE_DRIFT = Counter("storesight_store_occupancy_drift_total",
                      "Store occupancy discarded by resets (opening, closing, reconciled to empty zones)",
                      ["store", "reset"])


STORE_STAFF = Gauge("storesight_store_staff",
                    "Staff (staff-only zone rule) in the latest frame of the store's cameras", ["store"])
STORE_STAFF_TRACKS = Counter("storesight_store_staff_tracks_total",
                             "Tracks found to be staff and left out of the customer numbers", ["store"])


def export_staff(staff) -> None:
    """Staff gauges and counters from a StaffFilter (stores with a staff rule only)."""
    for store_id, count in staff.staff_per_store().items():
        STORE_STAFF.labels(store_id).set(count)
        STORE_STAFF_TRACKS.labels(store_id).inc(staff.new_staff.pop(store_id, 0))


def camera_partition(camera_id: str, partitions: int) -> int:
    """The partition Kafka's default partitioner gives a record keyed by the camera id."""
    return (murmur2(camera_id.encode()) & 0x7FFFFFFF) % partitions


class StorePublisher:
    def __init__(self, config: Config, sends, redis, *, topic: Topic, prefix: str, group: str,
                 input_partitions: int):
        """``sends``: the worker's ``PendingSends`` (storesight.bus): store windows are settled like zone windows."""
        self.settings = config.pipeline.aggregate
        self.sends = sends
        self.redis = redis
        self.topic = topic
        self.prefix = prefix
        self.group = group
        self.stores = [s for s in config.stores if s.entrances]
        self.partitions = {s.id: {camera_partition(e.camera, input_partitions) for e in s.entrances}
                           for s in self.stores}
        self.counters: dict[str, StoreOccupancy] = {}
        self.rows: list[WindowStats] = []
        self._skipped: set[str] = set()
        for store in self.stores:
            # Rare events exist at 0 from the start ("nothing happened yet", not "no data").
            STORE_FOOTFALL.labels(store.id)
            STORE_CLAMPED.labels(store.id)
            for reset in (OPENING, CLOSING, RECONCILED):
                STORE_DRIFT.labels(store.id, reset)

    def _state_key(self, store_id: str) -> str:
        return f"{self.prefix}aggregate:store:{self.group}:{store_id}"

    def collect(self, out) -> None:
        if self.stores and isinstance(out, WindowStats):
            self.rows.append(out)

    def forget(self) -> None:
        """Partitions were revoked: the next owner loads the saved states."""
        self.counters.clear()

    def _counter(self, store: Store) -> StoreOccupancy:
        counter = self.counters.get(store.id)
        if counter is None:
            saved = self.redis.get(self._state_key(store.id))
            try:
                counter = StoreOccupancy.from_json(store, self.settings.window_s, saved) if saved else None
            except (ValueError, TypeError) as exc:
                log.warning("saved store state unreadable: counting starts again from 0",
                            extra={"store": store.id, "error": type(exc).__name__})
            counter = counter or StoreOccupancy(store, self.settings.window_s)
            self.counters[store.id] = counter
        return counter

    def publish(self, owned: set[int]) -> list[StoreWindow]:
        """Feed the collected windows to the stores this worker owns; publish and save what closed."""
        rows, self.rows = self.rows, []
        if not rows:
            return []
        emitted: list[StoreWindow] = []
        touched = []
        for store in self.stores:
            if not self.partitions[store.id] <= owned:
                if store.id not in self._skipped:
                    self._skipped.add(store.id)
                    log.warning("store not counted here: its entrance cameras are on partitions this worker "
                                "does not hold", extra={"store": store.id})
                continue
            self._skipped.discard(store.id)
            counter = self._counter(store)
            windows = counter.feed(rows)
            touched.append(counter)
            for window in windows:
                self.sends.send(self.topic, store.id, store_stats_to_proto(window),
                                source=f"store/{store.id}/{int(window.window_start)}")
            emitted += windows
        if emitted:
            self.sends.settle()  # raises DeliveryFailed: then no state is saved and nothing committed
            self._live_and_metrics(emitted)
        if touched:
            pipe = self.redis.pipeline()
            for counter in touched:
                pipe.set(self._state_key(counter.store.id), counter.state_json())
            pipe.execute()
        return emitted

    def _live_and_metrics(self, windows: list[StoreWindow]) -> None:
        ttl = int(2 * self.settings.window_s + self.settings.allowed_lateness_s + self.settings.live_ttl_s)
        pipe = self.redis.pipeline()
        now = time.time()
        for w in windows:
            pipe.set(f"{self.prefix}store:{w.store_id}", json.dumps(store_live_to_json(w, now)), ex=ttl)
            STORE_FOOTFALL.labels(w.store_id).inc(w.entries)
            STORE_FOOTFALL_TODAY.labels(w.store_id).set(w.footfall_day)
            if w.clamped:
                STORE_CLAMPED.labels(w.store_id).inc(w.clamped)
            if w.drift:
                STORE_DRIFT.labels(w.store_id, w.reset).inc(w.drift)
            if w.status == "UNKNOWN":
                try:
                    STORE_OCCUPANCY.remove(w.store_id)  # unknown: no sample, never a 0
                except KeyError:
                    pass
            else:
                STORE_OCCUPANCY.labels(w.store_id).set(w.occupancy)
        pipe.execute()
