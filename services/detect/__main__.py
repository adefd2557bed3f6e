"""``python -m services.detect --config FILE`` runs the detect service (what its container runs)."""

import sys

from services.detect.cli import register
from storesight.verbs import run_verb

sys.exit(run_verb(register, "detect", sys.argv[1:], prog="python -m services.detect"))
