"""The alert scenarios end to end through real peers: the real twilio client against the Twilio
emulator, smtplib with STARTTLS+AUTH against aiosmtpd, real Redis. No Kafka here (see test_replicas)."""

from __future__ import annotations

import datetime as dt
import threading
import time

from services.alerts.incident import IncidentKey, IncidentState, State
from services.alerts.ledger import Ledger
from services.alerts.service import DLQ_TOTAL
from storesight.contracts import AlertEvent, Delivery, ZoneStats
from tests.integration.alerts.conftest import (
    MAIL,
    PHONE,
    SMTP_USER,
    T0,
    camera_health,
    make_config,
    make_harness,
    rule,
    zone_stats,
)

FIRING, PENDING, RESOLVED, INACTIVE = (AlertEvent.STATE_FIRING, AlertEvent.STATE_PENDING,
                                       AlertEvent.STATE_RESOLVED, AlertEvent.STATE_INACTIVE)


def alert_bodies(twilio) -> list[str]:
    return [m["body"] for m in twilio.messages if "ALERT" in m["body"]]


def test_threshold_crossed_for_less_than_for_sends_nothing(twilio, smtp, redis_url, key_prefix):
    h = make_harness(make_config([rule(for_s=30)], twilio, smtp), redis_url, key_prefix)
    h.feed_queue(T0, [6, 7, 1, 6, 6, 0])  # 20 s above, drop, 20 s above, drop: never 30 s
    assert twilio.messages == [] and smtp.messages == []
    assert FIRING not in [e.to_state for e in h.events]
    assert [(e.from_state, e.to_state) for e in h.events] == [(INACTIVE, PENDING), (PENDING, INACTIVE)] * 2


def test_held_condition_sends_exactly_one_sms_and_one_email(twilio, smtp, redis_url, key_prefix):
    h = make_harness(make_config([rule(for_s=30)], twilio, smtp), redis_url, key_prefix)
    h.feed_queue(T0, [6, 6, 6, 7, 8, 9, 6])
    assert twilio.wait_for(1, 5) and smtp.wait_for(1, 5)
    time.sleep(0.2)
    assert len(twilio.messages) == 1 and len(smtp.messages) == 1
    sms = twilio.messages[0]
    assert sms["to"] == PHONE and sms["from"] == "+15550009999"
    body = sms["body"]
    # store, zone, value, threshold, since (store-local), dashboard and ack links; no names or contacts
    for part in ("Shop 1", "till-queue", "queue_length 6", ">= 5", "since 2026-11-20 10:00 EST",
                 "http://dash.example/d/live", "/ack/"):
        assert part in body, part
    assert "Manager" not in body and PHONE not in body
    mail = smtp.messages[0]
    assert mail["To"] == MAIL and smtp.envelopes[0]["tls"] and smtp.logins == [SMTP_USER]
    assert "till-queue" in mail.get_body(("plain",)).get_content()
    assert "<a href=" in mail.get_body(("html",)).get_content()
    firing = [e for e in h.events if e.to_state == FIRING]
    assert len(firing) == 1 and firing[0].action == ""
    sent = {d.channel: d for d in firing[0].deliveries}
    assert sent["sms"].status == Delivery.STATUS_SENT and sent["sms"].provider_id == sms["sid"]
    assert sent["sms"].recipient == "+155***0123" and sent["email"].recipient == "m***@shop.example"
    assert firing[0].since.ToDatetime(dt.UTC) == T0


def test_flapping_inside_the_hysteresis_band_sends_one(twilio, smtp, redis_url, key_prefix):
    h = make_harness(make_config([rule(for_s=0, threshold=5, clear_threshold=2)], twilio, smtp),
                     redis_url, key_prefix)
    h.feed_queue(T0, [6, 3, 6, 4, 5, 3, 7, 3, 6])  # 3..4 is inside the band (2, 5)
    assert len(alert_bodies(twilio)) == 1 and len(twilio.messages) == 1
    h.feed_queue(T0 + dt.timedelta(minutes=5), [1])  # past the clear threshold: resolves
    assert len(twilio.messages) == 2 and "RESOLVED" in twilio.messages[1]["body"]


