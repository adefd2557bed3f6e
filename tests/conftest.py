"""Shared fixtures: real servers (embedded broker, Redis, PostgreSQL), started when needed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from storesight.broker import EmbeddedBroker, free_port
from storesight.config import KafkaSettings
from tests.support import servers

os.environ.setdefault("YOLO_OFFLINE", "1")


@pytest.fixture(scope="session")
def broker():
    """One embedded broker for the test session; tests use their own topics or groups."""
    with EmbeddedBroker(port=free_port()) as b:
        yield b


@pytest.fixture()
def fresh_broker():
    """A broker of the test's own, for tests that must see empty topics."""
    with EmbeddedBroker(port=free_port()) as b:
        yield b


@pytest.fixture()
def kafka_settings(broker) -> KafkaSettings:
    return KafkaSettings(bootstrap=broker.bootstrap)


@pytest.fixture(scope="session")
def redis_url() -> str:
    return servers.ensure_redis()


@pytest.fixture(scope="session")
def postgres_url() -> str:
    return servers.ensure_postgres()


# The Intel clip is run through the real detector once per test session, at 5 frames/s (every
# 2nd frame: the cameras' default rate), and the JSON lines are shared by the tests that need
# detector output (detect-file format and accuracy, aggregate on real detections).
INTEL_EVERY = 2


@pytest.fixture(scope="session")
def intel_detections_file(intel_clip, tmp_path_factory):
    import subprocess
    import sys

    if os.environ.get("STORESIGHT_INTEL_DETECTIONS"):
        # The same detector's output made elsewhere (e.g. replayed from recorded model outputs by
        # a loaded machine's developer): the tests then check that file.
        return Path(os.environ["STORESIGHT_INTEL_DETECTIONS"])
    out = tmp_path_factory.mktemp("detect") / "intel.jsonl"
    subprocess.run([sys.executable, "-m", "tools", "detect-file", str(intel_clip), "--out", str(out),
                    "--every", str(INTEL_EVERY), "--start-time", "2026-11-21T09:00:00Z"],
                   cwd=servers.REPO, check=True, timeout=900, capture_output=True)
    return out


@pytest.fixture(scope="session")
def intel_clip():
    if not servers.INTEL_CLIP.exists():
        pytest.skip("labelled Intel clip not found in ../shared/data")
    return servers.INTEL_CLIP
