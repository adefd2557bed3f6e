"""Multi-camera zones in the aggregate worker: frames in, their closed windows out as ZoneStats.

Counted only by the worker that holds every input partition of the zones' cameras (as for stores,
see store_service.py); otherwise skipped with a warning. Its state (recent frames of those cameras)
is JSON in Redis, saved with every checkpoint, so a restart loses no frame the checkpoint skips.
"""

from __future__ import annotations

import logging
import math

from services.aggregate.multi_zone import MultiZoneCounter
from services.aggregate.records import LiveZone
from services.aggregate.store_service import camera_partition
from storesight.config import Config

log = logging.getLogger(__name__)


class MultiZones:
    def __init__(self, config: Config, redis, *, prefix: str, group: str, input_partitions: int):
        self.config = config
        self.redis = redis
        self.key = f"{prefix}aggregate:multi-zones:{group}"
        self.counter = MultiZoneCounter(config)
        self.partitions = {camera_partition(c, input_partitions) for c in self.counter.cameras}
        self.loaded = False
        self._warned = False

    @property
    def enabled(self) -> bool:
        return bool(self.counter.zones)

    def feed(self, records, owned: set[int]) -> list:
        """Closed multi-zone windows (WindowStats) from this poll's records; [] when not the owner."""
        if not self.enabled:
            return []
        if not self.partitions <= owned:
            if not self._warned:
                self._warned = True
                log.warning("multi-camera zones not counted here: their cameras are on partitions this worker "
                            "does not hold")
            return []
        if not self.loaded:
            saved = self.redis.get(self.key)
            if saved:
                try:
                    self.counter.load_json(saved)
                except (ValueError, KeyError, TypeError) as exc:
                    log.warning("saved multi-zone state unreadable: starting empty", extra={"error": type(exc).__name__})
            self.loaded = True
        return self.counter.add(records)

    def live(self) -> list[LiveZone]:
        """Persons in each multi-camera zone at the latest frame time (unknown when a part's camera is stale)."""
        at = self.counter.state.watermark
        if not (self.enabled and self.loaded) or not math.isfinite(at):
            return []  # no frame of these cameras yet
        out = []
        for zone in self.counter.zones:
            n = self.counter.persons(zone, at)
            out.append(LiveZone(zone.store_id, zone.zone_id, zone.kind, "unknown" if n is None else "ok", at, n))
        return out

    def save(self) -> None:
        if self.enabled and self.loaded:
            self.redis.set(self.key, self.counter.state_json())

    def forget(self) -> None:
        """Partitions revoked: the next owner loads the saved state."""
        if self.enabled:
            self.counter = MultiZoneCounter(self.config)
            self.loaded = False
