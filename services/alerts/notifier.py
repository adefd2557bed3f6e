"""Sends one incident transition's messages exactly once (modulo a crash mid-send), with retries.

Order per delivery: claim (once per transition) -> rate limit -> intent -> send with retries ->
result. Results are recorded in the ledger, so a replay or another replica reuses them
instead of sending again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import Counter, Histogram

from services.alerts.channels import DeliveryError
from services.alerts.ledger import Ledger
from services.alerts.message import Notice, contact_hash, mask
from services.alerts.policy import RetryPolicy

log = logging.getLogger(__name__)

NOTIFICATIONS = Counter("storesight_alerts_notifications_total", "Notification deliveries by outcome",
                        ["channel", "status"])
DELIVERY_SECONDS = Histogram("storesight_alerts_delivery_seconds",
                             "Time to deliver one message to the provider, retries included", ["channel"],
                             buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))

SENT, FAILED, REJECTED, RATE_LIMITED, SUPPRESSED = "sent", "failed", "rejected", "rate_limited", "suppressed"


@dataclass(frozen=True)
class Target:
    channel: str
    contact: str

    @property
    def key(self) -> str:
        return f"{self.channel}:{contact_hash(self.channel, self.contact)}"


class Notifier:
    def __init__(self, ledger: Ledger, senders: dict, retry: RetryPolicy, per_recipient_per_hour: int,
                 claim_ttl_s: float, sleep: Callable[[float], None] = time.sleep):
        self.ledger = ledger
        self.senders = senders
        self.retry = retry
        self.per_hour = per_recipient_per_hour
        self.claim_ttl_s = claim_ttl_s
        self.sleep = sleep

    def deliver(self, tx_id: str, notice: Notice, targets: list[Target]) -> list[dict]:
        """Send (or look up what was sent for) one transition; returns one result per target."""
        claim = self.ledger.claim(tx_id, self.claim_ttl_s)
        while not claim.owned and not claim.done:
            log.warning("another replica holds this transition; waiting", extra={"tx": tx_id})
            claim = self.ledger.claim(tx_id, self.claim_ttl_s)
        if claim.done:
            return [claim.results[t.key] for t in targets if t.key in claim.results]
        results = []
        for target in targets:
            if target.key in claim.results:
                results.append(claim.results[target.key])
                continue
            if target.key in claim.intents:
                log.warning("resending a delivery whose outcome a crashed replica did not record",
                            extra={"tx": tx_id, "channel": target.channel, "recipient": mask(target.contact)})
            result = self._deliver_one(tx_id, notice, target)
            self.ledger.record_result(tx_id, target.key, result)
            self.ledger.extend(tx_id, self.claim_ttl_s)
            NOTIFICATIONS.labels(target.channel, result["status"]).inc()
            results.append(result)
        self.ledger.finish(tx_id)
        return results

    def _deliver_one(self, tx_id: str, notice: Notice, target: Target) -> dict:
        result = {"channel": target.channel, "recipient": mask(target.contact), "provider_id": "",
                  "error": "", "attempts": 0, "at": time.time()}
        rate_key = contact_hash(target.channel, target.contact)
        if not self.ledger.rate_take(rate_key, notice.at, self.per_hour, f"{tx_id}/{target.key}"):
            log.warning("recipient rate limit reached", extra={"channel": target.channel,
                                                               "recipient": mask(target.contact)})
            return {**result, "status": RATE_LIMITED, "error": f"more than {self.per_hour} per hour"}
        self.ledger.record_intent(tx_id, target.key)
        sender = self.senders[target.channel]
        started = time.perf_counter()
        attempt = 0
        while True:
            attempt += 1
            self.ledger.extend(tx_id, self.claim_ttl_s)  # a slow provider must not let the claim lapse
            try:
                provider_id = sender.send(target.contact, notice)
            except DeliveryError as exc:
                log.warning("delivery attempt failed", extra={
                    "channel": target.channel, "recipient": mask(target.contact), "attempt": attempt,
                    "reason": exc.reason, "retryable": exc.retryable})
                if self.retry.should_retry(attempt, exc.retryable):
                    self.sleep(self.retry.delay_before(attempt + 1))
                    continue
                status = FAILED if exc.retryable else REJECTED
                return {**result, "status": status, "error": exc.reason, "attempts": attempt, "at": time.time()}
            DELIVERY_SECONDS.labels(target.channel).observe(time.perf_counter() - started)
            log.info("notification sent", extra={"channel": target.channel, "recipient": mask(target.contact),
                                                 "kind": notice.kind.value, "incident": notice.incident_id,
                                                 "attempts": attempt})
            return {**result, "status": SENT, "provider_id": provider_id, "attempts": attempt, "at": time.time()}
