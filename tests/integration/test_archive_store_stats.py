"""StoreStats in the archive, against the real PostgreSQL (a schema of the test's own).

Store "doors" (America/New_York, entrances configured) around the DST fall-back day 2026-11-01
(01:00-02:00 local happens twice: 05:00Z EDT and 06:00Z EST). Store windows:
  05:30Z entries 3 occupancy 3      05:31Z entries 2 occupancy 5      05:32Z unknown
  06:30Z entries 4 occupancy 2      12:00Z entries 1 occupancy 1      (Nov 8) 05:30Z entries 6
Its entrance-kind zone "door" says 100 entries at 05:30Z: with entrances, visitors are the store
footfall (5 in 05:00Z), not the zone's. Till: two baskets in 05:00Z -> conversion 2 / 5.
Store "plain" (no entrances) keeps visitors from its entrance zone (7).
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from services.archive import db, rows, schema
from services.archive.writer import ArchiveWriter
from storesight.config import parse_config
from storesight.contracts import StoreStats, ZoneStats, to_timestamp
from tests.integration.archive_fixture import at, stats

SQUARE = [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5]]


def config():
    def store(store_id: str, entrances: bool) -> dict:
        camera = {"id": f"{store_id}-cam", "source": "rtsp://127.0.0.1/x",
                  "zones": [{"id": "door", "kind": "entrance", "polygon": SQUARE}],
                  "lines": [{"id": "front", "a": [0, 0.5], "b": [1, 0.5], "in_point": [0.5, 1]}]}
        out = {"id": store_id, "timezone": "America/New_York", "cameras": [camera]}
        if entrances:
            out["entrances"] = [{"camera": camera["id"], "line": "front"}]
        return out

    return parse_config({"region": "east", "stores": [store("doors", True), store("plain", False)]})


def store_stats(start: str, entries: int, occupancy: int, unknown: bool = False) -> StoreStats:
    begin = at(start)
    local = begin.astimezone(dt.timezone(dt.timedelta(hours=-5))).date()  # local date is EST/EDT-safe here
    return StoreStats(store_id="doors", window_start=to_timestamp(begin),
                      window_end=to_timestamp(begin + dt.timedelta(minutes=1)), local_date=local.isoformat(),
                      status=StoreStats.STATUS_UNKNOWN if unknown else StoreStats.STATUS_OK,
                      coverage=0.0 if unknown else 1.0, open=True, entries=entries, exits=0, occupancy=occupancy,
                      footfall_day=entries, reset=StoreStats.RESET_NONE)


STORE_WINDOWS = [
    store_stats("2026-11-01T05:30:00Z", 3, 3),
    store_stats("2026-11-01T05:31:00Z", 2, 5),
    store_stats("2026-11-01T05:32:00Z", 0, 0, unknown=True),
    store_stats("2026-11-01T06:30:00Z", 4, 2),
    store_stats("2026-11-01T12:00:00Z", 1, 1),
    store_stats("2026-11-08T05:30:00Z", 6, 6),
]
ZONE_WINDOWS: list[ZoneStats] = [
    stats("doors", "door", "entrance", "2026-11-01T05:30:00Z", entries=100),
    stats("plain", "door", "entrance", "2026-11-01T05:30:00Z", entries=7),
]


@pytest.fixture()
def conn(postgres_url):
    name = f"t_storestats_{uuid.uuid4().hex[:8]}"
    conn = db.connect(postgres_url, name)
    schema.migrate(conn, today=dt.date(2026, 11, 1))
    schema.sync_stores(conn, config())
    writer = ArchiveWriter(conn)
    writer.write([rows.zone_stats_row(m) for m in ZONE_WINDOWS], (), [rows.store_stats_row(m) for m in STORE_WINDOWS])
    conn.execute("""INSERT INTO transactions (store_id, basket_id, ts, amount) VALUES
                    ('doors', 'b1', '2026-11-01T05:40Z', 10), ('doors', 'b2', '2026-11-01T05:50Z', 20),
                    ('plain', 'p1', '2026-11-01T05:40Z', 5)""")
    yield conn
    conn.execute(f"DROP SCHEMA {name} CASCADE")
    conn.close()


def test_hourly_rollup_in_store_local_hours_leaves_unknown_windows_out(conn):
    got = conn.execute("""SELECT hour_start, local_hour, windows, windows_known, footfall, occupancy_avg, occupancy_max
                          FROM store_traffic_hourly_local WHERE store_id = 'doors' ORDER BY hour_start""").fetchall()
    assert got == [
        (at("2026-11-01T05:00:00Z"), dt.datetime(2026, 11, 1, 1, 0), 3, 2, 5, 4.0, 5),
        (at("2026-11-01T06:00:00Z"), dt.datetime(2026, 11, 1, 1, 0), 1, 1, 4, 2.0, 2),  # the second 01:00
        (at("2026-11-01T12:00:00Z"), dt.datetime(2026, 11, 1, 7, 0), 1, 1, 1, 1.0, 1),
        (at("2026-11-08T05:00:00Z"), dt.datetime(2026, 11, 8, 0, 0), 1, 1, 6, 6.0, 6),
    ]


def test_daily_and_weekday_hour_footfall(conn):
    daily = conn.execute("""SELECT local_date, hours, footfall, occupancy_max FROM store_traffic_daily
                            WHERE store_id = 'doors' ORDER BY local_date""").fetchall()
    assert daily == [(dt.date(2026, 11, 1), 3, 10, 5), (dt.date(2026, 11, 8), 1, 6, 6)]
    pattern = conn.execute("""SELECT weekday, hour_of_day, hours, footfall_avg FROM store_traffic_weekday_hour(
                                  '2026-11-01', '2026-11-09') WHERE store_id = 'doors'
                              ORDER BY weekday, hour_of_day""").fetchall()
    assert pattern == [(7, 0, 1, 6.0), (7, 1, 2, 4.5), (7, 7, 1, 1.0)]


def test_conversion_uses_the_store_footfall_where_the_store_has_entrances(conn):
    got = dict(((r[0], r[1]), r[2:]) for r in conn.execute(
        """SELECT store_id, hour_start, visitors, transactions, conversion_rate, footfall FROM store_hourly
           WHERE hour_start = '2026-11-01T05:00Z'""").fetchall())
    assert got[("doors", at("2026-11-01T05:00:00Z"))] == (5, 2, pytest.approx(0.4), 5)
    assert got[("plain", at("2026-11-01T05:00:00Z"))] == (7, 1, pytest.approx(1 / 7), None)
    daily = conn.execute("""SELECT visitors, transactions, conversion_rate FROM store_daily
                            WHERE store_id = 'doors' AND local_date = '2026-11-01'""").fetchone()
    assert daily == (10, 2, pytest.approx(0.2))


def test_replay_changes_nothing_and_a_corrected_window_updates_its_hour(conn):
    writer = ArchiveWriter(conn)
    before = conn.execute("SELECT xmin::text, * FROM store_stats ORDER BY window_start").fetchall()
    rollup = conn.execute("SELECT xmin::text, * FROM store_traffic_hourly ORDER BY hour_start").fetchall()
    replay = [rows.store_stats_row(m) for m in STORE_WINDOWS]
    assert writer.write([], (), replay + replay) == 0
    assert conn.execute("SELECT xmin::text, * FROM store_stats ORDER BY window_start").fetchall() == before
    assert conn.execute("SELECT xmin::text, * FROM store_traffic_hourly ORDER BY hour_start").fetchall() == rollup
    assert writer.write([], (), [rows.store_stats_row(store_stats("2026-11-01T12:00:00Z", 9, 3))]) == 1
    assert conn.execute("""SELECT footfall FROM store_traffic_hourly
                           WHERE store_id = 'doors' AND hour_start = '2026-11-01T12:00Z'""").fetchone() == (9,)


def test_time_zone_change_rebuilds_the_store_rollup(conn):
    moved = config().model_dump(mode="json")
    moved["stores"][0]["timezone"] = "Europe/Lisbon"
    assert schema.sync_stores(conn, parse_config(moved)) == ["doors"]
    got = conn.execute("""SELECT local_hour, footfall FROM store_traffic_hourly WHERE store_id = 'doors'
                          ORDER BY hour_start LIMIT 2""").fetchall()
    assert got == [(dt.datetime(2026, 11, 1, 5, 0), 5), (dt.datetime(2026, 11, 1, 6, 0), 4)]


def test_the_archive_service_takes_store_stats_from_kafka(broker, postgres_url):
    from services.archive.service import Archive
    from storesight.bus import TypedProducer
    from storesight.topics import Topic, ensure_topics
    from tests.integration.test_archive_service import run_until

    suffix = uuid.uuid4().hex[:6]
    topic = Topic(f"t.archive.store.{suffix}", StoreStats, partitions=2, retention_ms=60_000, key="store_id")
    ensure_topics(broker.bootstrap, (topic,))
    region = config()
    region = region.model_copy(update={"pipeline": region.pipeline.model_copy(
        update={"kafka": region.pipeline.kafka.model_copy(update={"bootstrap": broker.bootstrap})})})
    producer = TypedProducer(region.pipeline.kafka, "test-archive-store")
    bad = store_stats("2026-11-01T05:40:00Z", 1, 1)
    bad.local_date = "not a date"
    messages = [*STORE_WINDOWS, STORE_WINDOWS[0], bad]  # a duplicate and a record that cannot be a row
    for m in messages:
        producer.send(topic, m.store_id, m)
    producer.flush()
    producer.close()
    name = f"t_storesvc_{suffix}"
    archive = Archive(region, postgres_url, name, (topic,), f"g-archive-store-{suffix}")
    try:
        assert run_until(archive, len(messages)) == len(messages)
        db_conn = archive.conn
        assert db_conn.execute("SELECT count(*) FROM store_stats").fetchone() == (len(STORE_WINDOWS),)
        assert db_conn.execute("""SELECT sum(footfall) FROM store_traffic_hourly
                                  WHERE store_id = 'doors'""").fetchone() == (16,)
    finally:
        archive.conn.execute(f"DROP SCHEMA {name} CASCADE")
        archive.close()
