"""``storesight console --config FILE`` (also ``python -m services.console``): run the web
console; ``storesight console hash-password``: print a hash for ``CONSOLE_USERS``.

Environment: ``CONSOLE_USERS`` (``name:role:hash,...``; roles viewer, installer) and
``CONSOLE_SECRET_KEY`` (at least 32 characters; signs the session cookies), both from a
Secret in Kubernetes. Neither is ever logged.
"""

from __future__ import annotations

import argparse
import os
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="region config YAML")
    parser.add_argument("--writable", action="store_true",
                        help="let installers save layouts into --config (else they download the YAML)")
    parser.add_argument("--host", default=os.environ.get("CONSOLE_HOST", "0.0.0.0"))
    parser.add_argument("--port", type=int, default=None,
                        help="HTTP port (default STORESIGHT_HTTP_PORT, else 8086)")
    parser.add_argument("--insecure-cookies", action="store_true",
                        help="development over plain http on another host than localhost only: "
                             "session cookies without the Secure flag")
    parser.add_argument("--threads", type=int, default=8, help="request threads")
    parser.add_argument("--redis-prefix", default="storesight:",
                        help="prefix of the aggregate's Redis keys (its --redis-prefix)")


def run_from_args(args: argparse.Namespace) -> int:
    import logging
    import threading

    from waitress import create_server

    from services.console.app import ConfigFile, ConsoleSettings, create_app
    from services.console.auth import users_from_env
    from services.console.incidents import IncidentBoard
    from storesight.config import ConfigError
    from storesight.logs import setup_logging
    from storesight.service import ServiceRunner

    setup_logging("console", os.environ.get("LOG_LEVEL", "INFO"))
    log = logging.getLogger("services.console")
    if not args.config:
        log.error("cannot start", extra={"reason": "--config FILE is required"})
        return 2
    try:
        users = users_from_env()
        config = ConfigFile(args.config, writable=args.writable)
        secret = os.environ.get("CONSOLE_SECRET_KEY", "")
        if len(secret) < 32:
            raise ValueError("CONSOLE_SECRET_KEY must be set to at least 32 characters")
        if not users:
            raise ValueError("CONSOLE_USERS is empty: no one could sign in")
    except ConfigError as exc:
        log.error("bad config", extra={"problems": "; ".join(exc.problems)})
        return 2
    except ValueError as exc:
        log.error("cannot start", extra={"reason": str(exc)})
        return 2
    runner = ServiceRunner("console", args.port, host=args.host)
    from storesight.redis_client import connect_redis, redis_url

    def open_redis():
        return connect_redis(redis_url(config.config.pipeline.redis_url), connect_timeout_s=3.0,
                             socket_timeout=3.0)

    board = IncidentBoard()
    threading.Thread(target=_follow_forever, args=(board, config.config.pipeline.kafka, runner.stopping, log),
                     name="alerts-topic", daemon=True).start()
    app = create_app(ConsoleSettings(
        config=config, users=users, secret_key=secret, secure_cookies=not args.insecure_cookies, runner=runner,
        redis_factory=open_redis, live_key_prefix=args.redis_prefix, incidents=board, ack_secret=os.environ.get("ACK_SECRET", ""),
        ack_base_url=os.environ.get("CONSOLE_ACK_BASE_URL", config.config.pipeline.alerts.ack_base_url)))
    server = create_server(app, host=args.host, port=runner.port, threads=args.threads, ident="storesight")
    runner.port = server.effective_port
    threading.Thread(target=server.run, name="http", daemon=True).start()
    runner.set_ready()
    log.info("console listening", extra={"port": runner.port, "users": len(users), "writable": args.writable})
    print(f"console on http://{args.host}:{runner.port}/", flush=True)
    runner.stopping.wait()
    runner.set_ready(False)
    server.close()
    return 0


def _follow_forever(board, kafka, stopping, log) -> None:
    """Follow the alerts topic; if Kafka is away, say why and try again (the pages keep working)."""
    from services.console.incidents import follow_alerts
    from storesight.topics import ALERTS

    while not stopping.is_set():
        try:
            follow_alerts(board, kafka, ALERTS, stopping)
        except Exception as exc:  # noqa: BLE001 - a broker outage must not end the console
            log.warning("alerts topic unavailable; retrying", extra={"reason": str(exc)[:300]})
            stopping.wait(5.0)


def _cmd_hash_password(args: argparse.Namespace) -> int:
    import getpass

    from services.console.auth import hash_password

    if args.stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            print("the passwords differ", file=sys.stderr)
            return 2
    if len(password) < 8:
        print("use at least 8 characters", file=sys.stderr)
        return 2
    print(hash_password(password))
    return 0


def _cmd_console(args: argparse.Namespace) -> int:
    if getattr(args, "action", None) == "hash-password":
        return _cmd_hash_password(args)
    return run_from_args(args)


def register(sub) -> None:
    parser = sub.add_parser("console", help="run the web console (calibration); 'console hash-password' "
                                            "makes a CONSOLE_USERS hash")
    add_arguments(parser)
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    hashing = actions.add_parser("hash-password", help="print a password hash for CONSOLE_USERS")
    hashing.add_argument("--stdin", action="store_true", help="read the password from standard input")
    parser.set_defaults(func=_cmd_console)
