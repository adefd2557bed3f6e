"""Archive benchmark: insert rate of the real write path, and the weekday x hour query over
generated 1-minute windows (100 zones, ``--days`` of them: 365 = a year = 52.6 M rows).

    python -m bench.archive [--days 365] [--zones 100] [--database-url URL]

1. Insert rate: ZoneStats protobufs -> rows -> ArchiveWriter.write (upsert + hourly rollup refresh,
   one transaction per batch), as the service does; then the same records again (a replay).
2. Generate ``--days`` of 1-minute windows for ``--zones`` zones with generate_series in the database,
   build the hourly rollup, ANALYZE.
3. Weekday x hour per store and zone over the whole range: from the rollup (what reports use)
   and from the raw minutes (what it would cost without the rollup); the ratio is printed.
Everything runs in a schema of its own, dropped at the end (``--keep`` keeps it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
import uuid

from services.archive import db, rows, schema
from services.archive.writer import ROLLUP_COLUMNS, ROLLUP_GROUP, ROLLUP_SELECT, ArchiveWriter
from storesight.contracts import ZoneStats, to_timestamp

ZONES_PER_STORE = 10
FIRST_DAY = dt.date(2025, 11, 3)  # a Monday
TIMEZONES = ("Europe/Lisbon", "America/New_York", "Europe/Berlin", "Asia/Kolkata", "America/Los_Angeles")

RAW_WEEKDAY_HOUR = """
WITH hours AS (
    SELECT z.store_id, z.zone_id, date_trunc('hour', z.window_start, s.timezone) AS hour_start, s.timezone,
           sum(z.entries) AS entries, sum(z.occupancy_avg) AS occupancy_sum, count(z.occupancy_avg) AS occupancy_n
    FROM zone_stats z JOIN stores s ON s.id = z.store_id
    WHERE z.window_start >= %(start)s AND z.window_start < %(end)s
    GROUP BY 1, 2, 3, 4)
SELECT store_id, zone_id, extract(isodow FROM hour_start AT TIME ZONE timezone)::int AS weekday,
       extract(hour FROM hour_start AT TIME ZONE timezone)::int AS hour_of_day, count(*) AS hours,
       avg(entries) AS entries_avg, sum(occupancy_sum) / nullif(sum(occupancy_n), 0) AS occupancy_avg
FROM hours GROUP BY 1, 2, 3, 4"""


def zone_kind(zone: int) -> str:
    return {0: "entrance", 1: "queue"}.get(zone % ZONES_PER_STORE, "aisle")


def messages(zones: int, minutes: int, start: dt.datetime, first_zone: int = 0) -> list[ZoneStats]:
    out = []
    for minute in range(minutes):
        begin = start + dt.timedelta(minutes=minute)
        for zone in range(first_zone, first_zone + zones):
            msg = ZoneStats(store_id=f"bs{zone // ZONES_PER_STORE}", zone_id=f"z{zone}", zone_kind=zone_kind(zone),
                            window_start=to_timestamp(begin), window_end=to_timestamp(begin + dt.timedelta(minutes=1)),
                            status=ZoneStats.STATUS_OK, coverage=1.0, occupancy_avg=(minute + zone) % 7,
                            occupancy_max=(minute + zone) % 9, entries=(minute * zone) % 5, exits=(minute + 1) % 4)
            if zone_kind(zone) == "queue":
                msg.queue_length, msg.wait_measured_s, msg.wait_estimate_s = 2.5, 45.0, 40.0
            out.append(msg)
    return out


def timed(label: str, fn):
    started = time.perf_counter()
    result = fn()
    elapsed = time.perf_counter() - started
    print(f"  {label}: {elapsed:.2f} s", flush=True)
    return result, elapsed


def bench_inserts(conn, zones: int, batch: int, start: dt.datetime, first_zone: int = 0) -> dict:
    """Windows/s through the service's write path (upsert + rollup refresh, one transaction a batch)."""
    msgs = messages(zones, 300, start, first_zone)
    row_list = [rows.zone_stats_row(m) for m in msgs]
    writer = ArchiveWriter(conn)
    writer.ensure_partitions(row_list)

    def write_all() -> int:
        return sum(writer.write(row_list[i:i + batch]) for i in range(0, len(row_list), batch))

    changed, first = timed(f"write {len(row_list):,} new windows in batches of {batch}", write_all)
    unchanged, again = timed("write the same windows again (replay)", write_all)
    assert changed == len(row_list) and unchanged == 0
    started = time.perf_counter()
    converted = [rows.zone_stats_row(m) for m in (ZoneStats.FromString(m.SerializeToString()) for m in msgs)]
    decode = time.perf_counter() - started
    assert len(converted) == len(row_list)
    return {"rows": len(row_list), "insert_per_s": len(row_list) / first, "replay_per_s": len(row_list) / again,
            "decode_convert_per_s": len(row_list) / decode}


