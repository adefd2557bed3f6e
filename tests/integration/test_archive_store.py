"""The archive's writes against the real PostgreSQL: idempotent replays, migrations, partitions,
transactions import, the HTML report."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from services.archive import schema
from services.archive.report import write_report
from services.archive.rows import zone_stats_row
from services.archive.transactions import TransactionFileError, import_transactions
from services.archive.writer import ArchiveWriter
from storesight.contracts import AlertEvent, to_timestamp
from tests.integration.archive_fixture import (
    EAST,
    FIXTURE,
    TRANSACTIONS_CSV,
    at,
    door,
    drop_schema,
    fresh_schema,
    load_fixture,
)
from tools.cli import main

TABLES = ("zone_stats", "zone_hourly", "alert_events", "transactions", "stores", "schema_migrations")


def snapshot(conn) -> dict[str, list]:
    """Every row of every table with its row version (xmin): a rewrite of an equal row shows too."""
    return {t: conn.execute(f"SELECT xmin::text, t.* FROM {t} t ORDER BY 2, 3, 4").fetchall() for t in TABLES}


@pytest.fixture()
def conn(postgres_url):
    conn, name = fresh_schema(postgres_url, "t_store")
    yield conn
    drop_schema(conn, name)


def test_replaying_the_same_zone_stats_twice_leaves_the_tables_unchanged(conn):
    writer = load_fixture(conn)
    before = snapshot(conn)
    assert len(before["zone_stats"]) == len(FIXTURE) and before["zone_hourly"]
    rows = [zone_stats_row(m) for m in FIXTURE]
    assert writer.write(rows) == 0
    assert writer.write(rows + rows) == 0  # duplicates inside one batch too
    assert ArchiveWriter(conn).write(list(reversed(rows))) == 0
    assert snapshot(conn) == before


def test_a_corrected_window_replaces_the_stored_one_and_its_hour(conn):
    writer = load_fixture(conn)
    assert writer.write([zone_stats_row(door("2026-11-01T05:30:00Z", 9))]) == 1
    got = conn.execute("""SELECT entries FROM zone_hourly WHERE store_id = 'ny' AND zone_id = 'door'
                          AND hour_start = '2026-11-01T05:00Z'""").fetchone()
    assert got == (9,)


def test_unknown_values_are_stored_as_null_never_zero(conn):
    load_fixture(conn)
    row = conn.execute("""SELECT status, coverage, entries, exits, occupancy_avg FROM zone_stats
                          WHERE store_id = 'ny' AND zone_id = 'door' AND window_start = '2026-11-01T05:31Z'""").fetchone()
    assert row == ("unknown", 0.0, None, None, None)


def test_migrate_is_idempotent_and_partitions_are_monthly(conn):
    assert schema.migrate(conn, today=dt.date(2026, 11, 1)) == []
    assert [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY 1")] == ["001", "002", "003", "004"]
    parts = [r[0] for r in conn.execute("""SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'zone_stats'::regclass ORDER BY 1""")]
    assert parts == ["zone_stats_2026_11", "zone_stats_2026_12", "zone_stats_2027_01"]
    store_parts = [r[0] for r in conn.execute("""SELECT c.relname FROM pg_inherits i JOIN pg_class c
        ON c.oid = i.inhrelid WHERE i.inhparent = 'store_stats'::regclass ORDER BY 1""")]
    assert store_parts == ["store_stats_2026_11", "store_stats_2026_12", "store_stats_2027_01"]
    # A window in a month with no partition yet gets one on demand.
    ArchiveWriter(conn).write([zone_stats_row(door("2025-06-15T12:00:00Z", 1))])
    assert conn.execute("SELECT count(*) FROM zone_stats_2025_06").fetchone() == (1,)
    plan = "\n".join(r[0] for r in conn.execute(
        "EXPLAIN SELECT * FROM zone_stats WHERE window_start >= '2026-12-01Z' AND window_start < '2026-12-02Z'"))
    assert "zone_stats_2026_12" in plan and "zone_stats_2026_11" not in plan  # partition pruning


def test_alert_events_are_archived_once(conn):
    event = AlertEvent(event_id="e1", incident_id="i1", rule_id="q-long", store_id="ny", zone_id="q1",
                       metric="queue_length", from_state=AlertEvent.STATE_PENDING, to_state=AlertEvent.STATE_FIRING,
                       value=6, threshold=5, severity="warning", at=to_timestamp(at("2026-11-01T06:40:00Z")))
    event.deliveries.add(channel="sms", recipient="+1555***0100", status=1, attempts=1)
    from services.archive.rows import alert_row

    writer = ArchiveWriter(conn)
    writer.write([], [alert_row(event)])
    writer.write([], [alert_row(event)])
    got = conn.execute("SELECT event_id, to_state, deliveries->0->>'status' FROM alert_events").fetchall()
    assert got == [("e1", "firing", "sent")]


def test_transactions_import_is_idempotent_on_basket_id(conn, tmp_path):
    path = tmp_path / "till.csv"
    path.write_text(TRANSACTIONS_CSV)
    assert import_transactions(conn, path) == (7, 0)
    before = snapshot(conn)["transactions"]
    assert import_transactions(conn, path) == (0, 7)
    assert snapshot(conn)["transactions"] == before
    b4 = conn.execute("SELECT ts FROM transactions WHERE basket_id = 'b4'").fetchone()[0]
    assert b4 == at("2026-11-02T04:50:00Z")  # 23:50 EST, given without offset


def test_a_bad_transactions_file_imports_nothing_and_names_each_line(conn, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("store,timestamp,basket_id,amount\n"
                    "ny,2026-11-01T09:00:00Z,ok1,1.00\n"
                    "ny,2026-11-01 01:30:00,amb,1.00\n"        # ambiguous: DST fall-back hour
                    "zz,2026-11-01T09:00:00Z,x,1.00\n"
                    "ny,2026-11-01T09:00:00Z,y,lots\n")
    with pytest.raises(TransactionFileError) as err:
        import_transactions(conn, path)
    assert [p.split(":")[0] for p in err.value.problems] == ["line 3", "line 4", "line 5"]
    assert conn.execute("SELECT count(*) FROM transactions").fetchone() == (0,)


def test_report_writes_html_and_png_charts(conn, tmp_path):
    load_fixture(conn)
    csv_path = tmp_path / "till.csv"
    csv_path.write_text(TRANSACTIONS_CSV)
    import_transactions(conn, csv_path)
    path = write_report(conn, "ny", dt.date(2026, 10, 31), dt.date(2026, 11, 8), tmp_path / "out")
    text = path.read_text()
    pngs = sorted(p.name for p in (tmp_path / "out").glob("*.png"))
    assert pngs == ["alerts_by_day.png", "conversion_by_day.png", "queue_waits.png", "visits_by_hour.png",
                    "weekday_hour.png"]
    assert all((tmp_path / "out" / p).read_bytes()[:4] == b"\x89PNG" for p in pngs)
    for png in pngs:
        assert f'src="{png}"' in text
    assert "<td>28</td>" in text          # visitors 7 + 15 + 6
    assert "<td>26.7%</td>" in text       # Nov 1: 4 / 15
    assert "America/New_York" in text
    # A period without data reports unknown, never zero visitors.
    empty = write_report(conn, "far", dt.date(2026, 1, 1), dt.date(2026, 1, 2), tmp_path / "empty").read_text()
    assert "<tr><td>unknown</td><td>0</td><td>unknown</td>" in empty


def test_cli_migrate_import_and_report(postgres_url, tmp_path, monkeypatch, capsys):
    config = tmp_path / "east.yaml"
    import yaml

    config.write_text(yaml.safe_dump(EAST.model_dump(mode="json", exclude_none=True)))
    csv_path = tmp_path / "till.csv"
    csv_path.write_text(TRANSACTIONS_CSV)
    monkeypatch.setenv("DATABASE_URL", postgres_url)
    name = f"t_cli_{uuid.uuid4().hex[:8]}"
    common = ["--config", str(config), "--schema", name]
    try:
        assert main(["archive", "migrate", *common]) == 0
        assert main(["archive", "migrate", *common]) == 0
        assert main(["transactions", "import", str(csv_path), *common]) == 0
        assert main(["transactions", "import", str(csv_path), *common]) == 0
        assert main(["report", "--store", "ny", "--from", "2026-11-01", "--to", "2026-11-01",
                     "--out", str(tmp_path / "r"), *common]) == 0
        out = capsys.readouterr().out
        assert "applied 001_tables" in out and "schema up to date" in out
        assert "7 transaction(s) written, 0 unchanged" in out and "0 transaction(s) written, 7 unchanged" in out
        assert (tmp_path / "r" / "report.html").exists()
    finally:
        import psycopg

        with psycopg.connect(postgres_url, autocommit=True) as c:
            c.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")


def test_a_store_time_zone_change_rebuilds_its_local_hours(conn):
    from tests.integration.archive_fixture import region_config

    load_fixture(conn)
    first = "SELECT local_hour FROM zone_hourly WHERE store_id = 'ny' AND zone_id = 'door' ORDER BY hour_start LIMIT 1"
    assert conn.execute(first).fetchone() == (dt.datetime(2026, 10, 31, 23, 0),)  # 03:59Z in New York
    moved = region_config("east", [("ny", "Europe/Lisbon"), ("lis", "Europe/Lisbon")])
    assert schema.sync_stores(conn, moved) == ["ny"]
    assert conn.execute(first).fetchone() == (dt.datetime(2026, 11, 1, 3, 0),)  # WET = UTC in November
    assert schema.sync_stores(conn, moved) == []