def test_without_hysteresis_the_same_flapping_makes_many_incidents(twilio, smtp, redis_url, key_prefix):
    """Control for the test above: it would fail if the clear threshold were ignored."""
    h = make_harness(make_config([rule(for_s=0, clear_threshold=None, channels=["sms"])], twilio),
                     redis_url, key_prefix)
    h.feed_queue(T0, [6, 3, 6, 4, 5, 3, 7, 3, 6])
    assert len(alert_bodies(twilio)) == 5


def test_cooldown_is_respected(twilio, smtp, redis_url, key_prefix):
    h = make_harness(make_config([rule(for_s=0, cooldown_s=300, channels=["sms"])], twilio), redis_url, key_prefix)
    h.feed_queue(T0, [6, 1, 6, 6, 1, 6])  # re-crossings within 5 minutes of resolving
    assert len(alert_bodies(twilio)) == 1
    h.feed_queue(T0 + dt.timedelta(seconds=10 + 300), [6])  # 300 s after resolving
    assert len(alert_bodies(twilio)) == 2


def test_quiet_hours_in_new_york_on_the_dst_change_day(twilio, smtp, redis_url, key_prefix, monkeypatch):
    """Quiet 22:00-07:00 New York time on 2026-03-08, when clocks jump 02:00 EST -> 03:00 EDT.

    07:00 EDT is 11:00 UTC that day (it was 12:00 UTC the day before). The machine's own zone is
    set to Tokyo to show it plays no part.
    """
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        quiet = [{"start": "22:00", "end": "07:00"}]
        h = make_harness(make_config([rule(for_s=0, channels=["sms"], quiet_hours=quiet)], twilio),
                         redis_url, key_prefix)
        day = dt.datetime(2026, 3, 8, 10, 40, tzinfo=dt.UTC)  # 06:40 EDT: quiet
        h.feed_queue(day, [6])  # window 10:40-10:50 UTC
        assert twilio.messages == []
        firing = [e for e in h.events if e.to_state == FIRING]
        assert [d.status for d in firing[0].deliveries] == [Delivery.STATUS_SUPPRESSED]
        assert firing[0].deliveries[0].error == "quiet hours"
        h.feed_queue(day + dt.timedelta(minutes=20), [6])  # 11:00:10 UTC = 07:00:10 EDT: no longer quiet
        assert len(twilio.messages) == 1
        assert "since 2026-03-08 06:40 EDT" in twilio.messages[0]["body"]
        assert h.events[-1].action == "notify"
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_quiet_hours_the_day_before_dst_still_use_standard_time(twilio, smtp, redis_url, key_prefix):
    """Control: the same UTC instant one day earlier is 06:00 EST, still quiet."""
    h = make_harness(make_config([rule(for_s=0, channels=["sms"], quiet_hours=[{"start": "22:00", "end": "07:00"}])],
                                 twilio), redis_url, key_prefix)
    h.feed_queue(dt.datetime(2026, 3, 7, 11, 0, tzinfo=dt.UTC), [6, 6])  # ends 11:00:20 UTC = 06:00:20 EST
    assert twilio.messages == []


def test_outside_business_hours_is_muted_in_store_time(twilio, smtp, redis_url, key_prefix):
    hours = [{"start": "09:00", "end": "21:00"}]
    h = make_harness(make_config([rule(for_s=0, channels=["sms"], only_business_hours=True)], twilio,
                                 business_hours=hours), redis_url, key_prefix)
    h.feed_queue(dt.datetime(2026, 11, 20, 13, 30, tzinfo=dt.UTC), [6])  # 08:30 EST: closed
    assert twilio.messages == []
    h.feed_queue(dt.datetime(2026, 11, 20, 14, 0, tzinfo=dt.UTC), [6])  # 09:00 EST: open
    assert len(twilio.messages) == 1


