"""A small archive fixture with hand-computed answers, around the DST fall-back day in New York.

America/New_York leaves DST on Sunday 2026-11-01 at 06:00 UTC (02:00 EDT -> 01:00 EST), so that
local day has 25 hours and two "01:00" hours (05:00Z EDT and 06:00Z EST).

Store "ny" (region "east"): door = entrance, q1 = queue, floor = aisle, cafe = area (attributes
only: 06:10Z happy 4 neutral 2 / 18-29 6; 06:11Z happy 5 / 18-29 5). Door windows (entries):
  03:59Z Oct 31 23:59 local ... 7        04:59Z Nov 1 00:59 EDT ... 2
  05:30Z 01:30 EDT ............ 3        05:31Z 01:31 EDT ......... unknown
  06:30Z 01:30 EST ............ 5        07:10Z 02:10 EST ......... 1
  12:00Z 07:00 EST ............ unknown  Nov 2 04:30Z = Nov 1 23:30 EST ... 4
  Nov 8 05:30Z = Sun Nov 8 00:30 EST ... 6
Store "lis" (Europe/Lisbon, region "east"): door 20 entries at Nov 1 10:00Z (10:00 WET).
Store "far" (region "west") exists only to be left out of east's ranking.
"""

from __future__ import annotations

import datetime as dt
import uuid

import psycopg
import pytest

from services.archive import db, rows, schema
from services.archive.writer import ArchiveWriter
from storesight.config import parse_config
from storesight.contracts import ZoneStats, to_timestamp

UTC = dt.UTC


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).astimezone(UTC)


def region_config(region: str, stores: list[tuple[str, str]], bootstrap: str = "127.0.0.1:9092"):
    """A valid region config whose stores have one camera with door/q1/floor zones."""
    square = [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5]]
    return parse_config({
        "region": region,
        "pipeline": {"kafka": {"bootstrap": bootstrap}},
        "stores": [{
            "id": store_id, "name": store_id.upper(), "timezone": tz,
            "cameras": [{"id": f"{store_id}-cam", "source": "rtsp://127.0.0.1/x", "zones": [
                {"id": "door", "kind": "entrance", "polygon": square},
                {"id": "q1", "kind": "queue", "polygon": square},
                {"id": "floor", "kind": "aisle", "polygon": square},
            ]}],
        } for store_id, tz in stores],
    })


EAST = region_config("east", [("ny", "America/New_York"), ("lis", "Europe/Lisbon")])
WEST = region_config("west", [("far", "America/Los_Angeles")])


def stats(store: str, zone: str, kind: str, start: str, *, minutes: int = 1, unknown: bool = False,
          live: bool = False, **values) -> ZoneStats:
    begin = at(start)
    msg = ZoneStats(store_id=store, zone_id=zone, zone_kind=kind, window_start=to_timestamp(begin),
                    window_end=to_timestamp(begin + dt.timedelta(minutes=minutes)), live=live,
                    status=ZoneStats.STATUS_UNKNOWN if unknown else ZoneStats.STATUS_OK,
                    coverage=0.0 if unknown else 1.0)
    for name, value in values.items():
        setattr(msg, name, value)
    return msg


def door(start: str, entries: int | None, store: str = "ny") -> ZoneStats:
    if entries is None:
        return stats(store, "door", "entrance", start, unknown=True)
    return stats(store, "door", "entrance", start, entries=entries, exits=entries)


def with_attributes(start: str, expressions: dict[str, int], age_bands: dict[str, int]) -> ZoneStats:
    """A window of zone "cafe" carrying a k-anonymous attribute aggregate."""
    msg = stats("ny", "cafe", "area", start)
    agg = msg.attributes.add(zone_id="cafe", distinct_tracks=sum(expressions.values()))
    agg.expressions.update(expressions)
    agg.age_bands.update(age_bands)
    return msg


FIXTURE: list[ZoneStats] = [
    door("2026-11-01T03:59:00Z", 7),
    door("2026-11-01T04:59:00Z", 2),
    door("2026-11-01T05:30:00Z", 3),
    door("2026-11-01T05:31:00Z", None),
    door("2026-11-01T06:30:00Z", 5),
    door("2026-11-01T07:10:00Z", 1),
    door("2026-11-01T12:00:00Z", None),
    door("2026-11-02T04:30:00Z", 4),
    door("2026-11-08T05:30:00Z", 6),
    stats("ny", "q1", "queue", "2026-11-01T05:30:00Z", wait_measured_s=60, wait_estimate_s=50, queue_length=2),
    stats("ny", "q1", "queue", "2026-11-01T05:45:00Z", wait_measured_s=120, wait_estimate_s=70, queue_length=4),
    stats("ny", "q1", "queue", "2026-11-01T06:30:00Z", wait_measured_s=30, wait_estimate_s=30, queue_length=1),
    stats("ny", "floor", "aisle", "2026-11-01T05:30:00Z", occupancy_avg=4, occupancy_max=7),
    stats("ny", "floor", "aisle", "2026-11-01T05:31:00Z", occupancy_avg=6, occupancy_max=9),
    with_attributes("2026-11-01T06:10:00Z", {"happy": 4, "neutral": 2}, {"18-29": 6}),
    with_attributes("2026-11-01T06:11:00Z", {"happy": 5}, {"18-29": 5}),
    door("2026-11-01T10:00:00Z", 20, store="lis"),
    door("2026-11-01T10:00:00Z", 50, store="far"),
]

# Till transactions of the fixture: b4 is store-local (no offset), b5 falls in an unknown hour.
TRANSACTIONS_CSV = """store,timestamp,basket_id,amount
ny,2026-11-01T01:40:00-04:00,b1,10.00
ny,2026-11-01T01:10:00-05:00,b2,20.00
ny,2026-11-01T06:20:00Z,b3,5.50
ny,2026-11-01 23:50:00,b4,7.25
ny,2026-11-01T12:15:00Z,b5,3.00
lis,2026-11-01T10:05:00Z,l1,1.00
lis,2026-11-01T10:06:00Z,l2,2.00
"""


def fresh_schema(postgres_url: str, prefix: str) -> tuple[psycopg.Connection, str]:
    """A new, migrated schema of the test's own (dropped by ``drop_schema``)."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    conn = db.connect(postgres_url, name)
    schema.migrate(conn, today=dt.date(2026, 11, 1))
    schema.sync_stores(conn, EAST)
    schema.sync_stores(conn, WEST)
    return conn, name


def drop_schema(conn: psycopg.Connection, name: str) -> None:
    conn.execute(f"DROP SCHEMA {name} CASCADE")
    conn.close()


def load_fixture(conn: psycopg.Connection, messages: list[ZoneStats] = FIXTURE) -> ArchiveWriter:
    writer = ArchiveWriter(conn)
    writer.write([rows.zone_stats_row(m) for m in messages])
    return writer


@pytest.fixture(scope="module")
def archive_conn(postgres_url):
    conn, name = fresh_schema(postgres_url, "t_archive")
    yield conn
    drop_schema(conn, name)
