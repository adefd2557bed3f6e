"""Redis with a password on a TLS port and PostgreSQL with scram-sha-256 and TLS, started here.

The services (aggregate on Redis, archive on PostgreSQL) must start with the right password and
CA, given the way production gives them (REDIS_URL/REDIS_PASSWORD, DATABASE_URL with
``sslmode=verify-full``/PGPASSWORD), and stop at start with exit 2 and a clear reason otherwise.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest
import yaml

from services.archive import db
from storesight.broker import free_port
from storesight.redis_client import connect_redis
from storesight.startup import StartupError
from storesight.topics import ensure_topics
from tests.support.secure_servers import SecurePostgres, SecureRedis
from tests.support.servers import REPO
from tests.support.tls import make_pki

REDIS_PASSWORD = "redis-test-pw"
PG_PASSWORD = "pg-test-pw"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def secure_redis(pki):
    server = SecureRedis(pki, REDIS_PASSWORD).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def secure_pg(pki):
    server = SecurePostgres(pki, PG_PASSWORD).start()
    yield server
    server.stop()


def test_redis_password_and_ca_verified(secure_redis, pki):
    client = connect_redis(secure_redis.url(), env={"REDIS_PASSWORD": REDIS_PASSWORD})
    client.set("tls-test:k", "v")
    assert client.get("tls-test:k") == b"v"
    client.close()

    with pytest.raises(StartupError, match="refused the credentials.*REDIS_PASSWORD") as wrong:
        connect_redis(secure_redis.url(), env={"REDIS_PASSWORD": "not-it"})
    assert "not-it" not in str(wrong.value)
    with pytest.raises(StartupError, match="REDIS_PASSWORD"):
        connect_redis(secure_redis.url(), env={})
    with pytest.raises(StartupError, match="not signed by ssl_ca_certs"):
        connect_redis(secure_redis.url(ca=pki.wrong_ca), env={"REDIS_PASSWORD": REDIS_PASSWORD})
    with pytest.raises(StartupError, match="use a rediss:// URL"):
        connect_redis(f"redis://127.0.0.1:{secure_redis.port}/0", env={"REDIS_PASSWORD": REDIS_PASSWORD},
                      connect_timeout_s=3, socket_timeout=3)


def test_postgres_scram_and_verify_full(secure_pg, pki, monkeypatch):
    monkeypatch.setenv("PGPASSWORD", PG_PASSWORD)
    conn = db.connect_at_start(secure_pg.url(), "tls_test")
    assert conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone() == (True,)
    conn.close()

    monkeypatch.setenv("PGPASSWORD", "not-it")
    with pytest.raises(StartupError, match="password authentication failed.*check PGPASSWORD") as wrong:
        db.connect_at_start(secure_pg.url(), "tls_test")
    assert "not-it" not in str(wrong.value)
    monkeypatch.setenv("PGPASSWORD", PG_PASSWORD)
    with pytest.raises(StartupError, match="certificate verify failed.*sslrootcert"):
        db.connect_at_start(secure_pg.url(ca=pki.wrong_ca), "tls_test")
    with pytest.raises(StartupError, match="no encryption"):
        db.connect_at_start(f"postgresql://postgres@127.0.0.1:{secure_pg.port}/postgres?sslmode=disable", "tls_test")


def _config(path, **pipeline) -> str:
    path.write_text(yaml.safe_dump({
        "region": "secure", "pipeline": pipeline,
        "stores": [{"id": "s1", "timezone": "UTC", "cameras": [{"id": "cam-1", "source": "clip.mp4"}]}]}))
    return str(path)


def _start(verb: list[str], env: dict) -> tuple[subprocess.Popen, int]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "tools", *verb], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO), "STORESIGHT_HTTP_PORT": str(port), **env})
    return proc, port


def _ready_then_stop(proc: subprocess.Popen, port: int, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()[1][-3000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.3)
        pytest.fail("service did not become ready")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)


def _refused(proc: subprocess.Popen) -> str:
    _out, err = proc.communicate(timeout=90)
    assert proc.returncode == 2, err[-3000:]
    return err


def test_aggregate_starts_on_secured_redis_and_exits_2_on_a_wrong_password(secure_redis, broker, tmp_path):
    ensure_topics(broker.bootstrap)
    config = _config(tmp_path / "c.yaml", kafka={"bootstrap": broker.bootstrap})
    env = {"REDIS_URL": secure_redis.url(), "REDIS_PASSWORD": REDIS_PASSWORD}
    verb = ["aggregate", "--config", config, "--redis-prefix", "secure-test:", "--group", "secure-test"]
    _ready_then_stop(*_start(verb, env))

    err = _refused(_start(verb, {**env, "REDIS_PASSWORD": "not-it"})[0])
    assert "storesight aggregate: cannot start: Redis at rediss://127.0.0.1" in err
    assert "refused the credentials" in err and "not-it" not in err


def test_archive_starts_on_secured_postgres_and_exits_2_on_a_wrong_password(secure_pg, broker, tmp_path):
    ensure_topics(broker.bootstrap)
    config = _config(tmp_path / "c.yaml", kafka={"bootstrap": broker.bootstrap})
    env = {"DATABASE_URL": secure_pg.url(), "PGPASSWORD": PG_PASSWORD}
    verb = ["archive", "--config", config, "--schema", "secure_test", "--group", "secure-test"]
    _ready_then_stop(*_start(verb, env))

    err = _refused(_start(verb, {**env, "PGPASSWORD": "not-it"})[0])
    assert "storesight archive: cannot start: cannot connect to PostgreSQL at postgresql://postgres@127.0.0.1" in err
    assert "password authentication failed" in err and "not-it" not in err
