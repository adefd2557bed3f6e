"""Grafana dashboards as code: ``python -m deploy.grafana.generate`` writes dashboards/*.json.

Plain dashboard JSON (schema 39, Grafana 10/11) built from small helpers, so a panel is
one line: title, PromQL, unit. ``--check`` fails when the committed JSON differs from what
this file generates. Every query uses only the agreed metric names (deploy/metrics.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

DASHBOARD_DIR = Path(__file__).parent / "dashboards"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
RATE = "$__rate_interval"
STORE = 'store="$store"'


def _target(expr: str, legend: str, ref: str) -> dict:
    return {"datasource": DATASOURCE, "expr": expr, "legendFormat": legend, "refId": ref, "range": True}


def _panel(kind: str, title: str, queries: list[tuple[str, str]], unit: str, grid: tuple[int, int, int, int],
           description: str = "", **extra) -> dict:
    x, y, w, h = grid
    panel = {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [_target(expr, legend, chr(ord("A") + i)) for i, (expr, legend) in enumerate(queries)],
    }
    for key, value in extra.items():
        if key == "mappings":
            panel["fieldConfig"]["defaults"]["mappings"] = value
        else:
            panel[key] = value
    return panel


def timeseries(title, queries, unit, grid, description=""):
    return _panel("timeseries", title, queries, unit, grid, description)


def stat(title, queries, unit, grid, description="", mappings=None):
    extra = {"options": {"reduceOptions": {"calcs": ["lastNotNull"]}, "colorMode": "background"}}
    if mappings:
        extra["mappings"] = mappings
    return _panel("stat", title, queries, unit, grid, description, **extra)


def bars(title, queries, unit, grid, description=""):
    """Horizontal bars of each series' latest value (a distribution now, rather than a trend)."""
    extra = {"options": {"reduceOptions": {"calcs": ["lastNotNull"]}, "orientation": "horizontal",
                         "displayMode": "gradient", "showUnfilled": True}}
    return _panel("bargauge", title, queries, unit, grid, description, **extra)


def share(metric: str) -> str:
    """Each label's share of its zone's tracks: the series over their per-zone sum."""
    selected = f"{metric}{{{STORE}}}"
    return f"{selected} / on (store, zone) group_left sum by (store, zone) ({selected})"


SENTIMENT_NOTE = ("Opt-in (docs/privacy.md): only zones of cameras with attributes enabled, and only windows "
                  "where at least k shoppers were classified; empty otherwise (never 0). Last closed window.")


def _value_map(names: dict[str, tuple[str, str]]) -> list[dict]:
    """Value -> (text, colour) mapping for 0/1 state gauges."""
    return [{"type": "value",
             "options": {value: {"text": text, "color": colour, "index": i}
                         for i, (value, (text, colour)) in enumerate(names.items())}}]


def _datasource_variable() -> dict:
    return {"name": "datasource", "label": "Prometheus", "type": "datasource", "query": "prometheus",
            "current": {}, "hide": 0}


def _dashboard(uid: str, title: str, panels: list[dict], variables: list[dict], description: str) -> dict:
    for i, panel in enumerate(panels, start=1):
        panel["id"] = i
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["storesight"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "10s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": [_datasource_variable(), *variables]},
        "annotations": {"list": []},
        "panels": panels,
    }


def store_live() -> dict:
    store_variable = {
        "name": "store", "label": "Store", "type": "query", "datasource": DATASOURCE,
        "query": {"query": "label_values(storesight_zone_known, store)", "refId": "store"},
        "definition": "label_values(storesight_zone_known, store)",
        "refresh": 2, "sort": 1, "current": {}, "hide": 0,
    }
    up_map = _value_map({"1": ("up", "green"), "0": ("DOWN", "red")})
    known_map = _value_map({"1": ("known", "green"), "0": ("UNKNOWN", "orange")})
    panels = [
        stat("Camera status", [(f"storesight_camera_up{{{STORE}}}", "{{camera}}")], "none", (0, 0, 12, 4),
             "Whether aggregate hears from each camera. A down camera makes its zones unknown.", up_map),
        stat("Zone data", [(f"storesight_zone_known{{{STORE}}}", "{{zone}}")], "none", (12, 0, 8, 4),
             "Unknown is not zero: an unknown zone has no recent data and shows no count.", known_map),
        stat("Open incidents", [('sum(storesight_alerts_incidents{state="firing"})', "firing")], "none",
             (20, 0, 4, 4), "Incidents firing now, all stores of the region."),
        timeseries("Occupancy per zone", [(f"storesight_zone_occupancy{{{STORE}}}", "{{zone}}")], "none",
                   (0, 4, 12, 8), "People in each zone. Gaps are unknown (camera down), not empty."),
        timeseries("Entries per hour", [
            (f"sum by (line) (increase(storesight_zone_entries_total{{{STORE}}}[1h]))", "in {{line}}"),
            (f"sum by (line) (increase(storesight_zone_exits_total{{{STORE}}}[1h]))", "out {{line}}"),
        ], "none", (12, 4, 12, 8), "People crossing each counting line in the last hour."),
        timeseries("Queue length", [(f"storesight_zone_queue_length{{{STORE}}}", "{{zone}}")], "none",
                   (0, 12, 12, 8), "People waiting in each queue zone."),
        timeseries("Estimated wait", [(f"storesight_zone_wait_seconds{{{STORE}}}", "{{zone}}")], "s",
                   (12, 12, 12, 8), "Expected wait at the back of each queue."),
        timeseries("Expression share per zone", [(share("storesight_zone_expression_tracks"),
                                                  "{{zone}} {{expression}}")], "percentunit", (0, 20, 12, 8),
                   "Share of shoppers per facial expression, per zone and window. " + SENTIMENT_NOTE),
        bars("Age bands per zone", [(f"storesight_zone_age_band_tracks{{{STORE}}}", "{{zone}} {{band}}")], "none",
             (12, 20, 6, 8), "Shoppers per estimated age band (rough: see docs/privacy.md). " + SENTIMENT_NOTE),
        bars("Gender share per zone", [(share("storesight_zone_gender_tracks"), "{{zone}} {{gender}}")],
             "percentunit", (18, 20, 6, 8),
             "Share of a binary model output, not anyone's gender. " + SENTIMENT_NOTE),
        *store_traffic(28),
    ]
    return _dashboard("storesight-store-live", "StoreSight / Store live", panels, [store_variable],
                      "One store now: people per zone, queues, entries, cameras, open incidents and (opt-in) sentiment.")


