"""Schema of the archive: ordered SQL migrations, monthly partitions, the stores table.

Why monthly partitions plus an hourly rollup (the "year of 1-minute windows for 1,000 zones" plan):
a year of 1-minute windows for 1,000 zones is 1,000 x 525,600 = 525.6 M rows (~100 GB with the
primary key). ``zone_stats`` is partitioned by month on ``window_start`` (native declarative
partitioning, ~44 M rows a month at that size), so

* a report over a date range touches only the months it covers (partition pruning) and each
  month's primary-key index (store, zone, window_start) stays small enough to stay cached while
  it is being written;
* retention is ``DROP TABLE`` of an old month (no bulk DELETE, no vacuum storm);
* the idempotent upsert keeps working: the primary key contains the partition key.

Reports never scan minutes: ``zone_hourly`` holds one row per zone per store-local hour (60x
fewer rows, 8.8 M a year for 1,000 zones), rebuilt from ``zone_stats`` for exactly the hours each
archive batch touches. The weekday x hour pattern over a year then reads ~1/60 of the data
(measured in bench/archive). Partitions are created ahead (this month and the next
``MONTHS_AHEAD``) by ``storesight archive migrate`` and on demand for any month a batch needs.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from importlib import resources

import psycopg
import psycopg.errors
from psycopg import sql

from storesight.config import Config

log = logging.getLogger(__name__)

MONTHS_AHEAD = 2
# Serialises concurrent migrators (two archive replicas starting together).
_MIGRATION_LOCK = 720_509


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    text: str


def migrations() -> list[Migration]:
    """The migration files in order: ``NNN_name.sql`` in services/archive/migrations."""
    folder = resources.files("services.archive") / "migrations"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            version, _, rest = entry.name.partition("_")
            found.append(Migration(version, rest.removesuffix(".sql"), entry.read_text(encoding="utf-8")))
    return sorted(found, key=lambda m: m.version)


def migrate(conn: psycopg.Connection, today: dt.date | None = None) -> list[str]:
    """Apply the migrations not yet applied (each in its own transaction); return their names.

    Idempotent: applied versions are recorded in ``schema_migrations`` and skipped.
    """
    applied: list[str] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        conn.execute("""CREATE TABLE IF NOT EXISTS schema_migrations (
                            version text PRIMARY KEY, name text NOT NULL,
                            applied_at timestamptz NOT NULL DEFAULT now())""")
        done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
        for migration in migrations():
            if migration.version in done:
                continue
            with conn.transaction():
                conn.execute(migration.text)
                conn.execute("INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                             (migration.version, migration.name))
            applied.append(f"{migration.version}_{migration.name}")
            log.info("migration applied", extra={"version": migration.version, "migration": migration.name})
    ensure_partitions_ahead(conn, today)
    return applied


def month_start(when: dt.datetime | dt.date) -> dt.date:
    return dt.date(when.year, when.month, 1)


def next_month(month: dt.date) -> dt.date:
    return dt.date(month.year + (month.month == 12), month.month % 12 + 1, 1)


def partition_name(month: dt.date, table: str = "zone_stats") -> str:
    return f"{table}_{month:%Y_%m}"


# Tables partitioned by month on window_start (003: zone windows, 004: store windows).
PARTITIONED = ("zone_stats", "store_stats")


def ensure_partition(conn: psycopg.Connection, month: dt.date) -> None:
    """Create the month's partitions of zone_stats and store_stats (UTC month bounds) if missing."""
    start = dt.datetime.combine(month, dt.time(), dt.UTC)
    end = dt.datetime.combine(next_month(month), dt.time(), dt.UTC)
    for table in PARTITIONED:
        statement = sql.SQL("CREATE TABLE IF NOT EXISTS {} PARTITION OF {} FOR VALUES FROM ({}) TO ({})").format(
            sql.Identifier(partition_name(month, table)), sql.Identifier(table), sql.Literal(start), sql.Literal(end))
        try:
            with conn.transaction():
                conn.execute(statement)
        except (psycopg.errors.DuplicateTable, psycopg.errors.UniqueViolation):
            pass  # another archive replica created it at the same moment


def ensure_partitions_ahead(conn: psycopg.Connection, today: dt.date | None = None,
                            months_ahead: int = MONTHS_AHEAD) -> list[str]:
    month = month_start(today or dt.datetime.now(dt.UTC).date())
    names = []
    for _ in range(months_ahead + 1):
        ensure_partition(conn, month)
        names.append(partition_name(month))
        month = next_month(month)
    return names


def sync_stores(conn: psycopg.Connection, config: Config) -> list[str]:
    """Upsert the region's stores (id, region, name, time zone) from the config.

    Stores whose time zone is new or changed get their hourly rollup rebuilt, since store-local
    hours depend on it. Returns the ids of those stores.
    """
    rebuilt = []
    with conn.transaction():
        for store in config.stores:
            row = conn.execute("SELECT timezone FROM stores WHERE id = %s", (store.id,)).fetchone()
            conn.execute("""INSERT INTO stores (id, region, name, timezone, entrances) VALUES (%s, %s, %s, %s, %s)
                            ON CONFLICT (id) DO UPDATE SET region = EXCLUDED.region, name = EXCLUDED.name,
                                timezone = EXCLUDED.timezone, entrances = EXCLUDED.entrances
                            WHERE (stores.region, stores.name, stores.timezone, stores.entrances)
                                  IS DISTINCT FROM (EXCLUDED.region, EXCLUDED.name, EXCLUDED.timezone,
                                                    EXCLUDED.entrances)""",
                         (store.id, config.region, store.name, store.timezone, bool(store.entrances)))
            if row is None or row[0] != store.timezone:
                rebuild_rollup(conn, store.id)
                rebuilt.append(store.id)
    return rebuilt


def rebuild_rollup(conn: psycopg.Connection, store_id: str) -> None:
    """Recompute a store's whole hourly rollups from zone_stats and store_stats (after a time-zone change)."""
    from services.archive.writer import (
        ROLLUP_COLUMNS,
        ROLLUP_GROUP,
        ROLLUP_SELECT,
        STORE_ROLLUP_COLUMNS,
        STORE_ROLLUP_GROUP,
        STORE_ROLLUP_SELECT,
    )

    for rollup, source, columns, select, group in (
            ("zone_hourly", "zone_stats", ROLLUP_COLUMNS, ROLLUP_SELECT, ROLLUP_GROUP),
            ("store_traffic_hourly", "store_stats", STORE_ROLLUP_COLUMNS, STORE_ROLLUP_SELECT, STORE_ROLLUP_GROUP)):
        conn.execute(sql.SQL("DELETE FROM {} WHERE store_id = %s").format(sql.Identifier(rollup)), (store_id,))
        conn.execute(sql.SQL("""
            INSERT INTO {rollup} ({columns})
            SELECT {select}
            FROM (SELECT z.*, date_trunc('hour', z.window_start, coalesce(s.timezone, 'UTC')) AS hour_start,
                         coalesce(s.timezone, 'UTC') AS tz
                  FROM {source} z LEFT JOIN stores s ON s.id = z.store_id
                  WHERE z.store_id = %s) z
            {group}""").format(
            rollup=sql.Identifier(rollup), source=sql.Identifier(source),
            columns=sql.SQL(", ").join(map(sql.Identifier, columns)), select=sql.SQL(select), group=sql.SQL(group)),
            (store_id,))
