"""``storesight ingest --config FILE [--replica-index I] [--replicas N]``."""

from __future__ import annotations

import argparse
import os
import sys


def _cmd_ingest(args: argparse.Namespace) -> int:
    from services.ingest.service import run
    from services.ingest.sharding import replica_index_from_env
    from storesight.config import ConfigError, load_config

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"{args.config}: {len(exc.problems)} problem(s)", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    replicas = args.replicas or config.pipeline.ingest.replicas
    index = args.replica_index
    if index is None:
        index = replica_index_from_env(os.environ) or 0
    if not 0 <= index < replicas:
        print(f"replica index {index} is outside 0..{replicas - 1}", file=sys.stderr)
        return 2
    from storesight.startup import StartupError, exit_on_startup_error

    try:
        return run(config, index, replicas)
    except StartupError as exc:  # wrong Kafka credential, CA or protocol
        return exit_on_startup_error("ingest", exc)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="region config YAML")
    parser.add_argument("--replica-index", type=int, default=None,
                        help="this replica's index (default: the ordinal in $POD_NAME, e.g. ingest-2, else 0)")
    parser.add_argument("--replicas", type=int, default=None,
                        help="how many replicas share the cameras (default: pipeline.ingest.replicas)")
    parser.set_defaults(func=_cmd_ingest)


def register(sub) -> None:
    add_arguments(sub.add_parser("ingest", help="run the ingest service: cameras -> frames topic"))
