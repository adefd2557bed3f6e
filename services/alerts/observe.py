"""What a rule measures in one input record; ``None`` means unknown, never zero."""

from __future__ import annotations

from dataclasses import dataclass

from storesight.config import STORE_METRICS, Metric, Rule, Store
from storesight.contracts import CameraHealth, StoreStats, ZoneStats, seconds

STORE_SCOPE = "store"


@dataclass(frozen=True)
class Observation:
    """One rule's view of one record: the scope it is about, its event-time window and value."""

    scope: str  # zone id, camera id for camera_down, STORE_SCOPE for the store as a whole
    window_start: float  # epoch seconds, event time
    at: float  # epoch seconds, event time (window end / report time)
    value: float | None  # None = unknown


def _optional(msg: ZoneStats, field: str) -> float | None:
    return float(getattr(msg, field)) if msg.HasField(field) else None


def zone_value(rule: Rule, store: Store, msg: ZoneStats) -> float | None:
    """The rule's metric in a closed window, or None when the window does not know it.

    occupancy is the window's average occupancy; wait_seconds prefers the measured wait of
    tracks that completed the queue and falls back to the Little's-law estimate.
    """
    if msg.status == ZoneStats.STATUS_UNKNOWN:
        return None
    metric = rule.metric
    if metric is Metric.queue_length:
        return _optional(msg, "queue_length")
    if metric is Metric.wait_seconds:
        measured = _optional(msg, "wait_measured_s")
        return measured if measured is not None else _optional(msg, "wait_estimate_s")
    if metric is Metric.occupancy:
        return _optional(msg, "occupancy_avg")
    if metric is Metric.occupancy_pct:
        zone = store.zone(msg.zone_id)
        occupancy = _optional(msg, "occupancy_avg")
        if occupancy is None or zone is None or not zone.capacity:
            return None
        return 100.0 * occupancy / zone.capacity
    if metric is Metric.entries:
        return _optional(msg, "entries")
    return None


def observe_zone(rule: Rule, store: Store, msg: ZoneStats) -> Observation | None:
    """Observation for a zone rule, or None when the record is not for this rule.

    Live records (``live=true``) are ignored: they are per-frame snapshots without coverage,
    while the ``for`` duration and hysteresis are defined over closed event-time windows.
    """
    if msg.live or rule.metric is Metric.camera_down or rule.zone != msg.zone_id:
        return None
    return Observation(msg.zone_id, seconds(msg.window_start), seconds(msg.window_end),
                       zone_value(rule, store, msg))


def observe_camera(rule: Rule, msg: CameraHealth) -> Observation | None:
    """camera_down: 1 while the camera is down, 0 while up (compared with the rule's threshold)."""
    if rule.metric is not Metric.camera_down or (rule.camera is not None and rule.camera != msg.camera_id):
        return None
    at = seconds(msg.report_time)
    down = 1.0 if msg.status == CameraHealth.STATUS_DOWN else 0.0
    return Observation(msg.camera_id, at, at, down)


def observe_store(rule: Rule, msg: StoreStats) -> Observation | None:
    """store_occupancy: persons inside at the window end; footfall: entries in the window (store-wide).

    Unknown when no entrance camera delivered in the window: never a 0 that would resolve a capacity alert.
    """
    if rule.metric not in STORE_METRICS:
        return None
    value = None
    if msg.status != StoreStats.STATUS_UNKNOWN:
        value = float(msg.occupancy if rule.metric is Metric.store_occupancy else msg.entries)
    return Observation(STORE_SCOPE, seconds(msg.window_start), seconds(msg.window_end), value)
