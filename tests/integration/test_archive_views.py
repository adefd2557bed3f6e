"""Each reporting view against hand-computed answers (see archive_fixture: a DST fall-back day)."""

from __future__ import annotations

import datetime as dt

import pytest
from psycopg.rows import dict_row

from services.archive.transactions import import_transactions
from tests.integration.archive_fixture import TRANSACTIONS_CSV, at, drop_schema, fresh_schema, load_fixture

D = dt.date


@pytest.fixture(scope="module")
def loaded(postgres_url, tmp_path_factory):
    conn, name = fresh_schema(postgres_url, "t_views")
    load_fixture(conn)
    csv_path = tmp_path_factory.mktemp("tx") / "till.csv"
    csv_path.write_text(TRANSACTIONS_CSV)
    assert import_transactions(conn, csv_path) == (7, 0)
    yield conn
    drop_schema(conn, name)


def query(conn, text: str, *params) -> list[dict]:
    return conn.cursor(row_factory=dict_row).execute(text, params).fetchall()


def test_zone_hourly_has_two_local_1am_hours_on_the_fall_back_day(loaded):
    got = query(loaded, """SELECT hour_start, local_hour, hour_of_day, entries, windows, windows_known
                           FROM zone_hourly_local WHERE store_id = 'ny' AND zone_id = 'door' ORDER BY hour_start""")
    local = dt.datetime.fromisoformat
    assert [(r["hour_start"], r["local_hour"], r["entries"], r["windows"], r["windows_known"]) for r in got] == [
        (at("2026-11-01T03:00Z"), local("2026-10-31T23:00"), 7, 1, 1),
        (at("2026-11-01T04:00Z"), local("2026-11-01T00:00"), 2, 1, 1),
        (at("2026-11-01T05:00Z"), local("2026-11-01T01:00"), 3, 2, 1),  # EDT; one window unknown
        (at("2026-11-01T06:00Z"), local("2026-11-01T01:00"), 5, 1, 1),  # EST: same local hour again
        (at("2026-11-01T07:00Z"), local("2026-11-01T02:00"), 1, 1, 1),
        (at("2026-11-01T12:00Z"), local("2026-11-01T07:00"), None, 1, 0),  # unknown, not 0
        (at("2026-11-02T04:00Z"), local("2026-11-01T23:00"), 4, 1, 1),
        (at("2026-11-08T05:00Z"), local("2026-11-08T00:00"), 6, 1, 1),
    ]


def test_zone_hourly_queue_waits_and_occupancy(loaded):
    q1 = query(loaded, """SELECT hour_start, wait_measured_avg_s, wait_estimate_avg_s, queue_length_avg
                          FROM zone_hourly_local WHERE store_id = 'ny' AND zone_id = 'q1' ORDER BY hour_start""")
    assert [(r["hour_start"], r["wait_measured_avg_s"], r["wait_estimate_avg_s"], r["queue_length_avg"])
            for r in q1] == [(at("2026-11-01T05:00Z"), 90.0, 60.0, 3.0), (at("2026-11-01T06:00Z"), 30.0, 30.0, 1.0)]
    floor = query(loaded, "SELECT occupancy_avg, occupancy_max, entries FROM zone_hourly_local WHERE zone_id = 'floor'")
    assert floor == [{"occupancy_avg": 5.0, "occupancy_max": 9, "entries": None}]


def test_zone_daily_counts_25_local_hours_of_the_dst_day(loaded):
    got = query(loaded, """SELECT local_date, weekday, hours, windows, windows_known, entries
                           FROM zone_daily_local WHERE store_id = 'ny' AND zone_id = 'door' ORDER BY local_date""")
    assert got == [
        {"local_date": D(2026, 10, 31), "weekday": 6, "hours": 1, "windows": 1, "windows_known": 1, "entries": 7},
        # 2 + 3 + 5 + 1 + 4: the UTC day would have been 7 + 2 + 3 + 5 + 1 = 18.
        {"local_date": D(2026, 11, 1), "weekday": 7, "hours": 6, "windows": 7, "windows_known": 5, "entries": 15},
        {"local_date": D(2026, 11, 8), "weekday": 7, "hours": 1, "windows": 1, "windows_known": 1, "entries": 6},
    ]
    q1 = query(loaded, "SELECT wait_measured_avg_s FROM zone_daily_local WHERE zone_id = 'q1'")
    assert q1 == [{"wait_measured_avg_s": 70.0}]  # (60 + 120 + 30) / 3


