"""``python -m tools VERB ...`` is the ``storesight`` command."""

import sys

from tools.cli import main

sys.exit(main())
