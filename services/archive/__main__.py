"""``python -m services.archive --config FILE``: run the archive service."""

import sys

from storesight.cli import main

sys.exit(main(["archive", *sys.argv[1:]]))
