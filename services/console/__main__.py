"""``python -m services.console --config FILE``: the web console."""

import argparse
import sys

from services.console.cli import add_arguments, run_from_args

parser = argparse.ArgumentParser(prog="python -m services.console", description="StoreSight web console")
add_arguments(parser)
sys.exit(run_from_args(parser.parse_args()))
