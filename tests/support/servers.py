"""Real servers for tests: the embedded broker, Redis, PostgreSQL. Started if not running."""

from __future__ import annotations

import os
from pathlib import Path

from tools import localservers
from tools.localservers import port_open, wait_port  # noqa: F401 - re-exported for tests

REPO = Path(__file__).resolve().parents[2]
# The labelled clips (read-only); a worktree elsewhere points here with STORESIGHT_SHARED_DATA.
SHARED_DATA = Path(os.environ.get("STORESIGHT_SHARED_DATA", REPO.parent / "shared" / "data"))
INTEL_DIR = SHARED_DATA / "intel-one-by-one"
INTEL_CLIP = INTEL_DIR / "one-by-one-person-detection.mp4"
CAVIAR_DIR = SHARED_DATA / "caviar-oneleaveshop1cor"
PETS_DIR = SHARED_DATA / "pets09-s2l1"


def ensure_redis() -> str:
    return localservers.ensure_redis()[0]


def ensure_postgres() -> str:
    return localservers.ensure_postgres()[0]
