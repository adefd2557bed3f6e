"""How every Kafka client of the project connects: address, TLS, SASL, and a bounded start-up check.

Every producer, consumer and admin client (services, tools, benchmarks, tests) takes its
connection keywords from ``client_kwargs``, so one ``pipeline.kafka`` section secures them all.
Secrets never come from the config file: the SASL user and password are read from
``KAFKA_SASL_USERNAME`` / ``KAFKA_SASL_PASSWORD``, an encrypted client key's passphrase from
``KAFKA_SSL_KEY_PASSWORD``.

``preflight`` connects once, within ``connect_timeout_s``, before a client is built: a wrong CA,
a wrong password or a plaintext client against a TLS listener raise ``StartupError`` with the
reason (the service exits 2), where kafka-python alone would retry or wait in a handshake.
KAFKA_BOOTSTRAP, KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_MECHANISM and KAFKA_SSL_CA_FILE/CERT_FILE/
KEY_FILE in the environment override the config file (a Kubernetes component sets them).

>>> from storesight.config import KafkaSettings
>>> kw = client_kwargs(KafkaSettings(bootstrap="kafka:9093", security_protocol="SASL_PLAINTEXT"), "demo",
...                    env={"KAFKA_SASL_USERNAME": "ingest", "KAFKA_SASL_PASSWORD": "pw"})
>>> kw["security_protocol"], kw["sasl_mechanism"], kw["sasl_plain_username"]
('SASL_PLAINTEXT', 'SCRAM-SHA-512', 'ingest')
"""

from __future__ import annotations

import logging
import os
import socket
import ssl
import time
from collections.abc import Mapping

from storesight.config import KafkaSettings
from storesight.startup import StartupError

log = logging.getLogger(__name__)

SASL_USERNAME_ENV = "KAFKA_SASL_USERNAME"
SASL_PASSWORD_ENV = "KAFKA_SASL_PASSWORD"
SSL_KEY_PASSWORD_ENV = "KAFKA_SSL_KEY_PASSWORD"
BOOTSTRAP_ENV = "KAFKA_BOOTSTRAP"

# Settings already checked in this process: a service builds several clients, one check is enough.
_checked: set[tuple] = set()


class KafkaSetupError(StartupError):
    """The Kafka connection settings cannot work (credential, CA, protocol, address)."""


def bootstrap(settings: KafkaSettings, env: Mapping[str, str] | None = None) -> str:
    """KAFKA_BOOTSTRAP overrides the configured address (how production points at a cluster)."""
    return (os.environ if env is None else env).get(BOOTSTRAP_ENV, settings.bootstrap)


# Environment variables that override pipeline.kafka's security (how a Kubernetes component, e.g.
# the in-cluster Strimzi Kafka, switches every service to its TLS listener without editing the
# region's config file).
SECURITY_ENV = {"KAFKA_SECURITY_PROTOCOL": "security_protocol", "KAFKA_SASL_MECHANISM": "sasl_mechanism",
                "KAFKA_SSL_CA_FILE": "ssl_ca_file", "KAFKA_SSL_CERT_FILE": "ssl_cert_file",
                "KAFKA_SSL_KEY_FILE": "ssl_key_file"}


def effective(settings: KafkaSettings, env: Mapping[str, str] | None = None) -> KafkaSettings:
    """``settings`` with the KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_MECHANISM, KAFKA_SSL_* overrides applied."""
    from pydantic import ValidationError

    env = os.environ if env is None else env
    overrides = {field: env[name] for name, field in SECURITY_ENV.items() if env.get(name)}
    if not overrides:
        return settings
    try:
        return KafkaSettings.model_validate({**settings.model_dump(), **overrides})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'kafka'}: {e['msg']}" for e in exc.errors())
        raise KafkaSetupError(f"Kafka settings from the environment ({', '.join(sorted(overrides))}) are not "
                              f"valid: {problems}") from None


def uses_tls(settings: KafkaSettings) -> bool:
    return settings.security_protocol in ("SSL", "SASL_SSL")


def uses_sasl(settings: KafkaSettings) -> bool:
    return settings.security_protocol in ("SASL_PLAINTEXT", "SASL_SSL")


