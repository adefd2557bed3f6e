"""Kafka client security settings: what the config accepts and what every client is given."""

from __future__ import annotations

import ssl

import pytest

from storesight.bus import consumer_config, producer_config
from storesight.config import ConfigError, KafkaSettings, parse_config
from storesight.kafka_clients import KafkaSetupError, client_kwargs, security_kwargs
from storesight.startup import StartupError

SASL_ENV = {"KAFKA_SASL_USERNAME": "detect", "KAFKA_SASL_PASSWORD": "pw-1"}
STORE = {"id": "s1", "timezone": "UTC", "cameras": [{"id": "c1", "source": "x.mp4"}]}


def _config(kafka: dict):
    return parse_config({"region": "r", "pipeline": {"kafka": kafka}, "stores": [STORE]})


def test_defaults_are_plaintext_and_hostname_checked():
    settings = KafkaSettings()
    assert settings.security_protocol == "PLAINTEXT"
    assert settings.ssl_check_hostname is True
    assert security_kwargs(settings, env={}) == {"security_protocol": "PLAINTEXT"}


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_sasl_credentials_come_from_the_environment(mechanism):
    settings = _config({"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": mechanism}).pipeline.kafka
    kwargs = security_kwargs(settings, env=SASL_ENV)
    assert kwargs == {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": mechanism,
                      "sasl_plain_username": "detect", "sasl_plain_password": "pw-1"}


def test_missing_sasl_credentials_fail_naming_the_variables_not_values():
    settings = KafkaSettings(security_protocol="SASL_SSL")
    with pytest.raises(KafkaSetupError, match="KAFKA_SASL_PASSWORD is not set") as missing:
        security_kwargs(settings, env={"KAFKA_SASL_USERNAME": "detect"})
    assert isinstance(missing.value, StartupError)
    with pytest.raises(KafkaSetupError, match="KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD are not set"):
        security_kwargs(settings, env={})


def test_tls_gets_one_verifying_context_shared_by_producer_and_consumer(monkeypatch):
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "archive")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "pw-2")
    monkeypatch.delenv("KAFKA_BOOTSTRAP", raising=False)
    settings = KafkaSettings(bootstrap="kafka:9093", security_protocol="SASL_SSL", sasl_mechanism="SCRAM-SHA-256")
    for config in (producer_config(settings, "p"), consumer_config(settings, "g", "c")):
        context = config["ssl_context"]
        assert isinstance(context, ssl.SSLContext)
        assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
        assert config["security_protocol"] == "SASL_SSL" and config["sasl_plain_username"] == "archive"
        assert config["bootstrap_servers"] == "kafka:9093"


def test_bootstrap_env_overrides_the_config():
    kwargs = client_kwargs(KafkaSettings(bootstrap="a:1"), "x", env={"KAFKA_BOOTSTRAP": "b:2"})
    assert kwargs["bootstrap_servers"] == "b:2" and kwargs["client_id"] == "x"


def test_unreadable_ca_file_is_a_setup_error(tmp_path):
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate")
    with pytest.raises(KafkaSetupError, match="ssl_ca_file .* cannot be used as a CA bundle"):
        security_kwargs(KafkaSettings(security_protocol="SSL", ssl_ca_file=str(bad)), env={})
    with pytest.raises(KafkaSetupError, match="cannot be used as a CA bundle"):
        security_kwargs(KafkaSettings(security_protocol="SSL", ssl_ca_file=str(tmp_path / "missing.pem")), env={})


@pytest.mark.parametrize(("kafka", "problem"), [
    ({"security_protocol": "TLS"}, "security_protocol"),
    ({"security_protocol": "SASL_SSL", "sasl_mechanism": "GSSAPI"}, "sasl_mechanism"),
    ({"ssl_ca_file": "/ca.pem"}, "ssl_ca_file set but security_protocol is PLAINTEXT"),
    ({"security_protocol": "SSL", "ssl_cert_file": "/c.pem"}, "ssl_cert_file and ssl_key_file go together"),
    ({"security_protocol": "SASL_SSL", "sasl_password": "x"}, "secrets are not read from files"),
])
def test_config_refuses_bad_security_settings(kafka, problem):
    with pytest.raises(ConfigError) as refused:
        _config(kafka)
    assert any(problem in p for p in refused.value.problems), refused.value.problems
