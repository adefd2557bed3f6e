"""CLI verbs of the archive: ``archive`` (service), ``archive migrate``, ``transactions import``, ``report``."""

from __future__ import annotations

import argparse
import datetime as dt
import sys

EXIT_INPUT = 2


def _settings(args: argparse.Namespace):
    """(config or None, database URL): DATABASE_URL overrides the config's database_url."""
    from services.archive import db
    from storesight.config import load_config

    config = load_config(args.config) if args.config else None
    return config, db.database_url(config.pipeline if config else None)


def _open(args: argparse.Namespace):
    """A migrated connection; with --config, the stores table is synced from it."""
    from services.archive import db, schema

    config, url = _settings(args)
    conn = db.connect(url, args.schema)
    applied = schema.migrate(conn)
    if config is not None:
        schema.sync_stores(conn, config)
    return conn, config, applied


def _cmd_archive(args: argparse.Namespace) -> int:
    from services.archive import service
    from storesight.config import ConfigError, load_config
    from storesight.service import start_service

    if not args.config:
        print("storesight archive: --config FILE is required to run the service", file=sys.stderr)
        return EXIT_INPUT
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print("\n".join([str(exc.source), *exc.problems]), file=sys.stderr)
        return EXIT_INPUT
    from storesight.startup import StartupError, exit_on_startup_error

    runner = start_service("archive")
    try:
        return service.run(config, runner, schema_name=args.schema, group=args.group)
    except StartupError as exc:  # wrong Kafka/PostgreSQL credential, CA or protocol
        return exit_on_startup_error("archive", exc)
    finally:
        runner.close()


def _cmd_migrate(args: argparse.Namespace) -> int:
    conn, config, applied = _open(args)
    with conn:
        for name in applied:
            print(f"applied {name}")
        if not applied:
            print("schema up to date")
        if config is not None:
            print(f"stores synced: {', '.join(s.id for s in config.stores)}")
    return 0


def _cmd_transactions_import(args: argparse.Namespace) -> int:
    from services.archive.transactions import TransactionFileError, import_transactions

    conn, _config, _ = _open(args)
    with conn:
        try:
            written, unchanged = import_transactions(conn, args.file)
        except TransactionFileError as exc:
            print(f"{args.file}: {len(exc.problems)} problem(s); nothing imported", file=sys.stderr)
            for problem in exc.problems:
                print(f"  {problem}", file=sys.stderr)
            return EXIT_INPUT
    print(f"{args.file}: {written} transaction(s) written, {unchanged} unchanged")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from services.archive.report import write_report

    conn, _config, _ = _open(args)
    with conn:
        try:
            path = write_report(conn, args.store, args.first_day, args.last_day, args.out)
        except KeyError as exc:
            print(exc.args[0], file=sys.stderr)
            return EXIT_INPUT
    print(f"wrote {path}")
    return 0


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-12-01") from None


def _db_options(parser: argparse.ArgumentParser, config_required: bool = False) -> None:
    parser.add_argument("--config", required=config_required,
                        help="region config (database_url, stores); DATABASE_URL overrides the address")
    parser.add_argument("--schema", default="storesight", help="PostgreSQL schema of the archive")


def register(sub) -> None:
    archive = sub.add_parser("archive", help="archive zone stats and alerts into PostgreSQL (service)")
    _db_options(archive)
    archive.add_argument("--group", default="storesight-archive", help="Kafka consumer group")
    archive.set_defaults(func=_cmd_archive)
    archive_sub = archive.add_subparsers(dest="action", metavar="ACTION")
    migrate = archive_sub.add_parser("migrate", help="apply schema migrations and sync stores (idempotent)")
    _db_options(migrate)
    migrate.set_defaults(func=_cmd_migrate)

    transactions = sub.add_parser("transactions", help="till transactions")
    tx_sub = transactions.add_subparsers(dest="action", required=True, metavar="ACTION")
    imp = tx_sub.add_parser("import", help="import a CSV (store, timestamp, basket_id, amount); idempotent")
    imp.add_argument("file")
    _db_options(imp)
    imp.set_defaults(func=_cmd_transactions_import)

    report = sub.add_parser("report", help="write a store's history as report.html with PNG charts")
    report.add_argument("--store", required=True)
    report.add_argument("--from", dest="first_day", type=_date, required=True, help="first local date")
    report.add_argument("--to", dest="last_day", type=_date, required=True, help="last local date (included)")
    report.add_argument("--out", default="report", help="output folder")
    _db_options(report)
    report.set_defaults(func=_cmd_report)
