"""Which service reads and writes which topic, in which consumer group: the least-privilege table.

The Kafka ACLs of each service's user (``deploy/strimzi.py`` renders them as Strimzi KafkaUsers)
come from here, and a test keeps it equal to what the services' code uses. Only detect reads the
frames topic, the one topic with pictures of shoppers.

>>> [s.name for s in SERVICES if FRAMES in s.reads]
['detect']
>>> sorted(t.name for t in ACCESS["ingest"].writes_with_dlqs())
['storesight.camera-health', 'storesight.frames']
"""

from __future__ import annotations

from dataclasses import dataclass

from storesight.topics import (
    ALERTS,
    BY_NAME,
    CAMERA_HEALTH,
    DETECTIONS,
    FRAMES,
    STORE_STATS,
    ZONE_STATS,
    Topic,
)


@dataclass(frozen=True)
class ServiceAccess:
    name: str
    reads: tuple[Topic, ...] = ()
    writes: tuple[Topic, ...] = ()
    group: str | None = None

    @property
    def user(self) -> str:
        """The Kafka user (and Kubernetes Secret) of the service."""
        return f"storesight-{self.name}"

    def writes_with_dlqs(self) -> tuple[Topic, ...]:
        """What it writes, plus the dead-letter twin of each topic it reads (bad input goes there)."""
        return self.writes + tuple(BY_NAME[t.dlq] for t in self.reads)


SERVICES: tuple[ServiceAccess, ...] = (
    ServiceAccess("ingest", writes=(FRAMES, CAMERA_HEALTH)),
    ServiceAccess("detect", reads=(FRAMES,), writes=(DETECTIONS,), group="storesight-detect"),
    ServiceAccess("aggregate", reads=(DETECTIONS, CAMERA_HEALTH), writes=(ZONE_STATS, STORE_STATS),
                  group="storesight-aggregate"),
    ServiceAccess("alerts", reads=(ZONE_STATS, CAMERA_HEALTH, STORE_STATS), writes=(ALERTS,), group="storesight-alerts"),
    ServiceAccess("archive", reads=(ZONE_STATS, ALERTS, STORE_STATS), group="storesight-archive"),
    # The console shows open incidents (reads the whole topic at each start, never commits).
    ServiceAccess("console", reads=(ALERTS,), group="storesight-console"),
)
ACCESS: dict[str, ServiceAccess] = {s.name: s for s in SERVICES}
