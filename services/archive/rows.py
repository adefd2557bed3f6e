"""Pure conversion of the protobuf contracts into archive rows (no database here).

Optional ZoneStats fields that are absent become None (SQL NULL): unknown is never stored as 0.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable

from storesight.contracts import AlertEvent, StoreStats, ZoneStats, from_timestamp

ZONE_STATS_COLUMNS: tuple[str, ...] = (
    "store_id", "zone_id", "window_start", "window_end", "zone_kind", "status", "coverage",
    "occupancy_avg", "occupancy_min", "occupancy_max", "entries", "exits", "unique_tracks",
    "dwell_p50_s", "dwell_p90_s", "dwell_max_s", "queue_length", "wait_estimate_s", "wait_measured_s",
    "throughput_per_min", "late_records", "attributes",
)
KEY_COLUMNS: tuple[str, ...] = ("store_id", "zone_id", "window_start")
_OPTIONAL = ZONE_STATS_COLUMNS[7:20]
_STATUS = {ZoneStats.STATUS_OK: "ok", ZoneStats.STATUS_PARTIAL: "partial", ZoneStats.STATUS_UNKNOWN: "unknown"}

STORE_STATS_COLUMNS: tuple[str, ...] = (
    "store_id", "window_start", "window_end", "local_date", "status", "coverage", "open", "entries", "exits",
    "occupancy", "footfall_day", "clamped", "reset", "drift", "late_rows",
)
_STORE_STATUS = {StoreStats.STATUS_OK: "ok", StoreStats.STATUS_PARTIAL: "partial",
                 StoreStats.STATUS_UNKNOWN: "unknown"}
_RESET = {StoreStats.RESET_NONE: "", StoreStats.RESET_UNSPECIFIED: "", StoreStats.RESET_OPENING: "opening",
          StoreStats.RESET_CLOSING: "closing", StoreStats.RESET_RECONCILED: "reconciled"}

ALERT_COLUMNS: tuple[str, ...] = (
    "event_id", "incident_id", "rule_id", "store_id", "zone_id", "camera_id", "metric", "from_state",
    "to_state", "action", "value", "threshold", "severity", "at", "since", "deliveries",
)


def zone_stats_row(msg: ZoneStats) -> tuple:
    """One zone_stats row, in ZONE_STATS_COLUMNS order."""
    values = {
        "store_id": msg.store_id,
        "zone_id": msg.zone_id,
        "window_start": from_timestamp(msg.window_start),
        "window_end": from_timestamp(msg.window_end),
        "zone_kind": msg.zone_kind,
        "status": _STATUS[msg.status],
        "coverage": round(float(msg.coverage), 6),
        "late_records": msg.late_records,
        "attributes": _attributes_json(msg),
    }
    for name in _OPTIONAL:
        values[name] = getattr(msg, name) if msg.HasField(name) else None
    if msg.status == ZoneStats.STATUS_UNKNOWN:
        # No camera sent data: whatever a producer put in the measured fields is not a measurement.
        values.update(dict.fromkeys(_OPTIONAL))
    return tuple(values[c] for c in ZONE_STATS_COLUMNS)


def store_stats_row(msg: StoreStats) -> tuple:
    """One store_stats row, in STORE_STATS_COLUMNS order; a bad local_date is a ValueError."""
    return (msg.store_id, from_timestamp(msg.window_start), from_timestamp(msg.window_end),
            dt.date.fromisoformat(msg.local_date), _STORE_STATUS[msg.status], round(float(msg.coverage), 6),
            msg.open, msg.entries, msg.exits, msg.occupancy, msg.footfall_day, msg.clamped,
            _RESET.get(msg.reset, ""), msg.drift, msg.late_rows)


def _attributes_json(msg: ZoneStats) -> str | None:
    if not msg.attributes:
        return None
    return json.dumps([
        {
            "zone_id": a.zone_id,
            "distinct_tracks": a.distinct_tracks,
            "expressions": dict(sorted(a.expressions.items())),
            "age_bands": dict(sorted(a.age_bands.items())),
            "genders": dict(sorted(a.genders.items())),
        }
        for a in msg.attributes
    ], sort_keys=True)


def last_per_key(rows: Iterable[tuple], key_len: int = 3) -> list[tuple]:
    """Keep the last row per key (a batch may hold a duplicate; one upsert may touch a row once)."""
    latest: dict[tuple, tuple] = {}
    for row in rows:
        latest[row[:key_len]] = row
    return list(latest.values())


def _state(value: int) -> str:
    return AlertEvent.State.Name(value).removeprefix("STATE_").lower()


def alert_row(msg: AlertEvent) -> tuple:
    """One alert_events row, in ALERT_COLUMNS order. Recipients are already masked by alerts."""
    at = from_timestamp(msg.at)
    # Producers set event_id; without one, the transition itself identifies the event.
    event_id = msg.event_id or f"{msg.incident_id}:{_state(msg.to_state)}:{msg.action}:{at.isoformat()}"
    deliveries = [
        {
            "channel": d.channel,
            "recipient": d.recipient,
            "status": d.Status.Name(d.status).removeprefix("STATUS_").lower(),
            "provider_id": d.provider_id,
            "error": d.error,
            "attempts": d.attempts,
            "at": from_timestamp(d.at).isoformat() if d.HasField("at") else None,
        }
        for d in msg.deliveries
    ]
    since: dt.datetime | None = from_timestamp(msg.since) if msg.HasField("since") else None
    return (event_id, msg.incident_id, msg.rule_id, msg.store_id, msg.zone_id, msg.camera_id, msg.metric,
            _state(msg.from_state), _state(msg.to_state), msg.action, msg.value, msg.threshold, msg.severity,
            at, since, json.dumps(deliveries, sort_keys=True))
