"""``python -m services.detect --config FILE`` runs the detect service."""

import sys

from storesight.cli import main

sys.exit(main(["detect", *sys.argv[1:]]))