STORE_NOTE = ("The store as a whole, from the crossings of its entrance lines (config: store 'entrances'), per "
              "closed window; empty for stores without entrances and while no door camera delivers (never 0).")


def store_traffic(y: int) -> list[dict]:
    """Store occupancy and footfall panels (stores with entrances), from row ``y`` down."""
    return [
        timeseries("Store occupancy", [(f"storesight_store_occupancy{{{STORE}}}", "inside")], "none", (0, y, 12, 8),
                   "People in the store: entries - exits since opening, never below 0, reset at opening and "
                   "closing. " + STORE_NOTE),
        stat("Footfall today", [(f"storesight_store_footfall_today{{{STORE}}}", "today")], "none", (12, y, 4, 8),
             "Entries through the store's doors since midnight, store-local time. " + STORE_NOTE),
        timeseries("Footfall per hour", [
            (f"sum(increase(storesight_store_footfall_total{{{STORE}}}[1h]))", "entries"),
        ], "none", (16, y, 8, 8), "Entries through the store's doors in the last hour. " + STORE_NOTE),
        timeseries("Staff found per hour", [
            (f"sum(increase(storesight_store_staff_tracks_total{{{STORE}}}[1h]))", "staff tracks"),
        ], "none", (16, y + 8, 8, 6), "Tracks the staff rule took out of the customer numbers in the last hour."),
        stat("Staff present", [(f"storesight_store_staff{{{STORE}}}", "staff")], "none", (12, y + 8, 4, 6),
             "Staff seen now (staff-only zone rule: config staff_share): left out of every customer number "
             "above. Overlapping cameras may see one person twice. Empty for stores without the rule."),
        timeseries("Occupancy drift corrected per day", [
            (f"sum(increase(storesight_store_occupancy_clamped_total{{{STORE}}}[1d]))", "clamped at 0"),
            (f"sum by (reset) (increase(storesight_store_occupancy_drift_total{{{STORE}}}[1d]))", "reset {{reset}}"),
        ], "none", (0, y + 8, 12, 6),
            "Persons the door counts lost or gained: exits without entries (clamped at 0) and those still "
            "counted inside at a reset. A rising line means a door camera misses crossings."),
    ]


