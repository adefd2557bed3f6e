import sys

from storesight.cli import main

sys.exit(main())
