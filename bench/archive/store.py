"""Archive benchmark for the store as a whole: StoreStats writes, and occupancy / footfall by hour and
weekday x hour and the conversion rate from the store footfall, over a year of 1-minute store windows.

    python -m bench.archive.store [--days 365] [--stores 10] [--database-url URL]

1. Insert rate: StoreStats protobufs -> rows -> ArchiveWriter.write (upsert + hourly rollup refresh,
   one transaction per batch), as the service does; then the same records again (a replay).
2. Generate ``--days`` of 1-minute store windows for ``--stores`` stores (with entrances) in SQL, build
   the hourly rollup, one till transaction per 20 entries, ANALYZE.
3. Timed queries over the whole range, from the rollup and (for the pattern) from the raw minutes:
   footfall and occupancy by hour of one store, weekday x hour of every store, the daily conversion
   rate from the store footfall. Every query runs ``--repeats`` times; the best time is printed.
Everything runs in a schema of its own, dropped at the end (``--keep`` keeps it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
import uuid

from bench.archive.__main__ import FIRST_DAY, TIMEZONES, time_queries, timed
from services.archive import db, rows, schema
from services.archive.writer import (
    STORE_ROLLUP_COLUMNS,
    STORE_ROLLUP_GROUP,
    STORE_ROLLUP_SELECT,
    ArchiveWriter,
)
from storesight.contracts import StoreStats, to_timestamp

RAW_WEEKDAY_HOUR = """
WITH hours AS (
    SELECT z.store_id, date_trunc('hour', z.window_start, s.timezone) AS hour_start, s.timezone,
           sum(z.entries) AS footfall, sum(z.occupancy) AS occupancy_sum, count(*) AS occupancy_n
    FROM store_stats z JOIN stores s ON s.id = z.store_id
    WHERE z.window_start >= %(start)s AND z.window_start < %(end)s AND z.status <> 'unknown'
    GROUP BY 1, 2, 3)
SELECT store_id, extract(isodow FROM hour_start AT TIME ZONE timezone)::int AS weekday,
       extract(hour FROM hour_start AT TIME ZONE timezone)::int AS hour_of_day, count(*) AS hours,
       avg(footfall) AS footfall_avg, sum(occupancy_sum) / nullif(sum(occupancy_n), 0) AS occupancy_avg
