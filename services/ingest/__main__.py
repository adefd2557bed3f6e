"""``python -m services.ingest --config FILE``: the ingest service."""

import argparse
import sys

from services.ingest.cli import add_arguments


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m services.ingest")
    add_arguments(parser)
    args = parser.parse_args()
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
