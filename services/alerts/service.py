"""The alerts service shell: Kafka in (zone stats, store stats, camera health), Redis state, messages out,
audit trail on the alerts topic, rejected deliveries on the alerts DLQ, /ack/<incident> over HTTP.

Each incident's inputs come from one Kafka key (a zone's stats, a camera's health), so in the
consumer group one replica at a time owns an incident; the Redis ledger covers hand-overs and
crashes. Per batch: evaluate -> send -> publish the audit events -> settle (every event acknowledged
by the broker, or after retries in ``<topic>.dlq`` with the reason; see storesight.bus.PendingSends)
-> save states -> commit.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from prometheus_client import Counter, Gauge

from services.alerts.incident import IncidentKey, IncidentState, Notify, State, Step, evaluate
from services.alerts.ledger import Ledger
from services.alerts.message import Notice, ack_url, ack_valid, mask
from services.alerts.notifier import NOTIFICATIONS, SUPPRESSED, Notifier, Target
from services.alerts.observe import Observation, observe_camera, observe_store, observe_zone
from services.alerts.policy import RetryPolicy
from services.alerts.schedule import mute_reason
from storesight.config import Channel, Config, Rule, Store
from storesight.contracts import AlertEvent, CameraHealth, Delivery, StoreStats, ZoneStats, to_timestamp
from storesight.topics import ALERTS, BY_NAME, CAMERA_HEALTH, STORE_STATS, ZONE_STATS, Topic

if TYPE_CHECKING:
    from storesight.bus import SendRetry

log = logging.getLogger(__name__)

GROUP = "storesight-alerts"
DLQ_REASON_HEADER = "storesight-dlq-reason"
DLQ_CHANNEL_HEADER = "storesight-dlq-channel"

INCIDENTS = Gauge("storesight_alerts_incidents", "Incidents by state (those this replica last evaluated)",
                  ["state"])
DLQ_TOTAL = Counter("storesight_alerts_dlq_total",
                    "Deliveries rejected (4xx) or failed after all retries, written to the alerts DLQ", ["channel"])

STATE_PB = {State.inactive: AlertEvent.STATE_INACTIVE, State.pending: AlertEvent.STATE_PENDING,
            State.firing: AlertEvent.STATE_FIRING, State.resolved: AlertEvent.STATE_RESOLVED}
STATUS_PB = {"sent": Delivery.STATUS_SENT, "failed": Delivery.STATUS_FAILED,
             "rejected": Delivery.STATUS_REJECTED, "rate_limited": Delivery.STATUS_RATE_LIMITED,
             "suppressed": Delivery.STATUS_SUPPRESSED}
CONTACT_FIELD = {Channel.sms: "phone", Channel.email: "email", Channel.webhook: "webhook_url"}

# publish(topic, key, event, headers)
Publish = Callable[[Topic, str, AlertEvent, list[tuple[str, bytes]] | None], None]


def targets(rule: Rule, kind: Notify) -> list[Target]:
    people = rule.escalate_to if kind is Notify.escalate else rule.recipients
    return [Target(c.value, getattr(p, CONTACT_FIELD[c])) for p in people for c in rule.channels
            if getattr(p, CONTACT_FIELD[c])]


class AlertsService:
    """Evaluates rules on records and turns steps into messages and audit events (no Kafka here)."""

    def __init__(self, config: Config, ledger: Ledger, notifier: Notifier, publish: Publish, ack_secret: str,
                 alerts_topic: Topic = ALERTS, dlq_topic: Topic | None = None):
        self.config = config
        self.ledger = ledger
        self.notifier = notifier
        self.publish = publish
        self.ack_secret = ack_secret
        self.alerts_topic = alerts_topic
        self.dlq_topic = dlq_topic or BY_NAME[ALERTS.dlq]
        self.settings = config.pipeline.alerts
        self._states: dict[IncidentKey, State] = {}
        self._unsaved: dict[IncidentKey, IncidentState] = {}

    def _store(self, store_id: str) -> Store | None:
        try:
            return self.config.store(store_id)
        except KeyError:
            log.warning("record for a store not in this config", extra={"store": store_id})
            return None

    def on_zone_stats(self, msg: ZoneStats) -> list[AlertEvent]:
        return self._on(msg.store_id, lambda rule, store: observe_zone(rule, store, msg))

    def on_store_stats(self, msg: StoreStats) -> list[AlertEvent]:
        return self._on(msg.store_id, lambda rule, _store: observe_store(rule, msg))

    def on_camera_health(self, msg: CameraHealth) -> list[AlertEvent]:
        return self._on(msg.store_id, lambda rule, _store: observe_camera(rule, msg), camera_id=msg.camera_id)

    def _on(self, store_id: str, observe: Callable[[Rule, Store], Observation | None],
            camera_id: str = "") -> list[AlertEvent]:
        """Apply every rule of the record's store that the record says something about."""
        store = self._store(store_id)
        if store is None:
            return []
        events = []
        for rule in store.rules:
            obs = observe(rule, store)
            if obs is not None:
                events += self._apply(store, rule, obs, camera_id=camera_id)
        return events

    def _apply(self, store: Store, rule: Rule, obs: Observation, camera_id: str) -> list[AlertEvent]:
        key = IncidentKey(store.id, rule.id, obs.scope)
        st = self._unsaved.get(key) or self.ledger.load_state(key)
        muted = mute_reason(rule, store, obs.at)
        new_st, steps = evaluate(rule, key, st, obs, acked=self.ledger.is_acked(st.incident_id), muted=muted)
        events = []
        for step in steps:
            if step.to_state is State.pending and step.from_state is State.inactive:
                self.ledger.remember_incident(step.incident_id, key)
            events.append(self._event(store, rule, key, step, camera_id))
        self._unsaved[key] = new_st
        self._count(key, new_st)
        return events

    def save_states(self) -> None:
        """Write the batch's incident states to Redis: call after the batch's audit events are flushed.

        Saving later rather than sooner means a crash replays records whose events may not have
        reached Kafka (sends are de-duplicated by the ledger), instead of skipping them.
        """
        for key, st in self._unsaved.items():
            self.ledger.save_state(key, st)
        self._unsaved.clear()

    def _count(self, key: IncidentKey, st: IncidentState) -> None:
        self._states[key] = st.state
        for state in State:
            INCIDENTS.labels(state.value).set(sum(1 for s in self._states.values() if s is state))

    def _event(self, store: Store, rule: Rule, key: IncidentKey, step: Step, camera_id: str) -> AlertEvent:
        event = AlertEvent(
            event_id=_event_id(step),
            incident_id=step.incident_id, rule_id=rule.id, store_id=store.id,
            zone_id=rule.zone or "", camera_id=camera_id, metric=rule.metric.value,
            from_state=STATE_PB[step.from_state], to_state=STATE_PB[step.to_state], action=step.action,
            value=step.value if step.value is not None else float("nan"), threshold=rule.threshold,
            severity=rule.severity, at=_ts(step.at), since=_ts(step.since))
        kind = step.notify or (Notify.resolved if step.to_state is State.resolved else Notify.firing)
        if step.suppressed:
            for t in targets(rule, kind):
                event.deliveries.append(Delivery(channel=t.channel, recipient=mask(t.contact), status=Delivery.STATUS_SUPPRESSED,
                                                 error=step.suppressed, at=_ts(step.at)))
            _count_suppressed(event)
        if step.notify is not None:
            notice = self._notice(store, rule, key, step)
            for result in self.notifier.deliver(step.tx_id, notice, targets(rule, step.notify)):
                event.deliveries.append(Delivery(
                    channel=result["channel"], recipient=result["recipient"], status=STATUS_PB[result["status"]],
                    provider_id=result["provider_id"], error=result["error"], attempts=result["attempts"],
                    at=_ts(result["at"])))
        self.publish(self.alerts_topic, store.id, event, None)
        for d in event.deliveries:
            if d.status in (Delivery.STATUS_REJECTED, Delivery.STATUS_FAILED):
                self._dead_letter(store.id, event, d)
        return event

    def _dead_letter(self, store_id: str, event: AlertEvent, delivery: Delivery) -> None:
        entry = AlertEvent()
        entry.CopyFrom(event)
        del entry.deliveries[:]
        entry.deliveries.append(delivery)
        headers = [(DLQ_REASON_HEADER, delivery.error.encode()), (DLQ_CHANNEL_HEADER, delivery.channel.encode())]
        self.publish(self.dlq_topic, store_id, entry, headers)
        DLQ_TOTAL.labels(delivery.channel).inc()
        log.warning("delivery not made: written to the DLQ", extra={
            "channel": delivery.channel, "recipient": delivery.recipient, "reason": delivery.error,
            "incident": event.incident_id})

    def _notice(self, store: Store, rule: Rule, key: IncidentKey, step: Step) -> Notice:
        return Notice(kind=step.notify or Notify.firing, incident_id=step.incident_id, store_id=store.id,
                      store_name=store.name, timezone=store.timezone, rule_id=rule.id, metric=rule.metric.value,
                      scope=key.scope, value=step.value, threshold=rule.threshold, op=rule.op.value,
                      severity=rule.severity, since=step.since, at=step.at,
                      dashboard_url=self.settings.dashboard_url,
                      ack_url=ack_url(self.settings.ack_base_url, self.ack_secret, step.incident_id))

    def ack_route(self, path: str, query: str) -> tuple[int, str, bytes]:
        """GET /ack/<incident>?sig=...: a valid signature acknowledges (stops repeats and escalation)."""
        incident_id = path[len("/ack/"):].strip("/")
        sig = (parse_qs(query).get("sig") or [""])[0]
        if not incident_id or not ack_valid(self.ack_secret, incident_id, sig):
            return 403, "text/plain; charset=utf-8", b"invalid or expired acknowledgement link\n"
        if not self.ledger.incident_exists(incident_id):
            return 404, "text/plain; charset=utf-8", b"no such incident\n"
        first = self.ledger.acknowledge(incident_id)
        log.info("incident acknowledged", extra={"incident": incident_id, "first": first})
        text = "Acknowledged. Thank you: reminders and escalation for this incident are stopped."
        return 200, "text/html; charset=utf-8", f"<html><body><p>{text}</p></body></html>".encode()


