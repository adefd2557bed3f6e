"""Acknowledgement through the signed link served over HTTP; repeats and escalation without it."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import requests

from services.alerts.message import ack_signature
from storesight.contracts import AlertEvent
from storesight.service import ServiceRunner
from tests.integration.alerts.conftest import ACK_SECRET, PHONE, PHONE2, T0, make_config, make_harness, rule


@pytest.fixture()
def http():
    runner = ServiceRunner("alerts-test", port=0, host="127.0.0.1", install_signals=False)
    runner.serve_http()
    yield runner
    runner.close()


def escalating_rule() -> dict:
    return rule(for_s=0, channels=["sms"], repeat_s=120, escalate_after_s=300,
                escalate_to=[{"name": "Area manager", "phone": PHONE2}])


def setup(http, twilio, redis_url, key_prefix):
    config = make_config([escalating_rule()], twilio, ack_base_url=f"http://127.0.0.1:{http.port}")
    h = make_harness(config, redis_url, key_prefix)
    http.add_route("/ack/", h.service.ack_route)
    return h


def test_unacknowledged_incident_repeats_and_escalates(http, twilio, redis_url, key_prefix):
    h = setup(http, twilio, redis_url, key_prefix)
    h.feed_queue(T0, [6] * 60)  # 10 minutes above threshold
    to_manager = [m for m in twilio.messages if m["to"] == PHONE]
    to_area = [m for m in twilio.messages if m["to"] == PHONE2]
    assert len(to_manager) == 1 + 4  # first message, then every 120 s
    assert len(to_area) == 1 and "ESCALATED" in to_area[0]["body"]
    assert [e.action for e in h.events].count("repeat") == 4


def test_acknowledging_by_the_signed_link_stops_repeat_and_escalation(http, twilio, redis_url, key_prefix):
    h = setup(http, twilio, redis_url, key_prefix)
    h.feed_queue(T0, [6, 6])
    (first,) = twilio.messages
    link = re.search(r"ack: (\S+)", first["body"])[1]
    assert link.startswith(f"http://127.0.0.1:{http.port}/ack/")
    reply = requests.get(link, timeout=5)
    assert reply.status_code == 200 and "Acknowledged" in reply.text
    h.feed_queue(T0 + dt.timedelta(seconds=20), [6] * 60)
    assert len(twilio.messages) == 1  # no repeat, no escalation
    acks = [e for e in h.events if e.action == "ack"]
    assert len(acks) == 1 and acks[0].to_state == AlertEvent.STATE_FIRING
    h.feed_queue(T0 + dt.timedelta(minutes=15), [1])  # the resolution is still announced
    assert len(twilio.messages) == 2 and "RESOLVED" in twilio.messages[1]["body"]


def test_a_bad_signature_is_refused_with_403(http, twilio, redis_url, key_prefix):
    h = setup(http, twilio, redis_url, key_prefix)
    h.feed_queue(T0, [6])
    incident = h.events[-1].incident_id
    base = f"http://127.0.0.1:{http.port}/ack/{incident}"
    assert requests.get(base + "?sig=AAAAAAAAAAAAAAAA", timeout=5).status_code == 403
    assert requests.get(base, timeout=5).status_code == 403
    forged = ack_signature("not-the-secret", incident)
    assert requests.get(f"{base}?sig={forged}", timeout=5).status_code == 403
    assert not h.ledger.is_acked(incident)
    good = ack_signature(ACK_SECRET, incident)
    assert requests.get(f"http://127.0.0.1:{http.port}/ack/0000000000000000?sig="
                        f"{ack_signature(ACK_SECRET, '0000000000000000')}", timeout=5).status_code == 404
    assert requests.get(f"{base}?sig={good}", timeout=5).status_code == 200
    assert h.ledger.is_acked(incident)
