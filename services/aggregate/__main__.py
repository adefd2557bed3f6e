"""``python -m services.aggregate --config FILE`` runs the aggregate service."""

import sys

from storesight.cli import main

sys.exit(main(["aggregate", *sys.argv[1:]]))
