"""Shared fixtures: real servers (embedded broker, Redis, PostgreSQL), started when needed."""

from __future__ import annotations

import os

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


@pytest.fixture(scope="session")
def intel_clip():
    if not servers.INTEL_CLIP.exists():
        pytest.skip("labelled Intel clip not found in ../shared/data")
    return servers.INTEL_CLIP