def generate(conn, zones: int, days: int) -> dict:
    start = dt.datetime.combine(FIRST_DAY, dt.time(), dt.UTC)
    end = start + dt.timedelta(days=days)
    month = schema.month_start(start)
    while dt.datetime.combine(month, dt.time(), dt.UTC) < end:
        schema.ensure_partition(conn, month)
        month = schema.next_month(month)
    total = 0
    started = time.perf_counter()
    chunk = start
    while chunk < end:  # one statement per week keeps transactions and WAL bursts bounded
        stop = min(chunk + dt.timedelta(days=7), end)
        cur = conn.execute("""
            INSERT INTO zone_stats (store_id, zone_id, window_start, window_end, zone_kind, status, coverage,
                                    occupancy_avg, occupancy_max, entries, exits, queue_length, wait_measured_s,
                                    wait_estimate_s)
            SELECT 'bs' || (z / %(per)s), 'z' || z, t, t + interval '1 minute',
                   CASE z %% %(per)s WHEN 0 THEN 'entrance' WHEN 1 THEN 'queue' ELSE 'aisle' END, 'ok', 1,
                   (random() * 8)::real, (random() * 12)::int,
                   CASE WHEN z %% %(per)s = 0 THEN (random() * 6)::int END, (random() * 6)::int,
                   CASE WHEN z %% %(per)s = 1 THEN (random() * 5)::real END,
                   CASE WHEN z %% %(per)s = 1 THEN (random() * 240)::real END,
                   CASE WHEN z %% %(per)s = 1 THEN (random() * 240)::real END
            FROM generate_series(0, %(zones)s - 1) z,
                 generate_series(%(chunk)s::timestamptz, %(stop)s::timestamptz - interval '1 minute',
                                 interval '1 minute') t""",
            {"per": ZONES_PER_STORE, "zones": zones, "chunk": chunk, "stop": stop})
        total += cur.rowcount
        chunk = stop
        print(f"    generated through {stop:%Y-%m-%d}: {total:,} rows, "
              f"{total / (time.perf_counter() - started):,.0f} rows/s", flush=True)
    generate_s = time.perf_counter() - started

    def build_rollup() -> None:
        conn.execute(f"""INSERT INTO zone_hourly ({", ".join(ROLLUP_COLUMNS)})
            SELECT {ROLLUP_SELECT}
            FROM (SELECT z.*, date_trunc('hour', z.window_start, s.timezone) AS hour_start, s.timezone AS tz
                  FROM zone_stats z JOIN stores s ON s.id = z.store_id
                  WHERE z.window_start >= %s AND z.window_start < %s) z
            {ROLLUP_GROUP}""", (start, end))

    _, rollup_s = timed("build the hourly rollup from the minutes", build_rollup)
    _, analyze_s = timed("VACUUM ANALYZE", lambda: conn.execute("VACUUM ANALYZE zone_stats, zone_hourly"))
    hourly = conn.execute("SELECT count(*) FROM zone_hourly").fetchone()[0]
    size = conn.execute("SELECT pg_size_pretty(sum(pg_total_relation_size(c.oid))) FROM pg_inherits i "
                        "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'zone_stats'::regclass").fetchone()
    return {"start": start, "end": end, "rows": total, "generate_s": generate_s, "rows_per_s": total / generate_s,
            "rollup_s": rollup_s, "analyze_s": analyze_s, "hourly_rows": hourly, "size": size[0]}


def time_queries(conn, queries: dict, repeats: int, label: str = "{}") -> dict:
    """Run each query ``repeats`` times; name -> (best seconds, rows). work_mem is what the
    weekday x hour functions set for themselves, so raw and rollup queries compare fairly."""
    conn.execute("SET work_mem = '64MB'")
    results = {}
    for name, fn in queries.items():
        times = []
        for i in range(repeats):
            got, elapsed = timed(f"{label.format(name)} (run {i + 1})", fn)
            times.append(elapsed)
        results[name] = (min(times), len(got))
    return results


