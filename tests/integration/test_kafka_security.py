"""Kafka clients through real TLS and against a real authenticating broker.

stunnel (Debian) terminates TLS with a certificate made here by openssl, in front of the
embedded broker, which advertises stunnel's port: every byte the clients exchange with the
broker crosses TLS. The bus and a service's command must work with the right CA (and client
certificate, for mutual TLS) and refuse, at start and within the configured bound, a
plaintext client, a wrong CA or a missing client certificate.

SASL: Tansu 0.6.0's ``--authentication`` does SCRAM-SHA-256/512, but its users can only be
created through the broker itself (``tansu user create``, AlterUserScramCredentials), which it
refuses unauthenticated once ``--authentication`` is on, and the memory storage cannot be
seeded beforehand. So no SASL round trip is possible here; the test below shows a SCRAM client
and a plaintext client refused by the authenticating broker with a clear error, and the unit
tests check the SASL client settings.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time

import pytest
import yaml

from storesight.broker import EmbeddedBroker, broker_binary, free_port
from storesight.bus import TypedConsumer, TypedProducer
from storesight.config import KafkaSettings
from storesight.contracts import Frame, to_timestamp
from storesight.kafka_clients import KafkaSetupError, preflight
from storesight.topics import Topic, ensure_topics
from storesight.v1 import frame_pb2
from tests.support.servers import REPO
from tests.support.tls import Stunnel, make_pki
from tools.localservers import wait_port

TOPIC = Topic("tls.frames", frame_pb2.Frame, partitions=1, retention_ms=60_000)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


def _terminated_broker(pki, directory, require_client_cert: bool):
    tls_port = free_port()
    broker = EmbeddedBroker(port=free_port(), advertised_port=tls_port).start()
    tunnel = Stunnel(pki, broker.port, directory, require_client_cert=require_client_cert, port=tls_port).start()
    return broker, tunnel


@pytest.fixture(scope="module")
def tls(pki, tmp_path_factory):
    broker, tunnel = _terminated_broker(pki, tmp_path_factory.mktemp("stunnel"), require_client_cert=False)
    yield tunnel
    tunnel.stop()
    broker.stop()


@pytest.fixture(scope="module")
def mtls(pki, tmp_path_factory):
    broker, tunnel = _terminated_broker(pki, tmp_path_factory.mktemp("stunnel-m"), require_client_cert=True)
    yield tunnel
    tunnel.stop()
    broker.stop()


def _settings(port: int, **security) -> KafkaSettings:
    return KafkaSettings(bootstrap=f"127.0.0.1:{port}", connect_timeout_s=5, **security)


def _round_trip(settings: KafkaSettings, group: str) -> list[int]:
    ensure_topics(settings, (TOPIC,))
    producer = TypedProducer(settings, f"{group}-p")
    for seq in range(3):
        producer.send(TOPIC, "cam-1", Frame(camera_id="cam-1", store_id="s1", seq=seq, jpeg=b"\xff\xd8x\xff\xd9",
                                                 capture_time=to_timestamp(dt.datetime.now(dt.UTC))))
    producer.flush()
    producer.close()
    consumer = TypedConsumer(settings, [TOPIC], group, f"{group}-c")
    got: list[int] = []
    deadline = time.monotonic() + 30
    while len(got) < 3 and time.monotonic() < deadline:
        got += [r.value.seq for r in consumer.poll(200)]
    consumer.commit()
    consumer.close()
    return sorted(got)


def test_bus_round_trip_through_tls_with_ca_verification(tls, pki):
    settings = _settings(tls.port, security_protocol="SSL", ssl_ca_file=str(pki.ca))
    assert _round_trip(settings, "tls-rt") == [0, 1, 2]


def test_plaintext_client_against_tls_is_refused_at_start(tls):
    started = time.monotonic()
    with pytest.raises(KafkaSetupError, match="is a TLS listener but pipeline.kafka.security_protocol is PLAINTEXT"):
        TypedProducer(_settings(tls.port), "plain")
    assert time.monotonic() - started < 5 + 5  # the bound, plus the diagnosis handshake


def test_wrong_ca_is_refused_with_the_reason(tls, pki):
    with pytest.raises(KafkaSetupError, match="is not trusted: .*certificate.*wrong-ca.pem"):
        preflight(_settings(tls.port, security_protocol="SSL", ssl_ca_file=str(pki.wrong_ca)))


def test_mutual_tls_round_trip_and_missing_client_certificate(mtls, pki):
    with_cert = _settings(mtls.port, security_protocol="SSL", ssl_ca_file=str(pki.ca),
                          ssl_cert_file=str(pki.client_cert), ssl_key_file=str(pki.client_key))
    assert _round_trip(with_cert, "mtls-rt") == [0, 1, 2]
    with pytest.raises(KafkaSetupError, match="client certificate"):
        preflight(_settings(mtls.port, security_protocol="SSL", ssl_ca_file=str(pki.ca)))


def _run_tool(args: list[str], env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tools", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=90, env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})})


def _config_file(path, kafka: dict, **pipeline) -> str:
    config = {"region": "tls", "pipeline": {"kafka": kafka, **pipeline},
              "stores": [{"id": "s1", "timezone": "UTC", "cameras": [{"id": "cam-1", "source": "clip.mp4"}]}]}
    path.write_text(yaml.safe_dump(config))
    return str(path)


def test_topics_tool_and_aggregate_service_exit_2_with_a_clear_reason(tls, pki, tmp_path, redis_url):
    good = _config_file(tmp_path / "good.yaml", {"bootstrap": f"127.0.0.1:{tls.port}", "security_protocol": "SSL",
                                                  "ssl_ca_file": str(pki.ca)})
    done = _run_tool(["topics", "ensure", "--config", good])
    assert done.returncode == 0, done.stderr
    assert "storesight.frames" in done.stdout

    wrong_ca = _config_file(tmp_path / "wrong.yaml", {"bootstrap": f"127.0.0.1:{tls.port}",
                                                      "security_protocol": "SSL", "ssl_ca_file": str(pki.wrong_ca),
                                                      "connect_timeout_s": 5})
    refused = _run_tool(["topics", "ensure", "--config", wrong_ca])
    assert refused.returncode == 2
    assert "is not trusted" in refused.stderr

    plaintext = _config_file(tmp_path / "plain.yaml", {"bootstrap": f"127.0.0.1:{tls.port}", "connect_timeout_s": 5},
                             redis_url=redis_url)
    started = time.monotonic()
    service = _run_tool(["aggregate", "--config", plaintext, "--port", "0", "--redis-prefix", "tls-test:"])
    assert service.returncode == 2, service.stderr[-2000:]
    assert "storesight aggregate: cannot start: Kafka at" in service.stderr
    assert "is a TLS listener" in service.stderr
    assert time.monotonic() - started < 60


@pytest.fixture()
def authenticating_broker():
    """Tansu with --authentication (SCRAM); no user can be created in it (see the module's docstring)."""
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    proc = subprocess.Popen([broker_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url,
                             "--storage-engine", "memory://tansu/", "--authentication"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        assert wait_port("127.0.0.1", port, 20)
        yield port
    finally:
        proc.kill()
        proc.wait(10)


def test_sasl_client_with_an_unknown_credential_is_refused(authenticating_broker, monkeypatch):
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "detect")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "not-the-password")
    started = time.monotonic()
    with pytest.raises(KafkaSetupError, match="check KAFKA_SASL_USERNAME/KAFKA_SASL_PASSWORD") as refused:
        preflight(_settings(authenticating_broker, security_protocol="SASL_PLAINTEXT", sasl_mechanism="SCRAM-SHA-256"))
    assert "not-the-password" not in str(refused.value)
    assert time.monotonic() - started < 5 + 3


def test_plaintext_client_against_an_authenticating_broker_is_refused(authenticating_broker):
    with pytest.raises(KafkaSetupError, match="did not accept the client"):
        preflight(_settings(authenticating_broker))
