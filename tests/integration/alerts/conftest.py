"""Alerts test kit: real peers (Twilio emulator driven by the real twilio client, aiosmtpd with
STARTTLS+AUTH, a signature-checking webhook receiver), real Redis, and config builders."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

import pytest
import redis

from services.alerts.channels import Secrets, build_senders
from services.alerts.devpeers import SmtpServer, TwilioPeer, WebhookReceiver
from services.alerts.ledger import Ledger
from services.alerts.notifier import Notifier
from services.alerts.service import AlertsService, retry_policy, used_channels
from storesight.config import Config, parse_config
from storesight.contracts import AlertEvent, CameraHealth, StoreStats, ZoneStats, to_timestamp

SID, TOKEN, FROM = "ACtest0001", "test-token", "+15550009999"
PHONE, MAIL, PHONE2 = "+15550100123", "manager@shop.example", "+15550100456"
SMTP_USER, SMTP_PASSWORD, WEBHOOK_SECRET, ACK_SECRET = "alerts", "smtp-pass", "hook-secret", "ack-secret"
T0 = dt.datetime(2026, 11, 20, 15, 0, tzinfo=dt.UTC)  # a Friday, 10:00 in New York


@pytest.fixture()
def twilio():
    with TwilioPeer(SID, TOKEN) as peer:
        yield peer


@pytest.fixture()
def smtp():
    with SmtpServer(SMTP_USER, SMTP_PASSWORD) as server:
        yield server


@pytest.fixture()
def webhook():
    with WebhookReceiver(WEBHOOK_SECRET) as receiver:
        yield receiver


@pytest.fixture()
def key_prefix(redis_url):
    prefix = f"storesight:test-{uuid.uuid4().hex[:10]}:alerts:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(prefix + "*"):
        client.delete(key)


def rule(**kw) -> dict:
    base = {"id": "queue-long", "metric": "queue_length", "zone": "till-queue", "op": ">=", "threshold": 5,
            "clear_threshold": 2, "for_s": 30, "cooldown_s": 0, "only_business_hours": False,
            "channels": ["sms", "email"],
            "recipients": [{"name": "Manager", "phone": PHONE, "email": MAIL}]}
    return {**base, **kw}


def store(store_id: str, rules: list[dict], timezone: str = "America/New_York",
          business_hours: list | None = None) -> dict:
    return {"id": store_id, "name": store_id.replace("-", " ").title(), "timezone": timezone,
            "business_hours": business_hours or [],
            "cameras": [{"id": f"{store_id}-till", "source": "rtsp://127.0.0.1/x", "zones": [
                {"id": "till-queue", "kind": "queue", "capacity": 10, "polygon": [[0, 0], [1, 0], [1, 1]]}]},
                {"id": "cam-door" if store_id == "shop-1" else f"{store_id}-door", "source": "rtsp://127.0.0.1/y"}],
            "rules": rules}


def config_dict(stores: list[dict], twilio: TwilioPeer | None = None, smtp: SmtpServer | None = None,
                **alerts) -> dict:
    settings = {"max_attempts": 4, "retry_initial_s": 0.02, "claim_ttl_s": 5,
                "ack_base_url": "http://127.0.0.1:1", "dashboard_url": "http://dash.example/d/live"}
    if twilio is not None:
        settings["twilio_base_url"] = twilio.base_url
    if smtp is not None:
        settings.update(smtp_host=smtp.host, smtp_port=smtp.port, smtp_ca_file=str(smtp.ca_file))
    return {"region": "test", "pipeline": {"alerts": {**settings, **alerts}}, "stores": stores}


def make_config(rules: list[dict], twilio: TwilioPeer | None = None, smtp: SmtpServer | None = None,
                timezone: str = "America/New_York", business_hours: list | None = None, **alerts) -> Config:
    return parse_config(config_dict([store("shop-1", rules, timezone, business_hours)], twilio, smtp, **alerts))


SECRET_ENV = {"TWILIO_ACCOUNT_SID": SID, "TWILIO_AUTH_TOKEN": TOKEN, "TWILIO_FROM": FROM,
              "SMTP_USER": SMTP_USER, "SMTP_PASSWORD": SMTP_PASSWORD,
              "WEBHOOK_SECRET": WEBHOOK_SECRET, "ACK_SECRET": ACK_SECRET}


def secrets() -> Secrets:
    return Secrets.from_env(SECRET_ENV)


def zone_stats(t: dt.datetime, queue: float | None, window_s: int = 10, status=ZoneStats.STATUS_OK,
               zone: str = "till-queue", store_id: str = "shop-1") -> ZoneStats:
    msg = ZoneStats(store_id=store_id, zone_id=zone, zone_kind="queue", window_start=to_timestamp(t),
                    window_end=to_timestamp(t + dt.timedelta(seconds=window_s)), live=False, status=status,
                    coverage=1.0 if status == ZoneStats.STATUS_OK else 0.0)
    if queue is not None:
        msg.queue_length = queue
        msg.occupancy_avg = queue
    return msg


def camera_health(t: dt.datetime, up: bool, camera: str = "cam-door") -> CameraHealth:
    return CameraHealth(camera_id=camera, store_id="shop-1",
                        status=CameraHealth.STATUS_UP if up else CameraHealth.STATUS_DOWN,
                        report_time=to_timestamp(t), reason="" if up else "connection refused")


@dataclass
class Harness:
    """One alerts replica without Kafka: records in, audit events (and DLQ entries) collected."""

    service: AlertsService
    ledger: Ledger
    events: list[AlertEvent] = field(default_factory=list)
    dlq: list[tuple[AlertEvent, dict]] = field(default_factory=list)

    def feed_queue(self, start: dt.datetime, values: list[float | None], window_s: int = 10) -> list[AlertEvent]:
        """One closed window per value, back to back from ``start``."""
        out = []
        for i, value in enumerate(values):
            out += self.record(zone_stats(start + dt.timedelta(seconds=i * window_s), value, window_s))
        return out

    def record(self, msg: ZoneStats | CameraHealth | StoreStats) -> list[AlertEvent]:
        """One record, as the consume loop handles it (publish is synchronous here, then states are saved)."""
        on = (self.service.on_zone_stats if isinstance(msg, ZoneStats) else
              self.service.on_store_stats if isinstance(msg, StoreStats) else self.service.on_camera_health)
        events = on(msg)
        self.service.save_states()
        return events

    def transitions(self) -> list[tuple[int, int, str]]:
        return [(e.from_state, e.to_state, e.action) for e in self.events]


def make_harness(config: Config, redis_url: str, key_prefix: str, replica_id: str = "r1") -> Harness:
    ledger = Ledger.from_url(redis_url, prefix=key_prefix, replica_id=replica_id)
    s = config.pipeline.alerts
    notifier = Notifier(ledger, build_senders(s, secrets(), used_channels(config)), retry_policy(config),
                        s.per_recipient_per_hour, s.claim_ttl_s)
    harness: Harness

    def publish(topic, _key, event, headers):
        if topic.name.endswith(".dlq"):
            harness.dlq.append((event, {k: v.decode() for k, v in headers or []}))
        else:
            harness.events.append(event)

    service = AlertsService(config, ledger, notifier, publish, ACK_SECRET)
    harness = Harness(service, ledger)
    return harness
