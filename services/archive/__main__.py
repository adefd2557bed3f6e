"""``python -m services.archive --config FILE`` runs the archive service (what its container runs)."""

import sys

from services.archive.cli import register
from storesight.verbs import run_verb

sys.exit(run_verb(register, "archive", sys.argv[1:], prog="python -m services.archive"))