def bench_queries(conn, gen: dict, repeats: int) -> dict:
    first, last = gen["start"].date(), gen["end"].date()

    def rollup_query():
        return conn.execute("SELECT * FROM zone_weekday_hour(%s, %s)", (first, last)).fetchall()

    def raw_query():
        return conn.execute(RAW_WEEKDAY_HOUR, {"start": gen["start"], "end": gen["end"]}).fetchall()

    return time_queries(conn, {"rollup": rollup_query, "raw": raw_query}, repeats, "weekday x hour from {}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.archive", description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--zones", type=int, default=100)
    parser.add_argument("--batch", type=int, default=2000, help="records per archive batch (insert test)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark schema")
    parser.add_argument("--reuse", metavar="SCHEMA", help="measure steps 3-4 again on a schema kept with --keep")
    args = parser.parse_args(argv)

    url = args.database_url or db.database_url()
    name = args.reuse or f"bench_archive_{uuid.uuid4().hex[:6]}"
    conn = db.connect(url, name)
    keep = args.keep or bool(args.reuse)
    start = dt.datetime.combine(FIRST_DAY, dt.time(), dt.UTC)
    try:
        print(f"schema {name}; {args.zones} zones; PostgreSQL {conn.execute('SHOW server_version').fetchone()[0]}",
              flush=True)
        if args.reuse:
            gen = {"start": start, "end": start + dt.timedelta(days=args.days)}
            ins = None
        else:
            schema.migrate(conn, today=FIRST_DAY)
            for s in range(args.zones // ZONES_PER_STORE):
                conn.execute("INSERT INTO stores (id, region, timezone) VALUES (%s, 'bench', %s)",
                             (f"bs{s}", TIMEZONES[s % len(TIMEZONES)]))
            print("1. insert rate (service write path)")
            ins = bench_inserts(conn, args.zones, args.batch, dt.datetime(2027, 3, 1, tzinfo=dt.UTC))
            print(f"2. generate {args.days} days of 1-minute windows")
            gen = generate(conn, args.zones, args.days)
        print("3. weekday x hour over the whole range")
        q = bench_queries(conn, gen, args.repeats)
        busy = start + dt.timedelta(days=args.days - 15)
        print(f"4. insert rate again, other zones, into the loaded month of {busy:%Y-%m}")
        # Zones of their own (a reused schema already holds the previous run's step 4).
        first_zone = args.zones if not args.reuse else 1000 + uuid.uuid4().int % 1_000_000
        full = bench_inserts(conn, args.zones, args.batch, busy, first_zone=first_zone)
        year = 365 / args.days
        print("\nresults")
        if ins:
            print(f"  archive inserts: {ins['insert_per_s']:,.0f} windows/s new, {ins['replay_per_s']:,.0f}/s "
                  f"replayed (batches of {args.batch}; decode+convert alone {ins['decode_convert_per_s']:,.0f}/s)")
        print(f"  archive inserts into a loaded month: {full['insert_per_s']:,.0f} windows/s new, "
              f"{full['replay_per_s']:,.0f}/s replayed")
        if ins:
            print(f"  generated {gen['rows']:,} windows ({args.days} days x {args.zones} zones) in "
                  f"{gen['generate_s']:.0f} s ({gen['rows_per_s']:,.0f}/s), {gen['size']} with indexes; "
                  f"rollup {gen['hourly_rows']:,} rows built in {gen['rollup_s']:.0f} s")
        rollup_s, rollup_n = q["rollup"]
        raw_s, raw_n = q["raw"]
        print(f"  weekday x hour ({rollup_n:,} rows out): rollup {rollup_s:.3f} s, raw minutes {raw_s:.2f} s, "
              f"raw/rollup = {raw_s / rollup_s:.0f}x")
        if args.days != 365 and ins:
            print(f"  linear extrapolation to a year ({year:.2f}x): rollup ~{rollup_s * year:.2f} s, "
                  f"raw ~{raw_s * year:.0f} s, generation ~{gen['generate_s'] * year / 60:.0f} min")
    finally:
        if not keep:
            conn.execute(f"DROP SCHEMA {name} CASCADE")
        conn.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
