"""Protobuf messages <-> the core's plain records (the only module that knows both)."""

from __future__ import annotations

import datetime as dt
import hashlib
from functools import lru_cache

from services.aggregate.records import FrameRecord, HealthRecord, LiveZone, WindowStats
from services.aggregate.store_occupancy import StoreWindow
from storesight import attributes as wire
from storesight.contracts import CameraHealth, Detections, StoreStats, ZoneStats, seconds

_STATUS = {"OK": ZoneStats.STATUS_OK, "PARTIAL": ZoneStats.STATUS_PARTIAL, "UNKNOWN": ZoneStats.STATUS_UNKNOWN}
_OPTIONAL = ("occupancy_avg", "occupancy_min", "occupancy_max", "entries", "exits", "unique_tracks",
             "dwell_p50_s", "dwell_p90_s", "dwell_max_s", "queue_length", "wait_estimate_s",
             "wait_measured_s", "throughput_per_min")


@lru_cache(maxsize=1 << 16)
def track_key(epoch: str, track_id: int) -> int:
    """The core's track id for (tracker epoch, detector track id): the same pair gives the same key
    in every worker and after every restart (checkpoints hold it), different epochs give different
    keys, so two detect incarnations' track 1 are two people. 0 (untracked) stays 0; an empty
    epoch (an older producer) keeps the id. Hashed keys have bit 62 set, above any detector id.

    >>> track_key("", 7), track_key("a1", 0), track_key("a1", 1) == track_key("b2", 1)
    (7, 0, False)
    """
    if not epoch or track_id == 0:
        return track_id
    digest = hashlib.blake2b(f"{epoch}/{track_id}".encode(), digest_size=8).digest()
    return (1 << 62) | (int.from_bytes(digest, "big") & ((1 << 62) - 1))


def frame_from_proto(msg: Detections) -> FrameRecord:
    # One pass over the persons: every protobuf field access costs, at 20k+ frames/s it shows.
    track_ids, feet = [], []
    epoch = msg.tracker_epoch
    for person in msg.persons:
        track_ids.append(track_key(epoch, person.track_id) if epoch else person.track_id)
        foot = person.foot
        feet.append((foot.x, foot.y))
    groups = [wire.from_proto(g) for g in msg.attributes] if msg.attributes else []
    # proto3 has no "unset" for a float: detect's 0 (before its second frame of the camera) is unknown.
    return FrameRecord(msg.camera_id, seconds(msg.capture_time), track_ids, feet, msg.frame_seq, groups, epoch,
                       msg.effective_fps or None)


def health_from_proto(msg: CameraHealth) -> HealthRecord:
    return HealthRecord(msg.camera_id, seconds(msg.report_time), msg.status == CameraHealth.STATUS_UP)


def zone_stats_to_proto(stats: WindowStats) -> ZoneStats:
    msg = ZoneStats(store_id=stats.store_id, zone_id=stats.zone_id, zone_kind=stats.zone_kind,
                    live=stats.live, status=_STATUS[stats.status], coverage=stats.coverage,
                    late_records=stats.late_records)
    msg.window_start.FromNanoseconds(int(round(stats.window_start * 1e9)))
    msg.window_end.FromNanoseconds(int(round(stats.window_end * 1e9)))
    for name in _OPTIONAL:
        value = getattr(stats, name)
        if value is not None:  # absent means unknown: never write a 0 for "no data"
            setattr(msg, name, value)
    if stats.attributes is not None:
        msg.attributes.append(wire.to_proto(stats.attributes))
    return msg


def iso(t: float | None) -> str | None:
    return None if t is None else dt.datetime.fromtimestamp(t, dt.UTC).isoformat().replace("+00:00", "Z")


def live_to_json(zone: LiveZone, now: float) -> dict:
    """The Redis live value of one zone (JSON object); nulls are unknowns.

    Camera rows (``camera:<id>``) also carry ``effective_fps``: detect's processed rate, null = unknown.
    """
    value = {"zone_kind": zone.zone_kind, "status": zone.status, "occupancy": zone.occupancy,
             "queue_length": zone.queue_length, "wait_estimate_s": zone.wait_estimate_s,
             "capture_time": iso(zone.capture_s), "updated_at": iso(now)}
    if zone.zone_kind == "camera":
        value["effective_fps"] = None if zone.effective_fps is None else round(zone.effective_fps, 2)
    return value


# ---------------------------------------------------------------- the store as a whole

_STORE_STATUS = {"OK": StoreStats.STATUS_OK, "PARTIAL": StoreStats.STATUS_PARTIAL, "UNKNOWN": StoreStats.STATUS_UNKNOWN}
_RESET = {"": StoreStats.RESET_NONE, "opening": StoreStats.RESET_OPENING, "closing": StoreStats.RESET_CLOSING,
          "reconciled": StoreStats.RESET_RECONCILED}


def store_stats_to_proto(window: StoreWindow) -> StoreStats:
    msg = StoreStats(store_id=window.store_id, local_date=window.local_date, status=_STORE_STATUS[window.status],
                     coverage=window.coverage, open=window.open, entries=window.entries, exits=window.exits,
                     occupancy=window.occupancy, footfall_day=window.footfall_day, clamped=window.clamped,
                     reset=_RESET[window.reset], drift=window.drift, late_rows=window.late_rows)
    msg.window_start.FromNanoseconds(int(round(window.window_start * 1e9)))
    msg.window_end.FromNanoseconds(int(round(window.window_end * 1e9)))
    return msg


def store_live_to_json(window: StoreWindow, now: float) -> dict:
    """The Redis value of the store's latest closed window (JSON object); occupancy null when unknown."""
    known = window.status != "UNKNOWN"
    return {"status": window.status.lower(), "occupancy": window.occupancy if known else None,
            "footfall_today": window.footfall_day, "local_date": window.local_date, "open": window.open,
            "window_start": iso(window.window_start), "window_end": iso(window.window_end), "updated_at": iso(now)}
