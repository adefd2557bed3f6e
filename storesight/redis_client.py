"""Redis connections of the services: URL from REDIS_URL, password from REDIS_PASSWORD, checked at start.

Production Redis needs a password and often TLS: ``rediss://cache:6380/0?ssl_ca_certs=/etc/ca.pem``
verifies the server against that CA (``ssl_cert_reqs=required`` is redis-py's default). The
password never sits in the config file: it comes from ``REDIS_PASSWORD`` (a Kubernetes Secret)
or from ``REDIS_URL`` in the environment. A wrong password or CA stops the service at start with
the reason (``StartupError``, exit 2) instead of failing on every write.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import redis

from storesight.startup import StartupError, redact_url

REDIS_URL_ENV = "REDIS_URL"
REDIS_PASSWORD_ENV = "REDIS_PASSWORD"


def redis_url(configured: str, env: Mapping[str, str] | None = None) -> str:
    """REDIS_URL overrides the configured address (how production points at its Redis)."""
    return (os.environ if env is None else env).get(REDIS_URL_ENV, configured)


def connect_redis(url: str, env: Mapping[str, str] | None = None, connect_timeout_s: float = 10.0,
                  **options) -> redis.Redis:
    """A client for ``url`` (REDIS_PASSWORD fills in a password the URL lacks), pinged once."""
    env = os.environ if env is None else env
    if env.get(REDIS_PASSWORD_ENV) and "password" not in options and not _has_password(url):
        options["password"] = env[REDIS_PASSWORD_ENV]
    options.setdefault("socket_connect_timeout", connect_timeout_s)
    try:
        client = redis.Redis.from_url(url, **options)
    except ValueError as exc:
        raise StartupError(f"Redis URL {redact_url(url)} is not valid: {exc}") from None
    try:
        client.ping()
    except redis.AuthenticationError as exc:
        client.close()
        raise StartupError(f"Redis at {redact_url(url)} refused the credentials ({exc}): check "
                           f"{REDIS_PASSWORD_ENV} or the password in {REDIS_URL_ENV}") from None
    except redis.ResponseError as exc:
        client.close()
        if "NOAUTH" in str(exc) or "AUTH" in str(exc).upper():
            raise StartupError(f"Redis at {redact_url(url)} needs a password ({exc}): set "
                               f"{REDIS_PASSWORD_ENV}") from None
        raise StartupError(f"Redis at {redact_url(url)} answered with an error: {exc}") from None
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        client.close()
        hint = ""
        text = str(exc)
        if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
            hint = " (the server's certificate is not signed by ssl_ca_certs in the URL)"
        elif url.startswith("redis://"):
            hint = " (if it is a TLS port, use a rediss:// URL with ssl_ca_certs)"
        raise StartupError(f"cannot connect to Redis at {redact_url(url)}: {text}{hint}") from None
    return client


def _has_password(url: str) -> bool:
    from urllib.parse import urlsplit

    return urlsplit(url).password is not None
