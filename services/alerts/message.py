"""What a notification says, masking of contacts, and the signed acknowledgement link.

Messages carry store, zone or camera, value, threshold, since when (store-local time) and
links; never personal data (no names, no contacts, no pictures).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import html
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from services.alerts.incident import Notify
from storesight.ack import ack_signature, ack_url, ack_valid  # noqa: F401 - the links' signature lives in the core

HEADLINES = {
    Notify.firing: "ALERT",
    Notify.repeat: "STILL ACTIVE",
    Notify.escalate: "ESCALATED (unacknowledged)",
    Notify.resolved: "RESOLVED",
}


@dataclass(frozen=True)
class Notice:
    """Everything a message says about one incident transition."""

    kind: Notify
    incident_id: str
    store_id: str
    store_name: str
    timezone: str
    rule_id: str
    metric: str
    scope: str  # zone or camera
    value: float | None
    threshold: float
    op: str
    severity: str
    since: float
    at: float
    dashboard_url: str
    ack_url: str

    def local(self, t: float) -> str:
        return dt.datetime.fromtimestamp(t, ZoneInfo(self.timezone)).strftime("%Y-%m-%d %H:%M %Z")

    def value_text(self) -> str:
        if self.value is None:
            return "unknown"
        return f"{self.value:g}" if self.metric != "camera_down" else ("down" if self.value else "up")

    def subject(self) -> str:
        return f"[{HEADLINES[self.kind]}] {self.store_name or self.store_id}: {self.metric} {self.scope}"

    def sms(self) -> str:
        lines = [
            f"StoreSight {HEADLINES[self.kind]} ({self.severity})",
            f"{self.store_name or self.store_id} / {self.scope}: {self.metric} {self.value_text()} "
            f"({self.op} {self.threshold:g})",
            f"since {self.local(self.since)}",
            self.dashboard_url,
        ]
        if self.kind is not Notify.resolved:
            lines.append(f"ack: {self.ack_url}")
        return "\n".join(lines)

    def email_html(self) -> str:
        e = html.escape
        ack = "" if self.kind is Notify.resolved else f'<p><a href="{e(self.ack_url)}">Acknowledge</a></p>'
        return (f"<html><body><h2>{e(HEADLINES[self.kind])}: {e(self.metric)} at "
                f"{e(self.store_name or self.store_id)} / {e(self.scope)}</h2>"
                f"<p>Value <b>{e(self.value_text())}</b> (threshold {e(self.op)} {self.threshold:g}), "
                f"severity {e(self.severity)}, since {e(self.local(self.since))}.</p>"
                f'<p><a href="{e(self.dashboard_url)}">Open the dashboard</a></p>{ack}'
                f"<p>Incident {e(self.incident_id)}</p></body></html>")

    def payload(self) -> dict:
        """The webhook's JSON body."""
        return {
            "kind": self.kind.value, "incident_id": self.incident_id, "store_id": self.store_id,
            "rule_id": self.rule_id, "metric": self.metric, "scope": self.scope, "value": self.value,
            "op": self.op, "threshold": self.threshold, "severity": self.severity,
            "since": dt.datetime.fromtimestamp(self.since, dt.UTC).isoformat(),
            "at": dt.datetime.fromtimestamp(self.at, dt.UTC).isoformat(),
            "dashboard_url": self.dashboard_url, "ack_url": self.ack_url,
        }


def mask(contact: str) -> str:
    """'+15550100123' -> '+155***0123', 'ana@x.org' -> 'a***@x.org': enough to tell apart, not to use."""
    if "@" in contact:
        user, _, domain = contact.partition("@")
        return f"{user[:1]}***@{domain}"
    if contact.startswith("http"):
        return contact.split("?")[0].split("#")[0][:40]
    return f"{contact[:4]}***{contact[-4:]}" if len(contact) > 8 else "***"


_PHONE_LIKE = re.compile(r"\+?\d[\d ()-]{6,}\d")
_EMAIL_LIKE = re.compile(r"[^@\s'\"<>]+@[^@\s'\"<>]+\.[A-Za-z]{2,}")


def scrub(text: str) -> str:
    """Mask phone numbers and addresses inside provider error texts before they reach logs or topics."""
    text = _EMAIL_LIKE.sub(lambda m: mask(m.group(0)), text)
    return _PHONE_LIKE.sub(lambda m: mask(re.sub(r"[ ()-]", "", m.group(0))), text)


def contact_hash(channel: str, contact: str) -> str:
    """Stable, non-reversible key for a recipient (Redis keys never hold a phone or address)."""
    return hashlib.sha256(f"{channel}:{contact}".encode()).hexdigest()[:20]


def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` over ``<timestamp>.<body>`` (the timestamp header stops replays)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={mac}"
