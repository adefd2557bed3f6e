"""Store-wide rules (store_occupancy = capacity, footfall) through the real Twilio and SMTP peers."""

from __future__ import annotations

import datetime as dt
import time

from storesight.config import parse_config
from storesight.contracts import AlertEvent, Delivery, StoreStats, to_timestamp
from tests.integration.alerts.conftest import MAIL, PHONE, T0, config_dict, make_harness, rule, store

FIRING, RESOLVED = AlertEvent.STATE_FIRING, AlertEvent.STATE_RESOLVED
W = 60


def store_config(rules: list[dict], twilio, smtp):
    shop = store("shop-1", rules)
    door = shop["cameras"][1]
    door["lines"] = [{"id": "front-door", "a": [0, 0.5], "b": [1, 0.5], "in_point": [0.5, 1]}]
    shop["entrances"] = [{"camera": door["id"], "line": "front-door"}]
    return parse_config(config_dict([shop], twilio, smtp))


def store_stats(t: dt.datetime, occupancy: int, entries: int = 0,
                status=StoreStats.STATUS_OK) -> StoreStats:
    return StoreStats(store_id="shop-1", window_start=to_timestamp(t),
                      window_end=to_timestamp(t + dt.timedelta(seconds=W)), local_date="2026-11-20",
                      status=status, coverage=1.0 if status == StoreStats.STATUS_OK else 0.0, open=True,
                      entries=entries, occupancy=occupancy, footfall_day=entries, reset=StoreStats.RESET_NONE)


def test_store_capacity_rule_fires_once_by_sms_and_email_and_resolves(twilio, smtp, redis_url, key_prefix):
    capacity = rule(id="store-full", metric="store_occupancy", zone=None, threshold=50, clear_threshold=40,
                    for_s=60, severity="critical")
    h = make_harness(store_config([capacity], twilio, smtp), redis_url, key_prefix)
    occupancy = [10, 30, 52, 55, 44, 51, 48, 38]  # above 50 from window 2; 44..48 is inside the band
    for i, value in enumerate(occupancy):
        h.record(store_stats(T0 + dt.timedelta(seconds=i * W), value))
    assert twilio.wait_for(2, 5) and smtp.wait_for(2, 5)
    time.sleep(0.2)
    bodies = [m["body"] for m in twilio.messages]
    assert len(bodies) == 2 and "ALERT" in bodies[0] and "RESOLVED" in bodies[1]
    # for_s is met by the first whole window above the threshold (a window lasts 60 s).
    for part in ("Shop 1", "store_occupancy 52", ">= 50"):
        assert part in bodies[0], part
    assert twilio.messages[0]["to"] == PHONE and smtp.messages[0]["To"] == MAIL
    assert "store_occupancy" in smtp.messages[0].get_body(("plain",)).get_content()
    firing = [e for e in h.events if e.to_state == FIRING]
    assert len(firing) == 1 and firing[0].metric == "store_occupancy" and firing[0].value == 52
    assert {d.channel: d.status for d in firing[0].deliveries} == {"sms": Delivery.STATUS_SENT,
                                                                   "email": Delivery.STATUS_SENT}
    assert [e.to_state for e in h.events].count(RESOLVED) == 1


def test_unknown_store_window_neither_fires_nor_resolves(twilio, smtp, redis_url, key_prefix):
    capacity = rule(id="store-full", metric="store_occupancy", zone=None, threshold=50, clear_threshold=40,
                    for_s=0, channels=["sms"])
    h = make_harness(store_config([capacity], twilio, smtp), redis_url, key_prefix)
    h.record(store_stats(T0, 60))
    assert twilio.wait_for(1, 5)
    # The door camera is down: the window says occupancy 0 but UNKNOWN, which must not resolve.
    h.record(store_stats(T0 + dt.timedelta(seconds=W), 0, status=StoreStats.STATUS_UNKNOWN))
    time.sleep(0.3)
    assert len(twilio.messages) == 1
    assert RESOLVED not in [e.to_state for e in h.events]


def test_footfall_rule_watches_entries_per_window(twilio, smtp, redis_url, key_prefix):
    rush = rule(id="door-rush", metric="footfall", zone=None, threshold=20, clear_threshold=5, for_s=0,
                channels=["email"])
    h = make_harness(store_config([rush], twilio, smtp), redis_url, key_prefix)
    for i, entries in enumerate([3, 8, 25, 6, 2]):
        h.record(store_stats(T0 + dt.timedelta(seconds=i * W), 10, entries=entries))
    assert smtp.wait_for(2, 5)
    firing = [e for e in h.events if e.to_state == FIRING]
    assert [(e.metric, e.value) for e in firing] == [("footfall", 25)]
    assert [e.to_state for e in h.events].count(RESOLVED) == 1
