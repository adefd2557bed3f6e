"""The Grafana "Store history" dashboard as code, on the archive's PostgreSQL views.

``python -m services.archive.dashboard`` writes deploy/grafana/dashboards/store-history.json;
``--check`` fails when the committed file differs. Every panel's SQL is run against the real
PostgreSQL in tests/integration/test_archive_dashboard.py (Grafana macros substituted).
Queries name the default ``storesight`` schema; the datasource is provisioned by
deploy/grafana/provisioning/datasources/postgres.yaml (uid ``storesight-archive``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "dashboards" / "store-history.json"
DATASOURCE = {"type": "postgres", "uid": "storesight-archive"}
S = "storesight."
# Grafana expands $__timeFrom()/$__timeTo() to quoted UTC timestamps; local dates of the store:
LOCAL_FROM = f"(($__timeFrom())::timestamptz AT TIME ZONE (SELECT timezone FROM {S}stores WHERE id = '$store'))::date"
LOCAL_TO = f"(($__timeTo())::timestamptz AT TIME ZONE (SELECT timezone FROM {S}stores WHERE id = '$store'))::date + 1"
IN_RANGE = "hour_start >= $__timeFrom()::timestamptz AND hour_start < $__timeTo()::timestamptz"

# (title, kind, unit, SQL, format, description, (x, y, w, h))
PANELS: list[tuple[str, str, str, str, str, str, tuple[int, int, int, int]]] = [
    ("Visitors per hour", "timeseries", "none",
     f"SELECT hour_start AS time, visitors FROM {S}store_hourly WHERE store_id = '$store' AND {IN_RANGE} ORDER BY 1",
     "time_series", "Entries at entrance zones per store-local hour. Gaps are unknown hours, not zero.",
     (0, 0, 12, 8)),
    ("Conversion rate per hour", "timeseries", "percentunit",
     f"SELECT hour_start AS time, conversion_rate, transactions FROM {S}store_hourly "
     f"WHERE store_id = '$store' AND {IN_RANGE} ORDER BY 1",
     "time_series", "Till transactions / visitors; empty where visitors are unknown or zero.", (12, 0, 12, 8)),
    ("Queue wait per hour", "timeseries", "s",
     f"SELECT hour_start AS time, zone_id AS metric, wait_measured_avg_s FROM {S}zone_hourly_local "
     f"WHERE store_id = '$store' AND zone_kind = 'queue' AND {IN_RANGE} ORDER BY 1",
     "time_series", "Mean measured wait of tracks that completed each queue.", (0, 8, 12, 8)),
    ("Occupancy per zone (hourly mean)", "timeseries", "none",
     f"SELECT hour_start AS time, zone_id AS metric, occupancy_avg FROM {S}zone_hourly_local "
     f"WHERE store_id = '$store' AND {IN_RANGE} AND occupancy_avg IS NOT NULL ORDER BY 1",
     "time_series", "", (12, 8, 12, 8)),
    ("Daily visitors, transactions, conversion", "table", "none",
     f"SELECT local_date, visitors, transactions, round(conversion_rate::numeric, 4) AS conversion_rate "
     f"FROM {S}store_daily WHERE store_id = '$store' AND local_date >= {LOCAL_FROM} AND local_date < {LOCAL_TO} "
     "ORDER BY local_date",
     "table", "Store-local days.", (0, 16, 12, 9)),
    ("Weekday x hour: mean visitors (staffing)", "table", "none",
     "SELECT hour_of_day, "
     + ", ".join(f"round(avg(visitors_avg) FILTER (WHERE weekday = {d})::numeric, 1) AS {name}"
                 for d, name in enumerate(("mon", "tue", "wed", "thu", "fri", "sat", "sun"), start=1))
     + f" FROM {S}store_weekday_hour({LOCAL_FROM}, {LOCAL_TO}) WHERE store_id = '$store' "
       "GROUP BY hour_of_day ORDER BY hour_of_day",
     "table", "Mean visitors per store-local hour over the dashboard's time range.", (12, 16, 12, 9)),
    ("This period vs a year earlier", "table", "none",
     f"SELECT visitors, visitors_prev, round(visitors_change::numeric, 3) AS visitors_change, transactions, "
     f"transactions_prev, round(conversion_rate::numeric, 4) AS conversion_rate, "
     f"round(conversion_rate_prev::numeric, 4) AS conversion_rate_prev "
     f"FROM {S}compare_periods({LOCAL_FROM}, {LOCAL_TO}, ({LOCAL_FROM} - interval '1 year')::date, "
     f"({LOCAL_TO} - interval '1 year')::date) WHERE store_id = '$store'",
     "table", "Same store-local dates one year before.", (0, 25, 12, 5)),
    ("Store ranking in the region", "table", "none",
     f"SELECT store_id, visitors, visitors_rank, round(conversion_rate::numeric, 4) AS conversion_rate, "
     f"conversion_rank FROM {S}store_ranking((SELECT region FROM {S}stores WHERE id = '$store'), "
     f"{LOCAL_FROM}, {LOCAL_TO}) ORDER BY visitors_rank",
     "table", "", (12, 25, 12, 5)),
    ("Alert transitions", "table", "none",
     f"SELECT at AS time, rule_id, zone_id, metric, from_state, to_state, action, value, severity "
     f"FROM {S}alert_events WHERE store_id = '$store' AND at >= $__timeFrom()::timestamptz "
     "AND at < $__timeTo()::timestamptz ORDER BY at DESC",
     "table", "The incident audit trail from the alerts topic.", (0, 30, 24, 8)),
]


def panel_json(index: int, panel: tuple) -> dict:
    title, kind, unit, query, fmt, description, (x, y, w, h) = panel
    return {
        "id": index + 1,
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {},
        "targets": [{"datasource": DATASOURCE, "refId": "A", "rawQuery": True, "editorMode": "code",
                     "format": fmt, "rawSql": query}],
    }


def dashboard() -> dict:
    return {
        "uid": "storesight-store-history",
        "title": "Store history",
        "description": "A store's archived history from PostgreSQL: visits, conversion, queues, "
                       "weekday x hour pattern, period comparison, regional ranking, alerts.",
        "tags": ["storesight", "history"],
        "editable": True,
        "schemaVersion": 39,
        "time": {"from": "now-30d", "to": "now"},
        "timezone": "browser",
        "refresh": "",
        "annotations": {"list": []},
        "templating": {"list": [{
            "name": "store", "label": "Store", "type": "query", "datasource": DATASOURCE,
            "query": f"SELECT id FROM {S}stores ORDER BY id", "definition": f"SELECT id FROM {S}stores ORDER BY id",
            "refresh": 1, "current": {}, "options": [], "includeAll": False, "multi": False,
        }]},
        "panels": [panel_json(i, p) for i, p in enumerate(PANELS)],
    }


def render() -> str:
    return json.dumps(dashboard(), indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.archive.dashboard")
    parser.add_argument("--check", action="store_true", help="fail if the committed JSON is stale")
    args = parser.parse_args(argv)
    if args.check:
        if not OUT.exists() or OUT.read_text() != render():
            print(f"{OUT} is stale: run python -m services.archive.dashboard", file=sys.stderr)
            return 1
        return 0
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(render())
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