def ssl_context(settings: KafkaSettings, env: Mapping[str, str] | None = None) -> ssl.SSLContext:
    """The TLS context of every client: the CA bundle (or system CAs), hostname check, mTLS pair."""
    env = os.environ if env is None else env
    try:
        context = ssl.create_default_context(cafile=settings.ssl_ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise KafkaSetupError(f"pipeline.kafka.ssl_ca_file {settings.ssl_ca_file!r} cannot be used as a CA "
                              f"bundle: {_reason(exc)}") from None
    context.check_hostname = settings.ssl_check_hostname
    context.verify_mode = ssl.CERT_REQUIRED
    if settings.ssl_cert_file:
        try:
            context.load_cert_chain(settings.ssl_cert_file, settings.ssl_key_file,
                                    password=env.get(SSL_KEY_PASSWORD_ENV) or None)
        except (OSError, ssl.SSLError) as exc:
            raise KafkaSetupError(f"pipeline.kafka.ssl_cert_file/ssl_key_file cannot be loaded ({_reason(exc)}); "
                                  f"an encrypted key needs {SSL_KEY_PASSWORD_ENV}") from None
    return context


def security_kwargs(settings: KafkaSettings, env: Mapping[str, str] | None = None) -> dict:
    """kafka-python keywords for the configured protocol; missing SASL credentials fail here."""
    env = os.environ if env is None else env
    settings = effective(settings, env)
    kwargs: dict = {"security_protocol": settings.security_protocol}
    if uses_tls(settings):
        kwargs["ssl_context"] = ssl_context(settings, env)
        kwargs["ssl_check_hostname"] = settings.ssl_check_hostname
    if uses_sasl(settings):
        missing = [name for name in (SASL_USERNAME_ENV, SASL_PASSWORD_ENV) if not env.get(name)]
        if missing:
            raise KafkaSetupError(f"pipeline.kafka.security_protocol is {settings.security_protocol} but "
                                  f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set "
                                  "in the environment")
        kwargs.update(sasl_mechanism=settings.sasl_mechanism, sasl_plain_username=env[SASL_USERNAME_ENV],
                      sasl_plain_password=env[SASL_PASSWORD_ENV])
    return kwargs


def client_kwargs(settings: KafkaSettings | str, client_id: str, env: Mapping[str, str] | None = None) -> dict:
    """Address, client id and security keywords shared by every producer, consumer and admin.

    A plain ``host:port`` string is the embedded broker (tests, benchmarks): plaintext, the
    address used as given."""
    if isinstance(settings, str):
        return {"bootstrap_servers": settings, "client_id": client_id, "security_protocol": "PLAINTEXT"}
    return {"bootstrap_servers": bootstrap(settings, env), "client_id": client_id,
            **security_kwargs(settings, env)}


def admin_client(settings: KafkaSettings | str, client_id: str, request_timeout_ms: int = 15000):
    """A checked ``KafkaAdminClient``; a plain ``host:port`` means the embedded broker (plaintext)."""
    from kafka.admin import KafkaAdminClient

    preflight(KafkaSettings(bootstrap=settings) if isinstance(settings, str) else settings,
              {} if isinstance(settings, str) else None)
    return KafkaAdminClient(**client_kwargs(settings, client_id), request_timeout_ms=request_timeout_ms)


def preflight(settings: KafkaSettings, env: Mapping[str, str] | None = None) -> None:
    """Connect, handshake and authenticate once within ``connect_timeout_s``; raise KafkaSetupError.

    Checks the first bootstrap address that accepts TCP: its TLS certificate against the CA
    (raw ``ssl``, so the reason is the handshake's own), then a real kafka-python bootstrap with
    the same keywords (which runs SASL). Done once per process and settings.
    """
    settings = effective(settings, env)
    kwargs = client_kwargs(settings, "storesight-preflight", env)
    key = (kwargs["bootstrap_servers"], settings.model_dump_json(), kwargs.get("sasl_plain_username"),
           hash(kwargs.get("sasl_plain_password")))
    if key in _checked:
        return
    timeout = settings.connect_timeout_s
    host, port = _first_reachable(kwargs["bootstrap_servers"], timeout)
    if uses_tls(settings):
        _check_tls(host, port, kwargs["ssl_context"], settings, timeout)
    failure = _kafka_bootstrap_failure(kwargs, timeout)
    if failure is not None:
        raise KafkaSetupError(_explain(failure, host, port, settings, timeout))
    _checked.add(key)
    log.info("kafka connection checked", extra={"bootstrap": kwargs["bootstrap_servers"],
                                                "security_protocol": settings.security_protocol})


def _addresses(servers: str) -> list[tuple[str, int]]:
    out = []
    for item in servers.split(","):
        item = item.strip()
        host, sep, port = item.rpartition(":")
        if not sep or not port.isdigit():
            raise KafkaSetupError(f"Kafka bootstrap {item!r} is not host:port")
        out.append((host.strip("[]"), int(port)))
    return out


def _first_reachable(servers: str, timeout: float) -> tuple[str, int]:
    """The first address that accepts TCP; a broker still starting gets until the timeout."""
    deadline = time.monotonic() + timeout
    while True:
        problems = []
        for host, port in _addresses(servers):
            try:
                socket.create_connection((host, port), timeout=max(0.1, deadline - time.monotonic())).close()
                return host, port
            except OSError as exc:
                problems.append(f"{host}:{port}: {_reason(exc)}")
        if time.monotonic() >= deadline:
            raise KafkaSetupError(f"cannot reach Kafka at {servers} within {timeout:g} s ({'; '.join(problems)})")
        time.sleep(0.2)


def _check_tls(host: str, port: int, context: ssl.SSLContext, settings: KafkaSettings, timeout: float) -> None:
    """Handshake, then one ApiVersions round trip: a server that wants a client certificate
    says so only after the handshake (TLS 1.3), on the first read."""
    ca = settings.ssl_ca_file or "the system CAs"
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw, \
                context.wrap_socket(raw, server_hostname=host) as tls:
            tls.sendall(_API_VERSIONS_REQUEST)
            header = _read_exactly(tls, 8)
    except ssl.SSLCertVerificationError as exc:
        raise KafkaSetupError(f"TLS certificate of Kafka at {host}:{port} is not trusted: "
                              f"{exc.verify_message or _reason(exc)} (checked against {ca}; "
                              "pipeline.kafka.ssl_ca_file, ssl_check_hostname)") from None
    except TimeoutError:
        raise KafkaSetupError(f"no TLS answer from Kafka at {host}:{port} within {timeout:g} s: is it a TLS "
                              f"listener? (security_protocol is {settings.security_protocol})") from None
    except (ssl.SSLError, OSError, EOFError) as exc:
        hint = ("it wants a client certificate: set pipeline.kafka.ssl_cert_file and ssl_key_file"
                if "CERTIFICATE_REQUIRED" in str(exc) or not settings.ssl_cert_file and isinstance(exc, ssl.SSLError)
                else f"is it a TLS listener? security_protocol is {settings.security_protocol}")
        raise KafkaSetupError(f"TLS connection to Kafka at {host}:{port} failed: {_reason(exc)} ({hint})") from None
    if header[4:8] != _CORRELATION_ID:
        raise KafkaSetupError(f"{host}:{port} answered TLS but not as Kafka (no ApiVersions response)")


# ApiVersions v0 (api key 18), correlation id 7, client id "storesight-preflight": the request
# every Kafka broker answers before authentication.
_CORRELATION_ID = (7).to_bytes(4, "big")
_API_VERSIONS_BODY = ((18).to_bytes(2, "big") + (0).to_bytes(2, "big") + _CORRELATION_ID
                      + len(b"storesight-preflight").to_bytes(2, "big") + b"storesight-preflight")
_API_VERSIONS_REQUEST = len(_API_VERSIONS_BODY).to_bytes(4, "big") + _API_VERSIONS_BODY


def _read_exactly(sock, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError("connection closed by the server")
        data += chunk
    return data


class _LastWarning(logging.Handler):
    """Keeps kafka-python's last warning: its bootstrap retries log the real reason, then time out."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.last: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad log record must not break the check
            message = str(record.msg)
        if "failed" in message:  # "Bootstrap connection to X failed: <why>", not "waiting 0.4 secs"
            self.last = message


def _kafka_bootstrap_failure(kwargs: dict, timeout: float) -> str | None:
    """None when kafka-python bootstraps (metadata, and SASL when configured), else the reason."""
    from kafka.admin import KafkaAdminClient

    kafka_log = logging.getLogger("kafka")
    handler = _LastWarning()
    old_level = kafka_log.level
    kafka_log.addHandler(handler)
    if kafka_log.getEffectiveLevel() > logging.WARNING:
        kafka_log.setLevel(logging.WARNING)
    try:
        admin = KafkaAdminClient(**kwargs, bootstrap_timeout_ms=int(timeout * 1000),
                                 request_timeout_ms=int(timeout * 1000))
        admin.close()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure is reported with its reason
        return f"{handler.last or _reason(exc)} ({type(exc).__name__})"
    finally:
        kafka_log.removeHandler(handler)
        kafka_log.setLevel(old_level)


def _explain(failure: str, host: str, port: int, settings: KafkaSettings, timeout: float) -> str:
    message = f"Kafka at {host}:{port} did not accept the client within {timeout:g} s: {failure}"
    if not uses_tls(settings) and _speaks_tls(host, port, min(timeout, 1.0)):
        return (f"Kafka at {host}:{port} is a TLS listener but pipeline.kafka.security_protocol is "
                f"{settings.security_protocol}: use SSL or SASL_SSL (with ssl_ca_file)")
    if uses_sasl(settings):
        message += (f"; the broker refused or did not finish SASL {settings.sasl_mechanism}: check "
                    f"{SASL_USERNAME_ENV}/{SASL_PASSWORD_ENV} and pipeline.kafka.sasl_mechanism")
    elif "NotAuthenticated" in failure or "authentication" in failure.lower():
        message += "; the listener may require SASL: set security_protocol SASL_SSL and the credentials"
    return message


def _speaks_tls(host: str, port: int, timeout: float) -> bool:
    """True when the listener completes a TLS handshake (any certificate): diagnosis only."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw, \
                context.wrap_socket(raw, server_hostname=host):
            return True
    except (OSError, ssl.SSLError):
        return False


def _reason(exc: BaseException) -> str:
    return getattr(exc, "reason", None) or getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
