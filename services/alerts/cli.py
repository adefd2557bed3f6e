"""``storesight alerts --config FILE``: run the alerts service (also ``python -m services.alerts``)."""

from __future__ import annotations

import argparse
import os
import socket


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="region config YAML")
    parser.add_argument("--replica-id", default=os.environ.get("HOSTNAME") or socket.gethostname(),
                        help="stable name of this replica (the pod name): a restarted replica takes over "
                             "its own unfinished sends at once")
    parser.add_argument("--group", default="storesight-alerts", help="Kafka consumer group")
    parser.add_argument("--zone-stats-topic", default=None, help="override the topic name (tests)")
    parser.add_argument("--health-topic", default=None, help="override the topic name (tests)")
    parser.add_argument("--store-stats-topic", default=None, help="override the topic name (tests)")
    parser.add_argument("--alerts-topic", default=None, help="override the topic name (tests); DLQ is <name>.dlq")
    parser.add_argument("--key-prefix", default="storesight:alerts:", help="Redis key prefix")


def run_from_args(args: argparse.Namespace) -> int:
    import dataclasses
    import logging

    from services.alerts.service import run
    from storesight.config import ConfigError, load_config
    from storesight.service import start_service
    from storesight.startup import StartupError, exit_on_startup_error
    from storesight.topics import ALERTS, CAMERA_HEALTH, STORE_STATS, ZONE_STATS

    runner = start_service("alerts")
    log = logging.getLogger("services.alerts")
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        log.error("bad config", extra={"problems": "; ".join(exc.problems)})
        runner.close()
        return 2

    def topic(base, name):
        return base if not name else dataclasses.replace(base, name=name)

    try:
        run(config, replica_id=args.replica_id, runner=runner, group=args.group,
            zone_topic=topic(ZONE_STATS, args.zone_stats_topic), health_topic=topic(CAMERA_HEALTH, args.health_topic),
            alerts_topic=topic(ALERTS, args.alerts_topic), key_prefix=args.key_prefix,
            store_topic=topic(STORE_STATS, args.store_stats_topic))
    except StartupError as exc:  # wrong Kafka/Redis credential, CA or protocol
        return exit_on_startup_error("alerts", exc)
    except RuntimeError as exc:
        log.error("cannot start", extra={"reason": str(exc)})
        return 1
    finally:
        runner.close()
    return 0


def register(sub) -> None:
    parser = sub.add_parser("alerts", help="run the alerts service (rules -> incidents -> SMS, e-mail, webhook)")
    add_arguments(parser)
    parser.set_defaults(func=run_from_args)
