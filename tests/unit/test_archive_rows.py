"""Pure parts of the archive: protobuf -> rows (unknown stays None), CSV parsing of till exports."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from services.archive.rows import ZONE_STATS_COLUMNS, alert_row, last_per_key, zone_stats_row
from services.archive.schema import migrations, next_month, partition_name
from services.archive.transactions import TransactionFileError, parse_transactions
from storesight.contracts import AlertEvent, ZoneStats, to_timestamp

T0 = dt.datetime(2026, 11, 1, 5, 30, tzinfo=dt.UTC)


def window(**values) -> ZoneStats:
    msg = ZoneStats(store_id="ny", zone_id="door", zone_kind="entrance", window_start=to_timestamp(T0),
                    window_end=to_timestamp(T0 + dt.timedelta(minutes=1)), status=ZoneStats.STATUS_OK, coverage=1.0)
    for name, value in values.items():
        setattr(msg, name, value)
    return msg


def as_dict(row: tuple) -> dict:
    return dict(zip(ZONE_STATS_COLUMNS, row, strict=True))


def test_absent_values_are_none_and_zero_is_zero():
    row = as_dict(zone_stats_row(window(entries=0)))
    assert row["entries"] == 0 and row["exits"] is None and row["occupancy_avg"] is None
    assert row["window_start"] == T0 and row["status"] == "ok" and row["attributes"] is None


def test_an_unknown_window_carries_no_measurement_even_if_a_producer_set_one():
    row = as_dict(zone_stats_row(window(status=ZoneStats.STATUS_UNKNOWN, coverage=0.0, entries=4)))
    assert row["status"] == "unknown" and row["entries"] is None


def test_attribute_aggregates_become_stable_json():
    msg = window()
    agg = msg.attributes.add(zone_id="door", distinct_tracks=6)
    agg.expressions["neutral"] = 4
    agg.expressions["happy"] = 2
    row = as_dict(zone_stats_row(msg))
    assert json.loads(row["attributes"])[0]["expressions"] == {"happy": 2, "neutral": 4}
    assert row["attributes"] == as_dict(zone_stats_row(msg))["attributes"]


def test_last_row_per_key_wins():
    a, b = zone_stats_row(window(entries=1)), zone_stats_row(window(entries=2))
    assert last_per_key([a, b]) == [b]


def test_alert_row_names_states_and_derives_an_id_when_missing():
    event = AlertEvent(incident_id="i1", rule_id="r1", store_id="ny", from_state=AlertEvent.STATE_FIRING,
                       to_state=AlertEvent.STATE_RESOLVED, at=to_timestamp(T0))
    row = alert_row(event)
    assert row[0] == "i1:resolved::2026-11-01T05:30:00+00:00"
    assert (row[7], row[8]) == ("firing", "resolved") and row[14] is None


def test_migrations_are_ordered_and_partitions_named_by_month():
    assert [m.version for m in migrations()] == ["001", "002", "003", "004"]
    assert next_month(dt.date(2026, 12, 1)) == dt.date(2027, 1, 1)
    assert partition_name(dt.date(2027, 1, 1)) == "zone_stats_2027_01"
    assert partition_name(dt.date(2027, 1, 1), "store_stats") == "store_stats_2027_01"


ZONES = {"ny": "America/New_York", "lis": "Europe/Lisbon"}


def test_csv_local_and_offset_timestamps():
    got = parse_transactions(["Store,Timestamp,Basket ID,Amount", "ny,2026-03-08 03:30:00,b1,1.5",
                              "lis,2026-07-01T10:00:00+01:00,b2,2", ""], ZONES)
    assert [(t.store_id, t.basket_id, t.ts, t.amount) for t in got] == [
        ("ny", "b1", dt.datetime(2026, 3, 8, 7, 30, tzinfo=dt.UTC), Decimal("1.5")),  # EDT after spring forward
        ("lis", "b2", dt.datetime(2026, 7, 1, 9, 0, tzinfo=dt.UTC), Decimal("2")),
    ]


@pytest.mark.parametrize("line, reason", [
    ("ny,2026-03-08 02:30:00,b,1", "ambiguous or skipped"),   # spring-forward gap
    ("ny,2026-11-01 01:30:00,b,1", "ambiguous or skipped"),   # fall-back overlap
    ("xx,2026-11-01T01:30:00Z,b,1", "unknown store"),
    ("ny,yesterday,b,1", "Invalid isoformat"),
    ("ny,2026-11-01T01:30:00Z,,1", "empty basket id"),
    ("ny,2026-11-01T01:30:00Z,b", "expected 4 fields"),
])
def test_csv_errors_name_the_line(line, reason):
    with pytest.raises(TransactionFileError) as err:
        parse_transactions(["store,timestamp,basket_id,amount", line], ZONES)
    assert err.value.problems[0].startswith("line 2: ") and reason in err.value.problems[0]


def test_csv_header_must_name_every_column():
    with pytest.raises(TransactionFileError) as err:
        parse_transactions(["store,when,basket_id,amount"], ZONES)
    assert "no 'timestamp' column" in err.value.problems[0]


def test_store_stats_row_maps_status_and_reset_and_refuses_a_bad_date():
    from services.archive.rows import STORE_STATS_COLUMNS, store_stats_row
    from storesight.contracts import StoreStats, to_timestamp

    start = dt.datetime(2026, 3, 29, 20, 59, tzinfo=dt.UTC)
    msg = StoreStats(store_id="s1", window_start=to_timestamp(start),
                     window_end=to_timestamp(start + dt.timedelta(minutes=1)), local_date="2026-03-29",
                     status=StoreStats.STATUS_PARTIAL, coverage=0.5, open=False, entries=2, exits=4, occupancy=0,
                     footfall_day=310, clamped=1, reset=StoreStats.RESET_CLOSING, drift=3)
    row = dict(zip(STORE_STATS_COLUMNS, store_stats_row(msg), strict=True))
    assert (row["status"], row["reset"], row["local_date"], row["clamped"], row["drift"]) == \
        ("partial", "closing", dt.date(2026, 3, 29), 1, 3)
    msg.local_date = "29/03/2026"
    with pytest.raises(ValueError):
        store_stats_row(msg)
