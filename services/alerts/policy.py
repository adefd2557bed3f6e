"""Delivery policy: retries with exponential backoff, and a per-recipient rate limit."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """Retry transient failures (timeouts, 5xx) with exponential backoff; never retry rejections (4xx)."""

    max_attempts: int = 5
    initial_s: float = 0.5
    factor: float = 2.0
    max_delay_s: float = 30.0

    def delay_before(self, attempt: int) -> float:
        """Seconds to wait before attempt number ``attempt`` (2, 3, ...)."""
        return min(self.max_delay_s, self.initial_s * self.factor ** (attempt - 2))

    def should_retry(self, attempt: int, retryable: bool) -> bool:
        """After failed attempt number ``attempt``: try again?"""
        return retryable and attempt < self.max_attempts


def http_retryable(status: int | None) -> bool:
    """No status (timeout, connection error), 5xx and 429 are transient; other 4xx are rejections."""
    return status is None or status >= 500 or status == 429


def smtp_retryable(code: int | None) -> bool:
    """SMTP is the other way round: 4xx replies are transient, 5xx are permanent."""
    return code is None or 400 <= code < 500


def rate_allows(sent_at: list[float], now: float, per_hour: int) -> bool:
    """True when fewer than ``per_hour`` messages went to this recipient in the hour before ``now``
    (or after it: replicas do not send in event-time order). Ledger.rate_take runs this rule
    atomically in Redis."""
    return sum(1 for t in sent_at if now - 3600.0 < t) < per_hour
