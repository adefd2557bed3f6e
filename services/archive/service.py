"""The archive service shell: ZoneStats, StoreStats and AlertEvent from Kafka into PostgreSQL.

Live ZoneStats (``live=true``) are skipped: only closed windows are history. Each poll is one
database transaction; Kafka offsets are committed only after it commits, so a crash re-delivers
and the idempotent upsert makes the replay harmless (at-least-once in, exactly-once effect).
A database outage does not skip data: the batch is retried (with backoff) until it is written
or the service is stopped, and offsets never move past an unwritten batch.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import psycopg
from prometheus_client import Counter, Gauge, Histogram

from services.archive import db, rows, schema
from services.archive.writer import ArchiveWriter
from storesight.bus import Record, TypedConsumer
from storesight.config import Config
from storesight.contracts import AlertEvent, StoreStats, ZoneStats
from storesight.service import ServiceRunner
from storesight.topics import ALERTS, STORE_STATS, ZONE_STATS, Topic

log = logging.getLogger(__name__)

GROUP = "storesight-archive"

RECORDS = Counter("storesight_archive_records_total", "Records handled by the archive",
                  ["kind", "outcome"])  # kind: zone_stats|store_stats|alert; outcome: written|unchanged|skipped_live|rejected
BATCH_SECONDS = Histogram("storesight_archive_batch_seconds", "Time to write one batch to PostgreSQL")
DB_ERRORS = Counter("storesight_archive_db_errors_total", "Failed batch writes (retried)")
LAST_WINDOW_END = Gauge("storesight_archive_last_window_end_seconds",
                       "Newest archived window end (event time, Unix seconds)")


def split_records(records: Sequence[Record]) -> tuple[list[tuple], list[tuple], int]:
    """Rows for zone_stats and alert_events from a poll, and how many live records were skipped."""
    zone_rows, alert_rows, live = [], [], 0
    for record in records:
        value = record.value
        if isinstance(value, ZoneStats):
            if value.live:
                live += 1
            else:
                zone_rows.append(rows.zone_stats_row(value))
        elif isinstance(value, AlertEvent):
            alert_rows.append(rows.alert_row(value))
    return zone_rows, alert_rows, live


class Archive:
    """One consumer and one connection; ``step()`` polls, writes, then commits offsets."""

    def __init__(self, config: Config, url: str, schema_name: str = db.DEFAULT_SCHEMA,
                 topics: Sequence[Topic] = (ZONE_STATS, ALERTS, STORE_STATS), group: str = GROUP,
                 client_id: str = "archive", max_records: int = 2000):
        self.config = config
        self.url = url
        self.schema_name = schema_name
        self.max_records = max_records
        self.conn = self._open(at_start=True)
        self.writer = ArchiveWriter(self.conn)
        self.consumer = TypedConsumer(config.pipeline.kafka, topics, group, client_id)
        self.db_problem: str | None = None
        self._known_stores = {s.id for s in config.stores}

    def _open(self, at_start: bool = False) -> psycopg.Connection:
        # At start a wrong password or CA is a StartupError (exit 2); later, outages are retried.
        conn = (db.connect_at_start if at_start else db.connect)(self.url, self.schema_name)
        schema.migrate(conn)
        schema.sync_stores(conn, self.config)
        return conn

    def step(self, stopping=None, timeout_ms: int = 500) -> int:
        """Handle one poll; return the number of records consumed."""
        records = self.consumer.poll(timeout_ms=timeout_ms, max_records=self.max_records)
        if not records:
            return 0
        zone_rows, alert_rows, live = split_records(records)
        store_rows = self._store_rows(records)
        self._warn_unknown_stores(zone_rows)
        self._write_until_done(zone_rows, alert_rows, stopping, store_rows)
        self.consumer.commit()
        RECORDS.labels("zone_stats", "skipped_live").inc(live)
        RECORDS.labels("alert", "written").inc(len(alert_rows))
        if zone_rows:
            newest = max(r[rows.ZONE_STATS_COLUMNS.index("window_end")] for r in zone_rows)
            LAST_WINDOW_END.set(newest.timestamp())
        return len(records)

    @staticmethod
    def _store_rows(records: Sequence[Record]) -> list[tuple]:
        """store_stats rows of a poll; a record that cannot be a row is counted and logged, not written."""
        out = []
        for record in records:
            if isinstance(record.value, StoreStats):
                try:
                    out.append(rows.store_stats_row(record.value))
                except (ValueError, KeyError) as exc:
                    RECORDS.labels("store_stats", "rejected").inc()
                    log.error("store record rejected", extra={"store": record.value.store_id,
                                                              "error": str(exc)[:200]})
        return out

    def _warn_unknown_stores(self, zone_rows) -> None:
        """Windows of a store missing from the config are archived, but the local-time views
        (which join ``stores``) cannot show them until the store is configured: say so once."""
        for store_id in {r[0] for r in zone_rows} - self._known_stores:
            log.warning("store not in config: archived, hourly rollup in UTC until configured",
                        extra={"store": store_id})
            self._known_stores.add(store_id)

    def _write_until_done(self, zone_rows, alert_rows, stopping, store_rows=()) -> None:
        delay = 0.5
        while True:
            started = time.perf_counter()
            try:
                self.writer.write(zone_rows, alert_rows, store_rows)
                changed, store_changed = self.writer.changed["zone_stats"], self.writer.changed["store_stats"]
            except psycopg.OperationalError as exc:
                DB_ERRORS.inc()
                self.db_problem = f"database: {type(exc).__name__}"
                log.warning("batch write failed; retrying", extra={"error": str(exc)[:200], "retry_in_s": delay})
                stopped = stopping.wait(delay) if stopping is not None else time.sleep(delay)
                if stopped:
                    raise
                delay = min(delay * 2, 30.0)
                self._reconnect()
                continue
            except psycopg.DataError as exc:
                # A record PostgreSQL cannot store (e.g. a NUL byte in an id) must not block the
                # partition forever: write the batch row by row and count what is rejected.
                log.warning("batch rejected; writing row by row", extra={"error": str(exc)[:200]})
                changed = self._write_rows_one_by_one(zone_rows, alert_rows)
                store_changed = self._write_rows_one_by_one_store(store_rows)
            BATCH_SECONDS.observe(time.perf_counter() - started)
            self.db_problem = None
            RECORDS.labels("zone_stats", "written").inc(changed)
            RECORDS.labels("zone_stats", "unchanged").inc(len(zone_rows) - changed)
            RECORDS.labels("store_stats", "written").inc(store_changed)
            RECORDS.labels("store_stats", "unchanged").inc(len(store_rows) - store_changed)
            return

    def _write_rows_one_by_one(self, zone_rows, alert_rows) -> int:
        changed = 0
        for zone_row, alert_row in [(r, None) for r in zone_rows] + [(None, r) for r in alert_rows]:
            try:
                changed += self.writer.write([zone_row] if zone_row else [], [alert_row] if alert_row else [])
            except psycopg.DataError as exc:
                kind = "zone_stats" if zone_row else "alert"
                RECORDS.labels(kind, "rejected").inc()
                log.error("record rejected by the database", extra={
                    "kind": kind, "key": repr((zone_row or alert_row)[:3])[:200], "error": str(exc)[:200]})
        return changed

    def _write_rows_one_by_one_store(self, store_rows) -> int:
        changed = 0
        for row in store_rows:
            try:
                changed += self.writer.write([], [], [row])
            except psycopg.DataError as exc:
                RECORDS.labels("store_stats", "rejected").inc()
                log.error("record rejected by the database", extra={
                    "kind": "store_stats", "key": repr(row[:2])[:200], "error": str(exc)[:200]})
        return changed

    def _reconnect(self) -> None:
        try:
            self.conn.close()
            self.conn = self._open()
            self.writer = ArchiveWriter(self.conn)
        except psycopg.OperationalError as exc:
            log.warning("reconnect failed", extra={"error": str(exc)[:200]})

    def close(self) -> None:
        self.consumer.close()
        self.conn.close()


def run(config: Config, runner: ServiceRunner, schema_name: str = db.DEFAULT_SCHEMA,
        topics: Sequence[Topic] = (ZONE_STATS, ALERTS, STORE_STATS), group: str = GROUP) -> int:
    """The service loop: until SIGTERM, then finish the in-flight batch, commit, close."""
    archive = Archive(config, db.database_url(config.pipeline), schema_name, topics, group)
    runner.add_health_check(lambda: archive.db_problem)
    runner.set_ready()
    log.info("archive running", extra={"schema": schema_name, "group": group})
    try:
        while not runner.stopping.is_set():
            archive.step(runner.stopping)
    finally:
        archive.close()
        log.info("archive stopped")
    return 0
