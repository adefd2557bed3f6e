"""Till transactions from CSV (store, timestamp, basket id, amount) into PostgreSQL.

The import is idempotent on (store, basket id): importing a file twice, or an overlapping export,
changes nothing. A file with any bad line imports nothing and names every bad line.
Timestamps with an offset (``2026-11-01T09:30:00Z``, ``...+01:00``) are taken as they are; a
timestamp without one is store-local time, and a local time that a DST change makes ambiguous
(fall-back hour) or nonexistent (spring-forward hour) is an error, not a guess.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg

# Accepted header names for each column (the first row of the file is the header).
HEADERS = {
    "store_id": ("store", "store_id"),
    "ts": ("timestamp", "ts", "time"),
    "basket_id": ("basket_id", "basket id", "basket"),
    "amount": ("amount",),
}


@dataclass(frozen=True)
class Transaction:
    store_id: str
    basket_id: str
    ts: dt.datetime
    amount: Decimal


class TransactionFileError(ValueError):
    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


def _columns(header: list[str]) -> dict[str, int]:
    names = [h.strip().lower() for h in header]
    found, missing = {}, []
    for column, accepted in HEADERS.items():
        index = next((names.index(a) for a in accepted if a in names), None)
        if index is None:
            missing.append(f"line 1: no {accepted[0]!r} column (accepted: {', '.join(accepted)})")
        else:
            found[column] = index
    if missing:
        raise TransactionFileError(missing)
    return found


def _timestamp(text: str, tz: ZoneInfo) -> dt.datetime:
    value = dt.datetime.fromisoformat(text.strip())
    if value.tzinfo is not None:
        return value.astimezone(dt.UTC)
    first, second = value.replace(tzinfo=tz, fold=0), value.replace(tzinfo=tz, fold=1)
    if first.utcoffset() != second.utcoffset():
        raise ValueError(f"local time {text.strip()!r} is ambiguous or skipped by a DST change in {tz.key}; "
                         "give it with its UTC offset")
    return first.astimezone(dt.UTC)


def parse_transactions(lines: Iterable[str], timezones: Mapping[str, str]) -> list[Transaction]:
    """Parse CSV lines; ``timezones`` maps known store ids to their IANA time zone."""
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is None:
        raise TransactionFileError(["line 1: empty file"])
    cols = _columns(header)
    parsed, problems = [], []
    for number, fields in enumerate(reader, start=2):
        if not any(f.strip() for f in fields):
            continue
        try:
            store = fields[cols["store_id"]].strip()
            if store not in timezones:
                raise ValueError(f"unknown store {store!r} (run 'storesight archive migrate --config ...' first)")
            basket = fields[cols["basket_id"]].strip()
            if not basket:
                raise ValueError("empty basket id")
            try:
                amount = Decimal(fields[cols["amount"]].strip())
            except InvalidOperation:
                raise ValueError(f"amount {fields[cols['amount']]!r} is not a number") from None
            ts = _timestamp(fields[cols["ts"]], ZoneInfo(timezones[store]))
        except IndexError:
            problems.append(f"line {number}: expected {len(header)} fields, got {len(fields)}")
            continue
        except ValueError as exc:
            problems.append(f"line {number}: {exc}")
            continue
        parsed.append(Transaction(store, basket, ts, amount))
    if problems:
        raise TransactionFileError(problems)
    return parsed


UPSERT = """INSERT INTO transactions (store_id, basket_id, ts, amount)
    SELECT * FROM unnest(%s::text[], %s::text[], %s::timestamptz[], %s::numeric[])
    ON CONFLICT (store_id, basket_id) DO UPDATE SET ts = EXCLUDED.ts, amount = EXCLUDED.amount
    WHERE (transactions.ts, transactions.amount) IS DISTINCT FROM (EXCLUDED.ts, EXCLUDED.amount)"""


def import_transactions(conn: psycopg.Connection, path: str | Path) -> tuple[int, int]:
    """Import a CSV file in one transaction; return (rows written or changed, rows unchanged)."""
    timezones = dict(conn.execute("SELECT id, timezone FROM stores").fetchall())
    with open(path, encoding="utf-8", newline="") as f:
        parsed = parse_transactions(f, timezones)
    latest = {(t.store_id, t.basket_id): t for t in parsed}
    items = list(latest.values())
    with conn.transaction():
        cur = conn.execute(UPSERT, ([t.store_id for t in items], [t.basket_id for t in items],
                                    [t.ts for t in items], [t.amount for t in items]))
    return cur.rowcount, len(items) - cur.rowcount
