"""``storesight report``: one store's history as report.html with PNG charts, from the SQL views.

Dates are store-local calendar days, ``--from`` and ``--to`` both included. Unknown hours (no
entrance data) are gaps in the charts and "unknown" in the tables, never zeros.
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
from psycopg.rows import dict_row

WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass
class ReportData:
    store: dict
    first_day: dt.date
    last_day: dt.date
    hourly: list[dict] = field(default_factory=list)
    daily: list[dict] = field(default_factory=list)
    pattern: list[dict] = field(default_factory=list)
    queues: list[dict] = field(default_factory=list)
    alerts: list[dict] = field(default_factory=list)


def load(conn: psycopg.Connection, store_id: str, first_day: dt.date, last_day: dt.date) -> ReportData:
    """Everything the report shows, read from the views for [first_day, last_day] (local dates)."""
    end = last_day + dt.timedelta(days=1)
    cur = conn.cursor(row_factory=dict_row)
    store = cur.execute("SELECT * FROM stores WHERE id = %s", (store_id,)).fetchone()
    if store is None:
        raise KeyError(f"no store {store_id!r} in the archive (run 'storesight archive migrate --config ...')")
    data = ReportData(store, first_day, last_day)
    span = (store_id, first_day, end)
    data.hourly = cur.execute("""SELECT * FROM store_hourly WHERE store_id = %s
        AND local_date >= %s AND local_date < %s ORDER BY hour_start""", span).fetchall()
    data.daily = cur.execute("""SELECT * FROM store_daily WHERE store_id = %s
        AND local_date >= %s AND local_date < %s ORDER BY local_date""", span).fetchall()
    data.pattern = cur.execute("""SELECT * FROM store_weekday_hour(%s, %s) WHERE store_id = %s
        ORDER BY weekday, hour_of_day""", (first_day, end, store_id)).fetchall()
    data.queues = cur.execute("""SELECT zone_id, hour_start, local_hour, wait_measured_avg_s, wait_estimate_avg_s,
        queue_length_avg FROM zone_hourly_local WHERE store_id = %s AND zone_kind = 'queue'
        AND local_date >= %s AND local_date < %s ORDER BY zone_id, hour_start""", span).fetchall()
    data.alerts = cur.execute("""SELECT a.at AT TIME ZONE s.timezone AS local_at, a.rule_id, a.zone_id, a.metric,
        a.from_state, a.to_state, a.action, a.value, a.threshold, a.severity
        FROM alert_events a JOIN stores s ON s.id = a.store_id
        WHERE a.store_id = %s AND (a.at AT TIME ZONE s.timezone)::date >= %s
          AND (a.at AT TIME ZONE s.timezone)::date < %s ORDER BY a.at""", span).fetchall()
    return data


def _nan(value) -> float:
    return float("nan") if value is None else float(value)


def _with_gaps(times: list[dt.datetime], values: list[float]) -> tuple[list, list]:
    """Insert a NaN between points more than an hour apart, so a line never bridges missing hours."""
    xs, ys = [], []
    for i, (when, value) in enumerate(zip(times, values, strict=True)):
        if i and when - times[i - 1] > dt.timedelta(hours=1):
            xs.append(times[i - 1] + dt.timedelta(hours=1))
            ys.append(float("nan"))
        xs.append(when)
        ys.append(value)
    return xs, ys


def _charts(data: ReportData, out: Path) -> dict[str, str]:
    """Write the PNG charts; return title -> file name."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    charts: dict[str, str] = {}

    def save(fig, name: str, title: str) -> None:
        fig.tight_layout()
        fig.savefig(out / name, dpi=100)
        plt.close(fig)
        charts[title] = name

    from matplotlib.dates import DateFormatter

    local_time = DateFormatter("%Y-%m-%d %H:%M %Z", tz=ZoneInfo(data.store["timezone"]))

    fig, ax = plt.subplots(figsize=(10, 3.5))
    # Bars at the true instants: a DST fall-back day shows both 01:00 hours, unknown hours show nothing.
    ax.bar([r["hour_start"] for r in data.hourly], [_nan(r["visitors"]) for r in data.hourly],
           width=1 / 24, align="edge")
    ax.set_ylabel("visitors per hour")
    ax.set_title("Visits by hour (store-local time; no bar = unknown)")
    ax.xaxis.set_major_formatter(local_time)
    fig.autofmt_xdate()
    save(fig, "visits_by_hour.png", "Visits by hour")

    grid = np.full((7, 24), np.nan)
    for r in data.pattern:
        grid[r["weekday"] - 1, r["hour_of_day"]] = _nan(r["visitors_avg"])
    fig, ax = plt.subplots(figsize=(10, 3.5))
    image = ax.imshow(grid, aspect="auto", cmap="viridis")
    ax.set_yticks(range(7), WEEKDAY_NAMES)
    ax.set_xticks(range(24))
    ax.set_xlabel("hour of day (store-local)")
    ax.set_title("Mean visitors per hour, weekday x hour")
    fig.colorbar(image, ax=ax)
    save(fig, "weekday_hour.png", "Weekday x hour")

    fig, ax = plt.subplots(figsize=(10, 3.5))
    for zone in sorted({r["zone_id"] for r in data.queues}):
        rows = [r for r in data.queues if r["zone_id"] == zone]
        times = [r["hour_start"] for r in rows]
        ax.plot(*_with_gaps(times, [_nan(r["wait_measured_avg_s"]) for r in rows]), marker=".",
                label=f"{zone} measured")
        ax.plot(*_with_gaps(times, [_nan(r["wait_estimate_avg_s"]) for r in rows]), linestyle="--",
                label=f"{zone} estimate")
    if data.queues:
        ax.legend(loc="upper right", fontsize="small")
    ax.set_ylabel("wait (s)")
    ax.set_title("Queue waits by hour (store-local time)")
    ax.xaxis.set_major_formatter(local_time)
    fig.autofmt_xdate()
    save(fig, "queue_waits.png", "Queue waits")

    fig, ax = plt.subplots(figsize=(10, 3.5))
    days = [r["local_date"] for r in data.daily]
    ax.bar(days, [100 * _nan(r["conversion_rate"]) for r in data.daily])
    ax.set_ylabel("conversion (%)")
    ax.set_title("Conversion rate by day (transactions / visitors)")
    fig.autofmt_xdate()
    save(fig, "conversion_by_day.png", "Conversion rate")

    fig, ax = plt.subplots(figsize=(10, 3))
    firing = {}
    for a in data.alerts:
        if a["to_state"] == "firing":
            day = a["local_at"].date()
            firing[day] = firing.get(day, 0) + 1
    ax.bar(list(firing), list(firing.values()))
    ax.set_ylabel("incidents fired")
    ax.set_title("Alerts by day")
    fig.autofmt_xdate()
    save(fig, "alerts_by_day.png", "Alerts")
    return charts