def test_unknown_data_never_fires(twilio, smtp, redis_url, key_prefix):
    h = make_harness(make_config([rule(for_s=30, channels=["sms"])], twilio), redis_url, key_prefix)
    for i in range(10):
        t = T0 + dt.timedelta(seconds=10 * i)
        # status UNKNOWN, even with a (stale) value present; and OK with the value absent
        unknown = zone_stats(t, 9, status=ZoneStats.STATUS_UNKNOWN)
        h.record(unknown if i % 2 else zone_stats(t, None))
    assert twilio.messages == [] and h.events == []
    # A pending incident is cancelled, not confirmed, by unknown data.
    h.feed_queue(T0 + dt.timedelta(minutes=5), [6, 6])
    h.record(zone_stats(T0 + dt.timedelta(minutes=5, seconds=20), None, status=ZoneStats.STATUS_UNKNOWN))
    h.feed_queue(T0 + dt.timedelta(minutes=5, seconds=30), [6, 6])  # 40 s above, with an unknown gap
    assert twilio.messages == []
    # Live records are not used.
    live = zone_stats(T0 + dt.timedelta(minutes=10), 9)
    live.live = True
    assert h.record(live) == []


def test_camera_down_makes_a_camera_down_incident(twilio, smtp, redis_url, key_prefix):
    r = rule(id="door-cam-down", metric="camera_down", zone=None, camera="cam-door", threshold=1,
             clear_threshold=None, for_s=20, channels=["sms"], severity="critical")
    h = make_harness(make_config([r], twilio), redis_url, key_prefix)
    for i, up in enumerate([True, False, False, False, False, True]):
        h.record(camera_health(T0 + dt.timedelta(seconds=10 * i), up))
    assert len(twilio.messages) == 2
    assert "camera_down down" in twilio.messages[0]["body"] and "cam-door" in twilio.messages[0]["body"]
    assert "RESOLVED" in twilio.messages[1]["body"]
    states = [(e.from_state, e.to_state) for e in h.events]
    assert states == [(INACTIVE, PENDING), (PENDING, FIRING), (FIRING, RESOLVED)]
    assert h.events[1].metric == "camera_down" and h.events[1].camera_id == "cam-door"


def test_twilio_500_twice_then_201_is_delivered_once(twilio, smtp, redis_url, key_prefix):
    h = make_harness(make_config([rule(for_s=0, channels=["sms"])], twilio), redis_url, key_prefix)
    twilio.fail_next(500, 500)
    h.feed_queue(T0, [6])
    assert [r["status"] for r in twilio.requests] == [500, 500, 201]
    assert len(twilio.messages) == 1
    (delivery,) = h.events[-1].deliveries
    assert delivery.status == Delivery.STATUS_SENT and delivery.attempts == 3
    assert h.dlq == []


def test_twilio_400_goes_to_the_dlq_and_the_service_keeps_going(twilio, smtp, redis_url, key_prefix):
    h = make_harness(make_config([rule(for_s=0)], twilio, smtp), redis_url, key_prefix)
    before = DLQ_TOTAL.labels("sms")._value.get()
    twilio.fail_next(400)
    h.feed_queue(T0, [6])
    assert [r["status"] for r in twilio.requests] == [400]  # no retry
    deliveries = {d.channel: d for d in h.events[-1].deliveries}
    assert deliveries["sms"].status == Delivery.STATUS_REJECTED and deliveries["sms"].attempts == 1
    assert deliveries["email"].status == Delivery.STATUS_SENT  # the other channel is unaffected
    (entry, headers), = h.dlq
    assert "21211" in headers["storesight-dlq-reason"] and headers["storesight-dlq-channel"] == "sms"
    assert entry.incident_id == h.events[-1].incident_id and len(entry.deliveries) == 1
    assert DLQ_TOTAL.labels("sms")._value.get() == before + 1
    h.feed_queue(T0 + dt.timedelta(minutes=1), [1, 6])  # resolves, then a new incident goes through
    assert len(alert_bodies(twilio)) == 1 and twilio.requests[-1]["status"] == 201


def test_webhook_is_signed_and_a_wrong_secret_is_rejected(twilio, smtp, webhook, redis_url, key_prefix):
    hook = {"name": "Ops", "webhook_url": webhook.base_url + "/hook"}
    h = make_harness(make_config([rule(for_s=0, channels=["webhook"], recipients=[hook])]), redis_url, key_prefix)
    h.feed_queue(T0, [6])
    (got,) = webhook.received
    assert got["valid"] and got["payload"]["store_id"] == "shop-1" and got["payload"]["value"] == 6
    assert h.events[-1].deliveries[0].status == Delivery.STATUS_SENT
    webhook.secret = "someone-else"  # the receiver no longer trusts our key: 401, a rejection
    h.feed_queue(T0 + dt.timedelta(minutes=1), [1, 6])  # a resolved message, then a new incident
    assert [r["valid"] for r in webhook.received] == [True, False, False]
    assert h.events[-1].deliveries[0].status == Delivery.STATUS_REJECTED
    assert [e.deliveries[0].error for e, _ in h.dlq] == ["webhook 401", "webhook 401"]