def test_store_hourly_conversion_is_transactions_over_visitors(loaded):
    got = query(loaded, """SELECT hour_start, visitors, transactions, conversion_rate FROM store_hourly
                           WHERE store_id = 'ny' AND local_date = '2026-11-01' ORDER BY hour_start""")
    assert [(r["hour_start"], r["visitors"], r["transactions"], r["conversion_rate"]) for r in got] == [
        (at("2026-11-01T04:00Z"), 2, 0, 0.0),
        (at("2026-11-01T05:00Z"), 3, 1, pytest.approx(1 / 3)),   # b1 at 01:40 EDT
        (at("2026-11-01T06:00Z"), 5, 2, pytest.approx(2 / 5)),   # b2 at 01:10 EST, b3
        (at("2026-11-01T07:00Z"), 1, 0, 0.0),
        (at("2026-11-01T12:00Z"), None, 1, None),                # visitors unknown: no rate
        (at("2026-11-02T04:00Z"), 4, 1, pytest.approx(1 / 4)),   # b4 given in local time
    ]


def test_store_daily_conversion_leaves_out_hours_of_unknown_visitors(loaded):
    got = query(loaded, """SELECT local_date, visitors, transactions, revenue, conversion_rate
                           FROM store_daily WHERE store_id = 'ny' ORDER BY local_date""")
    assert got[1]["local_date"] == D(2026, 11, 1)
    assert (got[1]["visitors"], got[1]["transactions"], float(got[1]["revenue"])) == (15, 5, 45.75)
    assert got[1]["conversion_rate"] == pytest.approx(4 / 15)
    assert (got[0]["visitors"], got[0]["conversion_rate"]) == (7, 0.0)


def test_weekday_hour_pattern(loaded):
    store = query(loaded, """SELECT weekday, hour_of_day, hours, visitors_avg, transactions_avg, conversion_rate
                             FROM store_weekday_hour('2026-11-01', '2026-11-09') WHERE store_id = 'ny'
                             ORDER BY weekday, hour_of_day""")
    assert [tuple(r.values()) for r in store] == [
        (7, 0, 2, 4.0, 0.0, 0.0),                     # Nov 1 00h: 2, Nov 8 00h: 6
        (7, 1, 2, 4.0, 1.5, pytest.approx(3 / 8)),    # both 01:00 hours of the DST day
        (7, 2, 1, 1.0, 0.0, 0.0),
        (7, 7, 1, None, 1.0, None),
        (7, 23, 1, 4.0, 1.0, 0.25),
    ]
    zone = query(loaded, """SELECT hour_of_day, hours, entries_avg, wait_measured_avg_s
                            FROM zone_weekday_hour('2026-11-01', '2026-11-09')
                            WHERE store_id = 'ny' AND zone_id IN ('door', 'q1') AND hour_of_day = 1
                            ORDER BY zone_id""")
    assert [tuple(r.values()) for r in zone] == [(1, 2, 4.0, None), (1, 2, None, 70.0)]


def test_period_over_period(loaded):
    got = query(loaded, """SELECT store_id, visitors, visitors_prev, visitors_change, transactions,
                                  transactions_prev, conversion_rate, conversion_rate_prev
                           FROM compare_periods('2026-11-01', '2026-11-02', '2026-10-31', '2026-11-01')
                           ORDER BY store_id""")
    by_store = {r["store_id"]: r for r in got}
    ny = by_store["ny"]
    assert (ny["visitors"], ny["visitors_prev"], ny["transactions"], ny["transactions_prev"]) == (15, 7, 5, 0)
    assert ny["visitors_change"] == pytest.approx(8 / 7)
    assert ny["conversion_rate"] == pytest.approx(4 / 15) and ny["conversion_rate_prev"] == 0.0
    assert by_store["lis"]["visitors_prev"] is None and by_store["lis"]["visitors_change"] is None


def test_store_ranking_within_a_region(loaded):
    got = query(loaded, """SELECT store_id, visitors, conversion_rate, visitors_rank, conversion_rank
                           FROM store_ranking('east', '2026-11-01', '2026-11-02') ORDER BY visitors_rank""")
    assert [(r["store_id"], r["visitors"], r["visitors_rank"], r["conversion_rank"]) for r in got] == [
        ("lis", 20, 1, 2), ("ny", 15, 2, 1)]  # "far" is in region west
    assert got[0]["conversion_rate"] == pytest.approx(0.1)


def test_attributes_by_local_hour(loaded):
    got = query(loaded, """SELECT local_hour, kind, label, tracks FROM attributes_hourly
                           WHERE store_id = 'ny' ORDER BY kind, label""")
    one_am_est = dt.datetime(2026, 11, 1, 1, 0)
    assert [tuple(r.values()) for r in got] == [
        (one_am_est, "age_band", "18-29", 11), (one_am_est, "expression", "happy", 9),
        (one_am_est, "expression", "neutral", 2)]
