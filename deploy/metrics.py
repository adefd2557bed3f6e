"""The Prometheus metrics the services agreed to export, by name and type.

Dashboards and rules may only use these (checked by ``make deploy-check``); the
integration test then checks that the running services really export them.
"""

from __future__ import annotations

import re

COUNTER, GAUGE, HISTOGRAM = "counter", "gauge", "histogram"

METRICS: dict[str, str] = {
    # ingest
    "storesight_ingest_frames_captured_total": COUNTER,
    "storesight_ingest_frames_published_total": COUNTER,
    "storesight_ingest_frames_skipped_motion_total": COUNTER,
    "storesight_ingest_frames_dropped_total": COUNTER,
    "storesight_ingest_reconnects_total": COUNTER,
    "storesight_ingest_last_frame_age_seconds": GAUGE,
    "storesight_ingest_camera_up": GAUGE,
    "storesight_ingest_encode_seconds": HISTOGRAM,
    # detect
    "storesight_detect_frames_total": COUNTER,
    "storesight_detect_frames_dropped_total": COUNTER,
    "storesight_detect_batch_size": HISTOGRAM,
    "storesight_detect_inference_seconds": HISTOGRAM,
    "storesight_detect_lag_seconds": HISTOGRAM,
    "storesight_detect_frames_skipped_total": COUNTER,
    "storesight_detect_effective_fps": GAUGE,
    "storesight_detect_effective_fps_floor": GAUGE,
    "storesight_detect_frame_gaps_total": COUNTER,
    "storesight_detect_backend_info": GAUGE,
    # aggregate
    "storesight_zone_occupancy": GAUGE,
    "storesight_zone_queue_length": GAUGE,
    "storesight_zone_wait_seconds": GAUGE,
    "storesight_zone_entries_total": COUNTER,
    "storesight_zone_exits_total": COUNTER,
    "storesight_zone_known": GAUGE,
    "storesight_camera_up": GAUGE,
    "storesight_aggregate_late_records_total": COUNTER,
    "storesight_aggregate_records_total": COUNTER,
    # aggregate, the store as a whole (stores with entrances)
    "storesight_store_occupancy": GAUGE,
    "storesight_store_footfall_total": COUNTER,
    "storesight_store_footfall_today": GAUGE,
    "storesight_store_occupancy_clamped_total": COUNTER,
    "storesight_store_occupancy_drift_total": COUNTER,
    "storesight_store_staff": GAUGE,
    "storesight_store_staff_tracks_total": COUNTER,
    # aggregate, opt-in sentiment (docs/privacy.md): labels from storesight/attributes.py
    "storesight_zone_expression_tracks": GAUGE,
    "storesight_zone_age_band_tracks": GAUGE,
    "storesight_zone_gender_tracks": GAUGE,
    # alerts
    "storesight_alerts_incidents": GAUGE,
    "storesight_alerts_notifications_total": COUNTER,
    "storesight_alerts_delivery_seconds": HISTOGRAM,
    "storesight_alerts_dlq_total": COUNTER,
    # bus (every service)
    "storesight_dlq_messages_total": COUNTER,
    "storesight_consumed_messages_total": COUNTER,
    "storesight_produced_messages_total": COUNTER,
    "storesight_consumer_lag_messages": GAUGE,
}

# Exported only for cameras whose store opted in to attributes, and only for windows with a
# k-anonymous group: a region without sentiment has no such series (and no data in those panels).
OPT_IN: frozenset[str] = frozenset({
    "storesight_zone_expression_tracks",
    "storesight_zone_age_band_tracks",
    "storesight_zone_gender_tracks",
})

# Which service exports which metrics (the bus metrics come from every service that uses the bus).
SERVICE_PREFIXES: dict[str, tuple[str, ...]] = {
    "ingest": ("storesight_ingest_",),
    "detect": ("storesight_detect_",),
    "aggregate": ("storesight_zone_", "storesight_camera_up", "storesight_aggregate_", "storesight_store_"),
    "alerts": ("storesight_alerts_",),
}

_NAME = re.compile(r"\bstoresight_[a-z0-9_]+\b")


def series_names() -> set[str]:
    """Every series name the metrics give (histograms as _bucket, _sum and _count)."""
    names: set[str] = set()
    for name, kind in METRICS.items():
        if kind == HISTOGRAM:
            names.update(f"{name}{suffix}" for suffix in ("_bucket", "_sum", "_count"))
        else:
            names.add(name)
    return names


def referenced_names(expr: str) -> set[str]:
    """The ``storesight_*`` series names an expression uses (recorded ``storesight:`` names excluded)."""
    return set(_NAME.findall(expr))


def unknown_names(expr: str) -> set[str]:
    return referenced_names(expr) - series_names()