def _fmt(value, pct: bool = False) -> str:
    if value is None:
        return "unknown"
    if pct:
        return f"{100 * float(value):.1f}%"
    if isinstance(value, float):
        return f"{value:.1f}"
    return html.escape(str(value))


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(data: ReportData, charts: dict[str, str]) -> str:
    store = data.store
    known = [r["visitors"] for r in data.daily if r["visitors"] is not None]
    visitors = sum(known) if known else None
    transactions = sum(r["transactions"] for r in data.daily)
    converted = sum(r["transactions"] for r in data.hourly if r["visitors"] is not None)
    conversion = converted / visitors if visitors else None
    summary = _table(["visitors", "transactions", "conversion", "alerts fired"], [[
        _fmt(visitors), _fmt(transactions), _fmt(conversion, pct=True),
        _fmt(sum(1 for a in data.alerts if a["to_state"] == "firing"))]])
    daily = _table(["date", "visitors", "transactions", "conversion", "mean queue wait (s)"], [
        [_fmt(r["local_date"]), _fmt(r["visitors"]), _fmt(r["transactions"]),
         _fmt(r["conversion_rate"], pct=True), _fmt(r["wait_measured_avg_s"])] for r in data.daily])
    grid = {(r["weekday"], r["hour_of_day"]): r["visitors_avg"] for r in data.pattern}
    used_hours = sorted({h for _, h in grid})
    heat = _table(["", *[f"{h:02d}" for h in used_hours]], [
        [WEEKDAY_NAMES[d - 1], *[_fmt(grid.get((d, h))) if (d, h) in grid else "" for h in used_hours]]
        for d in range(1, 8)])
    alerts = _table(["local time", "rule", "zone", "metric", "transition", "value", "severity"], [
        [_fmt(a["local_at"].strftime("%Y-%m-%d %H:%M")), _fmt(a["rule_id"]), _fmt(a["zone_id"]), _fmt(a["metric"]),
         html.escape(f"{a['from_state']} -> {a['to_state']} {a['action']}".strip()), _fmt(a["value"]),
         _fmt(a["severity"])] for a in data.alerts])
    images = "".join(f'<h2>{html.escape(t)}</h2><img src="{html.escape(n)}" alt="{html.escape(t)}">'
                     for t, n in charts.items())
    title = f"Store history: {store['name'] or store['id']}"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em}} table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:2px 6px;text-align:right}} img{{max-width:100%}}</style></head>
<body><h1>{html.escape(title)}</h1>
<p>Store <b>{html.escape(store['id'])}</b>, region {html.escape(store['region'])}, time zone
{html.escape(store['timezone'])}; {data.first_day} to {data.last_day} (store-local days, both included).
Visitors are entries counted at entrance zones; conversion is transactions / visitors over hours whose
visitors are known. "unknown" means no camera data, not zero.</p>
<h2>Summary</h2>{summary}
<h2>By day</h2>{daily}
<h2>Weekday x hour: mean visitors per hour</h2>{heat}
{images}
<h2>Alert transitions</h2>{alerts}
</body></html>
"""


def write_report(conn: psycopg.Connection, store_id: str, first_day: dt.date, last_day: dt.date,
                 out: str | Path) -> Path:
    """Write report.html and its PNG charts into ``out``; return the HTML path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    data = load(conn, store_id, first_day, last_day)
    charts = _charts(data, out)
    path = out / "report.html"
    path.write_text(render_html(data, charts), encoding="utf-8")
    return path