def _event_id(step: Step) -> str:
    """Deterministic, so readers can drop the duplicates an at-least-once replay may publish."""
    parts = [step.incident_id, f"{step.from_state.value}-{step.to_state.value}"]
    if step.action:
        parts.append(step.action)
    if step.action == "repeat":
        parts.append(step.tx_id.rsplit("-", 1)[-1])
    return ":".join(parts)


def _count_suppressed(event: AlertEvent) -> None:
    for d in event.deliveries:
        if d.status == Delivery.STATUS_SUPPRESSED:
            NOTIFICATIONS.labels(d.channel, SUPPRESSED).inc()


def _ts(seconds: float):
    return to_timestamp(dt.datetime.fromtimestamp(seconds, dt.UTC))


def retry_policy(config: Config) -> RetryPolicy:
    s = config.pipeline.alerts
    return RetryPolicy(max_attempts=s.max_attempts, initial_s=s.retry_initial_s)


def used_channels(config: Config) -> set[str]:
    return {c.value for s in config.stores for r in s.rules for c in r.channels}


def run(config: Config, *, replica_id: str, runner, group: str = GROUP, zone_topic: Topic = ZONE_STATS,
        health_topic: Topic = CAMERA_HEALTH, alerts_topic: Topic = ALERTS, dlq_topic: Topic | None = None,
        key_prefix: str = "storesight:alerts:", redis_url: str | None = None,
        send_retry: SendRetry | None = None, store_topic: Topic = STORE_STATS) -> None:
    """Consume until ``runner.stopping`` is set; ``runner`` is a storesight.service.ServiceRunner."""
    import redis
    from kafka.errors import CommitFailedError, KafkaError

    from services.alerts.channels import Secrets, build_senders
    from storesight.bus import TypedConsumer, TypedProducer, source_of

    secrets = Secrets.from_env()
    if not secrets.ack_secret:
        raise RuntimeError("ACK_SECRET must be set in the environment (it signs the acknowledgement links)")
    settings = config.pipeline.alerts
    ledger = Ledger.from_url(redis_url or os.environ.get("REDIS_URL", config.pipeline.redis_url),
                             prefix=key_prefix, replica_id=replica_id)
    try:
        ledger.r.ping()
    except redis.RedisError as exc:
        raise RuntimeError(f"Redis unreachable ({type(exc).__name__}); set REDIS_URL") from None
    senders = build_senders(settings, secrets, used_channels(config))
    notifier = Notifier(ledger, senders, retry_policy(config), settings.per_recipient_per_hour, settings.claim_ttl_s)
    kafka = config.pipeline.kafka
    try:
        producer = TypedProducer(kafka, f"alerts-{replica_id}")
    except KafkaError:
        raise RuntimeError("Kafka unreachable; set KAFKA_BOOTSTRAP") from None

    sends = producer.batch(send_retry)
    source = [""]  # the input record being evaluated, for the DLQ source header

    def publish(topic: Topic, key: str, event: AlertEvent, headers) -> None:
        sends.send(topic, key, event, headers, source=source[0])

    service = AlertsService(config, ledger, notifier, publish, secrets.ack_secret, alerts_topic,
                            dlq_topic or dataclasses.replace(BY_NAME[ALERTS.dlq], name=alerts_topic.dlq))
    runner.add_route("/ack/", service.ack_route)
    runner.add_health_check(lambda: _redis_problem(ledger))
    consumer = TypedConsumer(kafka, [zone_topic, health_topic, store_topic], group, f"alerts-{replica_id}", producer)
    runner.set_ready(True)
    log.info("alerts service running", extra={"replica": replica_id, "group": group,
                                              "rules": sum(len(s.rules) for s in config.stores)})
    try:
        while not runner.stopping.is_set():
            records = consumer.poll(timeout_ms=200, max_records=100)
            for record in records:
                source[0] = source_of(record)
                if record.topic == zone_topic.name:
                    service.on_zone_stats(record.value)
                elif record.topic == store_topic.name:
                    service.on_store_stats(record.value)
                else:
                    service.on_camera_health(record.value)
            if records:
                sends.settle()  # raises DeliveryFailed (nothing saved or committed) when even the DLQ failed
                service.save_states()
                try:
                    consumer.commit()
                except CommitFailedError:
                    # A rebalance moved the partition: its new owner replays these records, and the
                    # ledger and the states' last_at make that replay send and change nothing.
                    log.warning("commit failed after a rebalance; the new owner replays")
    finally:
        runner.set_ready(False)
        consumer.close()
        producer.close()
        log.info("alerts service stopped", extra={"replica": replica_id})


def _redis_problem(ledger: Ledger) -> str | None:
    try:
        ledger.r.ping()
    except Exception as exc:  # noqa: BLE001 - reported by /healthz
        return f"redis: {type(exc).__name__}"
    return None