def operations() -> dict:
    panels = [
        timeseries("Frames per second per camera", [
            (f"sum by (camera) (rate(storesight_ingest_frames_captured_total[{RATE}]))", "captured {{camera}}"),
            (f"sum by (camera) (rate(storesight_ingest_frames_published_total[{RATE}]))", "published {{camera}}"),
            (f"sum by (camera) (rate(storesight_detect_frames_total[{RATE}]))", "detected {{camera}}"),
        ], "fps", (0, 0, 12, 8), "Captured by ingest, published after the motion gate, and through detect."),
        stat("Cameras up (ingest)", [("storesight_ingest_camera_up", "{{camera}}")], "none", (12, 0, 6, 8),
             "1 while ingest receives frames from the camera.",
             _value_map({"1": ("up", "green"), "0": ("DOWN", "red")})),
        timeseries("Last frame age", [("storesight_ingest_last_frame_age_seconds", "{{camera}}")], "s",
                   (18, 0, 6, 8), "Seconds since each camera's last frame."),
        timeseries("Inference latency", [
            (f"histogram_quantile(0.5, sum by (le) (rate(storesight_detect_inference_seconds_bucket[{RATE}])))",
             "p50"),
            (f"histogram_quantile(0.95, sum by (le) (rate(storesight_detect_inference_seconds_bucket[{RATE}])))",
             "p95"),
        ], "s", (0, 8, 12, 8), "Model time per batch."),
        timeseries("Capture to detections", [
            (f"histogram_quantile(0.5, sum by (le) (rate(storesight_detect_lag_seconds_bucket[{RATE}])))", "p50"),
            (f"histogram_quantile(0.95, sum by (le) (rate(storesight_detect_lag_seconds_bucket[{RATE}])))", "p95"),
            (f"histogram_quantile(0.95, sum by (le) (rate(storesight_ingest_encode_seconds_bucket[{RATE}])))",
             "ingest encode p95"),
        ], "s", (12, 8, 12, 8), "End-to-end latency from a frame's capture to its detections on Kafka."),
        timeseries("Consumer lag", [("sum by (group, topic) (storesight_consumer_lag_messages)", "{{group}} {{topic}}")],
                   "none", (0, 16, 12, 8), "Messages each consumer group is behind, per topic."),
        timeseries("Messages per second", [
            (f"sum by (topic) (rate(storesight_produced_messages_total[{RATE}]))", "produced {{topic}}"),
            (f"sum by (topic) (rate(storesight_consumed_messages_total[{RATE}]))", "consumed {{topic}}"),
            (f"sum(rate(storesight_aggregate_records_total[{RATE}]))", "aggregate records"),
        ], "ops", (12, 16, 12, 8)),
        timeseries("Drops", [
            (f"sum by (camera) (rate(storesight_ingest_frames_dropped_total[{RATE}]))", "ingest {{camera}}"),
            (f"sum by (camera) (rate(storesight_ingest_frames_skipped_motion_total[{RATE}]))",
             "no motion {{camera}}"),
            (f"sum by (reason) (rate(storesight_detect_frames_dropped_total[{RATE}]))", "detect {{reason}}"),
            (f"sum by (store) (rate(storesight_aggregate_late_records_total[{RATE}]))", "late {{store}}"),
            (f"sum by (camera) (rate(storesight_ingest_reconnects_total[{RATE}]))", "reconnects {{camera}}"),
        ], "ops", (0, 24, 12, 8), "Frames not analysed (and why), late records, camera reconnects."),
        timeseries("Dead-letter queues", [
            (f"sum by (topic) (rate(storesight_dlq_messages_total[{RATE}]))", "{{topic}}"),
            (f"sum by (channel) (rate(storesight_alerts_dlq_total[{RATE}]))", "alerts {{channel}}"),
        ], "ops", (12, 24, 12, 8), "Undecodable messages, and notifications that gave up."),
        timeseries("Alert deliveries", [
            (f"sum by (channel, status) (rate(storesight_alerts_notifications_total[{RATE}]))",
             "{{channel}} {{status}}"),
            (f'sum by (channel) (rate(storesight_alerts_notifications_total{{status="failed"}}[{RATE}]))',
             "failed {{channel}}"),
        ], "ops", (0, 32, 12, 8), "Notifications sent and failed, per channel."),
        timeseries("Delivery time", [
            (f"histogram_quantile(0.95, sum by (le, channel) (rate(storesight_alerts_delivery_seconds_bucket[{RATE}])))",
             "p95 {{channel}}"),
        ], "s", (12, 32, 12, 8), "From incident transition to the gateway accepting the message."),
        timeseries("Effective detection rate", [
            ("storesight_detect_effective_fps", "{{camera}}"),
            ("storesight_detect_effective_fps_floor", "floor {{camera}}"),
            (f"sum by (camera, reason) (rate(storesight_detect_frames_skipped_total[{RATE}]))",
             "skipped {{camera}} {{reason}}"),
        ], "fps", (12, 40, 12, 8), "Frames a second detect runs per camera (below the camera's rate when it "
           "sheds load: each camera's newest frame wins), its alert floor, and frames skipped."),
        timeseries("Batch size", [
            (f"sum(rate(storesight_detect_batch_size_sum[{RATE}])) / sum(rate(storesight_detect_batch_size_count[{RATE}]))",
             "mean frames per batch"),
        ], "none", (0, 40, 12, 8), "How many frames (across cameras) one inference batch carries."),
    ]
    return _dashboard("storesight-operations", "StoreSight / Operations", panels, [],
                      "Pipeline health: frame rates, inference, lag, drops, DLQs, alert delivery.")


DASHBOARDS = {"store-live.json": store_live, "operations.json": operations}


def render_all() -> dict[str, str]:
    return {name: json.dumps(build(), indent=2, sort_keys=True) + "\n" for name, build in DASHBOARDS.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the committed JSON is stale")
    args = parser.parse_args(argv)
    stale = []
    for name, text in render_all().items():
        path = DASHBOARD_DIR / name
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
            print(f"wrote {path}")
    if stale:
        print(f"stale dashboards: {', '.join(stale)}: run python -m deploy.grafana.generate")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