FROM hours GROUP BY 1, 2, 3"""


def messages(stores: int, minutes: int, start: dt.datetime, first_store: int = 0) -> list[StoreStats]:
    out = []
    for minute in range(minutes):
        begin = start + dt.timedelta(minutes=minute)
        for store in range(first_store, first_store + stores):
            out.append(StoreStats(
                store_id=f"bs{store}", window_start=to_timestamp(begin),
                window_end=to_timestamp(begin + dt.timedelta(minutes=1)), local_date=begin.date().isoformat(),
                status=StoreStats.STATUS_OK, coverage=1.0, open=True, entries=(minute * store) % 5,
                exits=(minute + store) % 4, occupancy=(minute + store) % 40, footfall_day=minute,
                reset=StoreStats.RESET_NONE))
    return out


def bench_inserts(conn, stores: int, batch: int, start: dt.datetime) -> dict:
    msgs = messages(stores, 300, start)
    row_list = [rows.store_stats_row(m) for m in msgs]
    writer = ArchiveWriter(conn)

    def write_all() -> int:
        return sum(writer.write([], (), row_list[i:i + batch]) for i in range(0, len(row_list), batch))

    changed, first = timed(f"write {len(row_list):,} new store windows in batches of {batch}", write_all)
    unchanged, again = timed("write the same windows again (replay)", write_all)
    assert changed == len(row_list) and unchanged == 0
    return {"rows": len(row_list), "insert_per_s": len(row_list) / first, "replay_per_s": len(row_list) / again}


def generate(conn, stores: int, days: int) -> dict:
    start = dt.datetime.combine(FIRST_DAY, dt.time(), dt.UTC)
    end = start + dt.timedelta(days=days)
    month = schema.month_start(start)
    while dt.datetime.combine(month, dt.time(), dt.UTC) < end:
        schema.ensure_partition(conn, month)
        month = schema.next_month(month)
    total, started, chunk = 0, time.perf_counter(), start
    while chunk < end:
        stop = min(chunk + dt.timedelta(days=14), end)
        cur = conn.execute("""
            INSERT INTO store_stats (store_id, window_start, window_end, local_date, status, coverage, open,
                                     entries, exits, occupancy, footfall_day)
            SELECT 'bs' || s, t, t + interval '1 minute', t::date,
                   CASE WHEN random() < 0.01 THEN 'unknown' ELSE 'ok' END, 1, true,
                   (random() * 4)::int, (random() * 4)::int, (random() * 60)::int, 0
            FROM generate_series(0, %(stores)s - 1) s,
                 generate_series(%(chunk)s::timestamptz, %(stop)s::timestamptz - interval '1 minute',
                                 interval '1 minute') t""", {"stores": stores, "chunk": chunk, "stop": stop})
        total += cur.rowcount
        chunk = stop
    generate_s = time.perf_counter() - started
    print(f"  generated {total:,} store windows in {generate_s:.1f} s", flush=True)

    def build_rollup() -> None:
        conn.execute(f"""INSERT INTO store_traffic_hourly ({", ".join(STORE_ROLLUP_COLUMNS)})
            SELECT {STORE_ROLLUP_SELECT}
            FROM (SELECT z.*, date_trunc('hour', z.window_start, s.timezone) AS hour_start, s.timezone AS tz
                  FROM store_stats z JOIN stores s ON s.id = z.store_id
                  WHERE z.window_start >= %s AND z.window_start < %s) z
            {STORE_ROLLUP_GROUP}""", (start, end))

    _, rollup_s = timed("build the hourly rollup from the minutes", build_rollup)
    # One basket per 20 entries in each hour, so the conversion rate has something to divide.
    _, till_s = timed("till transactions", lambda: conn.execute("""
        INSERT INTO transactions (store_id, basket_id, ts, amount)
        SELECT h.store_id, h.store_id || '-' || extract(epoch FROM h.hour_start)::bigint || '-' || k,
               h.hour_start + interval '30 minutes', 10
        FROM store_traffic_hourly h, generate_series(1, greatest(h.footfall / 20, 0)::int) k"""))
    _, analyze_s = timed("VACUUM ANALYZE", lambda: conn.execute(
        "VACUUM ANALYZE store_stats, store_traffic_hourly, transactions"))
    hourly = conn.execute("SELECT count(*) FROM store_traffic_hourly").fetchone()[0]
    return {"start": start, "end": end, "rows": total, "generate_s": generate_s, "rollup_s": rollup_s,
            "hourly_rows": hourly}


def bench_queries(conn, gen: dict, repeats: int) -> dict:
    first, last = gen["start"].date(), gen["end"].date()
    queries = {
        "footfall + occupancy by hour, one store, the year (rollup)": lambda: conn.execute(
            """SELECT hour_start, footfall, occupancy_avg, occupancy_max FROM store_traffic_hourly_local
               WHERE store_id = 'bs0' AND local_hour >= %s AND local_hour < %s ORDER BY hour_start""",
            (first, last)).fetchall(),
        "weekday x hour, every store, the year (rollup)": lambda: conn.execute(
            "SELECT * FROM store_traffic_weekday_hour(%s, %s)", (first, last)).fetchall(),
        "weekday x hour, every store, the year (raw minutes)": lambda: conn.execute(
            RAW_WEEKDAY_HOUR, {"start": gen["start"], "end": gen["end"]}).fetchall(),
        "daily conversion from the store footfall, one store, the year": lambda: conn.execute(
            """SELECT local_date, visitors, transactions, conversion_rate FROM store_daily
               WHERE store_id = 'bs0' AND local_date >= %s AND local_date < %s ORDER BY 1""",
            (first, last)).fetchall(),
    }
    return time_queries(conn, queries, repeats)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.archive.store", description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--stores", type=int, default=10)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)

    conn = db.connect(args.database_url or db.database_url(), name := f"bench_store_{uuid.uuid4().hex[:6]}")
    try:
        print(f"schema {name}; {args.stores} stores; {args.days} days; "
              f"PostgreSQL {conn.execute('SHOW server_version').fetchone()[0]}", flush=True)
        schema.migrate(conn, today=FIRST_DAY)
        for s in range(args.stores):
            conn.execute("INSERT INTO stores (id, region, timezone, entrances) VALUES (%s, 'bench', %s, true)",
                         (f"bs{s}", TIMEZONES[s % len(TIMEZONES)]))
        print("1. insert rate (service write path)")
        ins = bench_inserts(conn, args.stores, args.batch, dt.datetime(2027, 3, 1, tzinfo=dt.UTC))
        print(f"2. generate {args.days} days of 1-minute store windows")
        gen = generate(conn, args.stores, args.days)
        print("3. queries over the whole range")
        q = bench_queries(conn, gen, args.repeats)
        print("\nresults")
        print(f"  inserts: {ins['insert_per_s']:,.0f} store windows/s new, {ins['replay_per_s']:,.0f}/s replayed")
        print(f"  data: {gen['rows']:,} store windows, {gen['hourly_rows']:,} hourly rows, "
              f"rollup built in {gen['rollup_s']:.1f} s")
        for label, (best, count) in q.items():
            print(f"  {label}: {best:.3f} s ({count:,} rows)")
        raw = q["weekday x hour, every store, the year (raw minutes)"][0]
        rollup = q["weekday x hour, every store, the year (rollup)"][0]
        print(f"  weekday x hour raw / rollup: {raw / rollup:.1f}x")
    finally:
        if not args.keep:
            conn.execute(f"DROP SCHEMA {name} CASCADE")
        conn.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
