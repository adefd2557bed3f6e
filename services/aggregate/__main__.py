"""``python -m services.aggregate --config FILE`` runs the aggregate service (what its container runs)."""

import sys

from services.aggregate.cli import register
from storesight.verbs import run_verb

sys.exit(run_verb(register, "aggregate", sys.argv[1:], prog="python -m services.aggregate"))
