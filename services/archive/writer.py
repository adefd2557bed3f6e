"""Idempotent writes: zone_stats upsert keyed by (store, zone, window_start), store_stats keyed by
(store, window_start), their hourly rollups, alerts.

A replay or a duplicate changes nothing: an upsert whose values equal the stored row is skipped
(``WHERE row IS DISTINCT FROM EXCLUDED``), so not even a new row version is written. A record
with the same key but other values (a corrected window) replaces the stored one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import psycopg
from psycopg import sql

from services.archive.rows import (
    ALERT_COLUMNS,
    KEY_COLUMNS,
    STORE_STATS_COLUMNS,
    ZONE_STATS_COLUMNS,
    last_per_key,
)
from services.archive.schema import ensure_partition, month_start

# SQL array types of the zone_stats columns, for one multi-row INSERT ... SELECT FROM unnest(...).
_ZONE_STATS_TYPES = {
    "store_id": "text", "zone_id": "text", "window_start": "timestamptz", "window_end": "timestamptz",
    "zone_kind": "text", "status": "text", "coverage": "real", "occupancy_avg": "real",
    "occupancy_min": "integer", "occupancy_max": "integer", "entries": "integer", "exits": "integer",
    "unique_tracks": "integer", "dwell_p50_s": "real", "dwell_p90_s": "real", "dwell_max_s": "real",
    "queue_length": "real", "wait_estimate_s": "real", "wait_measured_s": "real",
    "throughput_per_min": "real", "late_records": "integer", "attributes": "jsonb",
}

ROLLUP_COLUMNS: tuple[str, ...] = (
    "store_id", "zone_id", "hour_start", "local_hour", "zone_kind", "windows", "windows_known", "coverage_sum",
    "entries", "exits", "occupancy_sum", "occupancy_n", "occupancy_max", "queue_length_sum", "queue_length_n",
    "wait_measured_sum", "wait_measured_n", "wait_estimate_sum", "wait_estimate_n",
)
# Aggregates of one (store, zone, hour) from zone_stats rows z that carry z.hour_start and z.tz
# (the store's time zone); NULLs stay out. Group by ROLLUP_GROUP.
ROLLUP_SELECT = """
    z.store_id, z.zone_id, z.hour_start, z.hour_start AT TIME ZONE z.tz, max(z.zone_kind), count(*),
    count(*) FILTER (WHERE z.status <> 'unknown'), sum(z.coverage),
    sum(z.entries), sum(z.exits),
    sum(z.occupancy_avg), count(z.occupancy_avg), max(z.occupancy_max),
    sum(z.queue_length), count(z.queue_length),
    sum(z.wait_measured_s), count(z.wait_measured_s),
    sum(z.wait_estimate_s), count(z.wait_estimate_s)"""
ROLLUP_GROUP = "GROUP BY z.store_id, z.zone_id, z.hour_start, z.tz"


def _upsert_statement(table: str, columns: Sequence[str], types: dict[str, str] | None,
                      key: Sequence[str], select: sql.Composable | None = None) -> sql.Composed:
    updated = [c for c in columns if c not in key]
    ids = [sql.Identifier(c) for c in columns]
    if select is None:
        select = sql.SQL("SELECT * FROM unnest({})").format(
            sql.SQL(", ").join(sql.SQL("%s::{}[]").format(sql.SQL(types[c])) for c in columns))
    return sql.SQL("""INSERT INTO {table} ({columns}) {select}
        ON CONFLICT ({key}) DO UPDATE SET {sets}
        WHERE ({old}) IS DISTINCT FROM ({new})""").format(
        table=sql.Identifier(table),
        columns=sql.SQL(", ").join(ids),
        select=select,
        key=sql.SQL(", ").join(map(sql.Identifier, key)),
        sets=sql.SQL(", ").join(sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in updated),
        old=sql.SQL(", ").join(sql.SQL("{}.{}").format(sql.Identifier(table), sql.Identifier(c)) for c in updated),
        new=sql.SQL(", ").join(sql.SQL("EXCLUDED.{}").format(sql.Identifier(c)) for c in updated),
    )


UPSERT_ZONE_STATS = _upsert_statement("zone_stats", ZONE_STATS_COLUMNS, _ZONE_STATS_TYPES, KEY_COLUMNS)

REFRESH_ROLLUP = _upsert_statement("zone_hourly", ROLLUP_COLUMNS, None, ("store_id", "zone_id", "hour_start"),
    select=sql.SQL("""
    SELECT {select}
    FROM (SELECT DISTINCT b.store_id, b.zone_id, coalesce(s.timezone, 'UTC') AS tz,
                 date_trunc('hour', b.window_start, coalesce(s.timezone, 'UTC')) AS hour_start
          FROM unnest(%s::text[], %s::text[], %s::timestamptz[]) AS b(store_id, zone_id, window_start)
          LEFT JOIN stores s ON s.id = b.store_id) t
    CROSS JOIN LATERAL (
        SELECT zs.*, t.hour_start, t.tz FROM zone_stats zs
        WHERE zs.store_id = t.store_id AND zs.zone_id = t.zone_id
          AND zs.window_start >= t.hour_start AND zs.window_start < t.hour_start + interval '1 hour'
        -- OFFSET 0 keeps this a per-hour index lookup: flattened into a join, the planner may
        -- (with more work_mem) hash-join the batch against a whole year of minutes instead.
        OFFSET 0) z
    {group}""").format(select=sql.SQL(ROLLUP_SELECT), group=sql.SQL(ROLLUP_GROUP)))

# The store as a whole (migration 004): store_stats upsert by (store, window_start), hourly rollup.
_STORE_STATS_TYPES = {
    "store_id": "text", "window_start": "timestamptz", "window_end": "timestamptz", "local_date": "date",
    "status": "text", "coverage": "real", "open": "boolean", "entries": "integer", "exits": "integer",
    "occupancy": "integer", "footfall_day": "integer", "clamped": "integer", "reset": "text", "drift": "integer",
    "late_rows": "integer",
}
UPSERT_STORE_STATS = _upsert_statement("store_stats", STORE_STATS_COLUMNS, _STORE_STATS_TYPES,
                                       ("store_id", "window_start"))
STORE_ROLLUP_COLUMNS: tuple[str, ...] = (
    "store_id", "hour_start", "local_hour", "windows", "windows_known", "footfall", "exits", "occupancy_sum",
    "occupancy_n", "occupancy_max", "clamped", "drift",
)
# Aggregates of one (store, hour) from store_stats rows z that carry z.hour_start and z.tz; unknown
# windows count nothing (footfall NULL for an hour without a known window, never 0).
STORE_ROLLUP_SELECT = """
    z.store_id, z.hour_start, z.hour_start AT TIME ZONE z.tz, count(*),
    count(*) FILTER (WHERE z.status <> 'unknown'),
    sum(z.entries) FILTER (WHERE z.status <> 'unknown'), sum(z.exits) FILTER (WHERE z.status <> 'unknown'),
    sum(z.occupancy) FILTER (WHERE z.status <> 'unknown'), count(*) FILTER (WHERE z.status <> 'unknown'),
    max(z.occupancy) FILTER (WHERE z.status <> 'unknown'), sum(z.clamped), sum(z.drift)"""
STORE_ROLLUP_GROUP = "GROUP BY z.store_id, z.hour_start, z.tz"
REFRESH_STORE_ROLLUP = _upsert_statement("store_traffic_hourly", STORE_ROLLUP_COLUMNS, None,
                                         ("store_id", "hour_start"), select=sql.SQL("""
    SELECT {select}
    FROM (SELECT DISTINCT b.store_id, coalesce(s.timezone, 'UTC') AS tz,
                 date_trunc('hour', b.window_start, coalesce(s.timezone, 'UTC')) AS hour_start
          FROM unnest(%s::text[], %s::timestamptz[]) AS b(store_id, window_start)
          LEFT JOIN stores s ON s.id = b.store_id) t
    CROSS JOIN LATERAL (
        SELECT ss.*, t.hour_start, t.tz FROM store_stats ss
        WHERE ss.store_id = t.store_id
          AND ss.window_start >= t.hour_start AND ss.window_start < t.hour_start + interval '1 hour'
        OFFSET 0) z
    {group}""").format(select=sql.SQL(STORE_ROLLUP_SELECT), group=sql.SQL(STORE_ROLLUP_GROUP)))


UPSERT_ALERTS = sql.SQL("INSERT INTO alert_events ({}) VALUES ({}) ON CONFLICT (event_id) DO NOTHING").format(
    sql.SQL(", ").join(map(sql.Identifier, ALERT_COLUMNS)), sql.SQL(", ").join(sql.Placeholder() * len(ALERT_COLUMNS)))


class ArchiveWriter:
    """Writes batches on one connection; remembers which monthly partitions already exist."""

    def __init__(self, conn: psycopg.Connection):
        self.conn = conn
        self._months: set[dt.date] = set()
        self.changed = {"zone_stats": 0, "store_stats": 0}  # rows the last write changed, per table
        # The rollup refresh is planned against the whole partitioned table (its cost estimate
        # exceeds jit_above_cost once a year is stored), and JIT-compiling it took 0.5-2.5 s per
        # batch of 2,000 windows for 0.1 s of work (bench/RESULTS-archive.md): off for these writes.
        conn.execute("SET jit = off")

    def ensure_partitions(self, rows: Sequence[tuple]) -> None:
        """Create missing month partitions for the rows' window starts (outside the data transaction)."""
        index = ZONE_STATS_COLUMNS.index("window_start")
        self._ensure_months([row[index] for row in rows])

    def _ensure_months(self, starts: Sequence[dt.datetime]) -> None:
        for month in {month_start(start.astimezone(dt.UTC)) for start in starts} - self._months:
            ensure_partition(self.conn, month)
            self._months.add(month)

    def write(self, zone_rows: Sequence[tuple], alert_rows: Sequence[tuple] = (),
              store_rows: Sequence[tuple] = ()) -> int:
        """Upsert a batch in one transaction; return how many zone_stats and store_stats rows changed."""
        zone_rows = last_per_key(zone_rows)
        store_rows = last_per_key(store_rows, key_len=2)
        self.ensure_partitions(zone_rows)
        self._ensure_months([row[1] for row in store_rows])
        with self.conn.transaction():
            zone_changed, store_changed = self.upsert_zone_stats(zone_rows), self.upsert_store_stats(store_rows)
            changed = zone_changed + store_changed
            if alert_rows:
                with self.conn.cursor() as cur:
                    cur.executemany(UPSERT_ALERTS, list(alert_rows))
        self.changed = {"zone_stats": zone_changed, "store_stats": store_changed}
        return changed

    def upsert_zone_stats(self, rows: Sequence[tuple]) -> int:
        if not rows:
            return 0
        columns = list(zip(*rows, strict=True))
        cur = self.conn.execute(UPSERT_ZONE_STATS, [list(c) for c in columns])
        changed = cur.rowcount
        if changed:
            # Only hours of rows that changed need their rollup rebuilt; a pure replay skips this.
            self.conn.execute(REFRESH_ROLLUP, [list(columns[0]), list(columns[1]), list(columns[2])])
        return changed

    def upsert_store_stats(self, rows: Sequence[tuple]) -> int:
        if not rows:
            return 0
        columns = list(zip(*rows, strict=True))
        changed = self.conn.execute(UPSERT_STORE_STATS, [list(c) for c in columns]).rowcount
        if changed:
            self.conn.execute(REFRESH_STORE_ROLLUP, [list(columns[0]), list(columns[1])])
        return changed
