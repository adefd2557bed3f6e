"""A dependency that cannot be used as configured stops a service at start, with exit code 2.

A wrong password, an untrusted certificate or a plaintext client against a TLS listener will
not fix itself: retrying hides it behind a crash loop or a hang. The checks that find such
problems raise ``StartupError``; each service's command turns it into one clear line and exit 2.

>>> try:
...     raise StartupError("Redis at rediss://cache:6380/0 refused the password (REDIS_PASSWORD)")
... except StartupError as exc:
...     print(exit_on_startup_error("aggregate", exc, stream=None))
2
"""

from __future__ import annotations

import logging
import sys
from urllib.parse import urlsplit, urlunsplit

EXIT_STARTUP = 2

log = logging.getLogger(__name__)


class StartupError(Exception):
    """A service cannot start: the message says what is wrong and which setting to fix."""


def exit_on_startup_error(service: str, exc: StartupError, stream=sys.stderr) -> int:
    """Log and print the reason (never a secret: messages name settings, not values); return 2."""
    log.error("cannot start", extra={"service": service, "reason": str(exc)})
    if stream is not None:
        print(f"storesight {service}: cannot start: {exc}", file=stream, flush=True)
    return EXIT_STARTUP


def redact_url(url: str) -> str:
    """The URL without its password, for messages and logs.

    >>> redact_url("rediss://:s3cret@cache:6380/0?ssl_ca_certs=/ca.pem")
    'rediss://:***@cache:6380/0?ssl_ca_certs=/ca.pem'
    >>> redact_url("postgresql://archive@db/storesight?sslmode=verify-full")
    'postgresql://archive@db/storesight?sslmode=verify-full'
    """
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))
