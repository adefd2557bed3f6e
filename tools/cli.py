"""The ``storesight`` command line: one verb per task, each in the module that owns it.

Service packages add their verbs through a ``register(subparsers)`` function listed in
VERB_MODULES; heavy imports stay inside the handlers so ``storesight --help`` is fast.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys

from storesight.config import ConfigError, json_schema, load_config

# Modules that add verbs, in the order they appear in --help.
VERB_MODULES: list[str] = [
    "tools.demo",
    "tools.analyze",
    "tools.clip_truth",
    "services.ingest.cli",
    "services.detect.cli",
    "services.aggregate.cli",
    "services.alerts.cli",
    "tools.synth.cli",
    "tools.preview_cli",
    "tools.calibrate",
    "services.archive.cli",
    "services.console.cli",
]

EXIT_CONFIG = 2


def _cmd_config_check(args: argparse.Namespace) -> int:
    status = 0
    for path in args.files:
        try:
            config = load_config(path)
        except ConfigError as exc:
            print(f"{path}: {len(exc.problems)} problem(s)")
            for problem in exc.problems:
                print(f"  {problem}")
            status = EXIT_CONFIG
            continue
        cameras = sum(len(s.cameras) for s in config.stores)
        print(f"{path}: OK (region {config.region}, {len(config.stores)} store(s), {cameras} camera(s))")
    return status


def _cmd_config_schema(_args: argparse.Namespace) -> int:
    print(json.dumps(json_schema(), indent=2))
    return 0


def _cmd_broker(args: argparse.Namespace) -> int:
    import signal
    import threading

    from storesight.broker import EmbeddedBroker
    from storesight.logs import setup_logging
    from storesight.topics import ensure_topics

    setup_logging("broker")
    broker = EmbeddedBroker(port=args.port).start()
    print(f"embedded broker on {broker.bootstrap} (in memory; Ctrl-C stops it)", flush=True)
    try:
        if args.topics:
            for name, what in ensure_topics(broker.bootstrap).items():
                print(f"  {name}: {what}")
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        stop.wait()
    finally:
        broker.stop()
        print("broker stopped", flush=True)
    return 0


def _cmd_topics_ensure(args: argparse.Namespace) -> int:
    import os

    from storesight.config import KafkaSettings
    from storesight.startup import StartupError, exit_on_startup_error
    from storesight.topics import ensure_topics

    try:
        # --config brings pipeline.kafka's security (TLS, SASL from the environment) to the admin client.
        kafka = load_config(args.config).pipeline.kafka if args.config else KafkaSettings()
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_CONFIG
    if args.bootstrap:
        os.environ.pop("KAFKA_BOOTSTRAP", None)  # an explicit --bootstrap wins over the environment
        kafka = kafka.model_copy(update={"bootstrap": args.bootstrap})
    try:
        done = ensure_topics(kafka)
    except StartupError as exc:
        return exit_on_startup_error("topics", exc)
    for name, what in done.items():
        print(f"{name}: {what}")
    return 0


def _cmd_topics_list(_args: argparse.Namespace) -> int:
    from storesight.topics import ALL_TOPICS

    for t in ALL_TOPICS:
        print(f"{t.name}\tpartitions={t.partitions}\tretention_ms={t.retention_ms}\t"
              f"max_message_bytes={t.max_message_bytes}\tkey={t.key}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="storesight", description="In-store video analytics on Kafka.")
    sub = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    cfg = sub.add_parser("config", help="check a config file or print its JSON Schema")
    cfg_sub = cfg.add_subparsers(dest="action", required=True)
    check = cfg_sub.add_parser("check", help="validate config files; exit 2 naming every bad key")
    check.add_argument("files", nargs="+")
    check.set_defaults(func=_cmd_config_check)
    cfg_sub.add_parser("schema", help="print the JSON Schema of the config").set_defaults(func=_cmd_config_schema)

    broker = sub.add_parser("broker", help="run the embedded Kafka-protocol broker (development/demo)")
    broker.add_argument("--port", type=int, default=9092)
    broker.add_argument("--no-topics", dest="topics", action="store_false", help="do not create the topics")
    broker.set_defaults(func=_cmd_broker)

    topics = sub.add_parser("topics", help="create or list the project's topics")
    topics_sub = topics.add_subparsers(dest="action", required=True)
    ensure = topics_sub.add_parser("ensure", help="create missing topics (idempotent)")
    ensure.add_argument("--bootstrap", default=None,
                        help="host:port (default: KAFKA_BOOTSTRAP, else the config's, else 127.0.0.1:9092)")
    ensure.add_argument("--config", help="region config: pipeline.kafka's address and security")
    ensure.set_defaults(func=_cmd_topics_ensure)
    topics_sub.add_parser("list", help="print the topic registry").set_defaults(func=_cmd_topics_list)

    for module_name in VERB_MODULES:
        importlib.import_module(module_name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