def test_per_recipient_rate_limit_stops_a_flapping_camera_flooding_a_phone(twilio, smtp, redis_url, key_prefix):
    r = rule(id="cam-flap", metric="camera_down", zone=None, camera="cam-door", clear_threshold=None, for_s=0,
             channels=["sms"], threshold=1)
    h = make_harness(make_config([r], twilio, per_recipient_per_hour=3), redis_url, key_prefix)
    for i in range(20):  # down/up every 10 s: 10 incidents in 200 s
        h.record(camera_health(T0 + dt.timedelta(seconds=10 * i), up=bool(i % 2)))
    assert len(twilio.messages) == 3
    statuses = [d.status for e in h.events for d in e.deliveries]
    assert statuses.count(Delivery.STATUS_RATE_LIMITED) == 17
    h.record(camera_health(T0 + dt.timedelta(hours=1, minutes=5), up=False))
    assert len(twilio.messages) == 4  # an hour later the phone gets messages again


def test_replaying_the_same_records_sends_nothing_more(twilio, smtp, redis_url, key_prefix):
    config = make_config([rule(for_s=0, channels=["sms"])], twilio)
    h = make_harness(config, redis_url, key_prefix)
    h.feed_queue(T0, [6, 6])
    assert len(twilio.messages) == 1
    h.feed_queue(T0, [6, 6])  # at-least-once redelivery after a rebalance
    other = make_harness(config, redis_url, key_prefix, replica_id="r2")
    other.feed_queue(T0, [6, 6])
    assert len(twilio.messages) == 1


def test_two_replicas_racing_on_one_transition_send_once(twilio, smtp, redis_url, key_prefix):
    """Two replicas evaluate the same record at the same moment (a rebalance hand-over): the Redis
    claim lets one send; the other waits for its record and reports the same delivery."""
    config = make_config([rule(for_s=0, channels=["sms"])], twilio)
    a, b = (make_harness(config, redis_url, key_prefix, replica_id=r) for r in ("ra", "rb"))
    twilio.hold()  # keep the first send in flight while the other replica arrives
    record = zone_stats(T0, 6)
    threads = [threading.Thread(target=x.service.on_zone_stats, args=(record,)) for x in (a, b)]
    for t in threads:
        t.start()
    assert twilio.wait_for(1, 10)
    time.sleep(0.3)
    twilio.release()
    for t in threads:
        t.join(20)
    assert len(twilio.messages) == 1
    ids = {e.deliveries[0].provider_id for e in a.events + b.events if e.to_state == FIRING}
    assert ids == {twilio.messages[0]["sid"]}


def test_twilio_failing_past_max_attempts_is_failed_and_dead_lettered(twilio, smtp, redis_url, key_prefix):
    h = make_harness(make_config([rule(for_s=0, channels=["sms"])], twilio), redis_url, key_prefix)
    twilio.fail_next(503, 503, 503, 503)  # max_attempts is 4 in these tests
    h.feed_queue(T0, [6])
    assert [r["status"] for r in twilio.requests] == [503] * 4 and twilio.messages == []
    (delivery,) = h.events[-1].deliveries
    assert delivery.status == Delivery.STATUS_FAILED and delivery.attempts == 4
    (entry, headers), = h.dlq
    assert headers["storesight-dlq-reason"].startswith("twilio 503")


def test_a_stale_replica_cannot_roll_the_incident_state_back(redis_url, key_prefix):
    ledger = Ledger.from_url(redis_url, prefix=key_prefix)
    key = IncidentKey("shop-1", "queue-long", "till-queue")
    assert ledger.save_state(key, IncidentState(state=State.firing, last_at=200.0))
    assert not ledger.save_state(key, IncidentState(state=State.pending, last_at=100.0))
    assert ledger.load_state(key).state is State.firing
    assert ledger.save_state(key, IncidentState(state=State.resolved, last_at=300.0))
    assert ledger.load_state(key).state is State.resolved
