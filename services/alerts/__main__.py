"""``python -m services.alerts --config FILE``: the alerts service."""

import argparse
import sys

from services.alerts.cli import add_arguments, run_from_args

parser = argparse.ArgumentParser(prog="python -m services.alerts", description="StoreSight alerts service")
add_arguments(parser)
sys.exit(run_from_args(parser.parse_args()))
