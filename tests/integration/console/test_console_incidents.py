"""Open incidents on the console's live page come from the alerts topic, and acknowledging one
there uses the alerts service's own signed link: its repeat SMS stop at the Twilio peer.

The alerts side is the real AlertsService (tests/integration/alerts harness: real Redis
ledger, the Twilio emulator driven by the real twilio client, /ack/ served over HTTP); its
audit events go to an embedded broker's alerts topic, which the console process follows."""

from __future__ import annotations

import datetime as dt

import pytest
import yaml

from storesight.bus import TypedProducer
from storesight.config import KafkaSettings, parse_config
from storesight.service import ServiceRunner
from storesight.topics import ALERTS, ensure_topics
from tests.integration.alerts.conftest import ACK_SECRET, T0, config_dict, make_harness, rule, store
from tests.support.console import sign_in, start_console


@pytest.fixture()
def alerts_http():
    runner = ServiceRunner("alerts-test", port=0, host="127.0.0.1", install_signals=False)
    runner.serve_http()
    yield runner
    runner.close()


def publish(bootstrap: str, events) -> None:
    producer = TypedProducer(KafkaSettings(bootstrap=bootstrap), "test-alerts")
    for event in events:
        producer.send(ALERTS, event.store_id, event)
    producer.flush()
    producer.close()


def test_acknowledging_on_the_page_stops_the_repeats(browser, fresh_broker, alerts_http, twilio, redis_url,
                                                    key_prefix, tmp_path) -> None:
    ensure_topics(fresh_broker.bootstrap)
    ack_base = f"http://127.0.0.1:{alerts_http.port}"
    data = config_dict([store("shop-1", [rule(for_s=0, channels=["sms"], repeat_s=120)])], twilio,
                       ack_base_url=ack_base)
    harness = make_harness(parse_config(data), redis_url, key_prefix)
    alerts_http.add_route("/ack/", harness.service.ack_route)
    harness.feed_queue(T0, [6, 6])  # the queue is long: an incident fires, one SMS
    assert len(twilio.messages) == 1
    publish(fresh_broker.bootstrap, harness.events)

    console = start_console(tmp_path, config_text=yaml.safe_dump(data), extra_env={
        "KAFKA_BOOTSTRAP": fresh_broker.bootstrap, "ACK_SECRET": ACK_SECRET, "CONSOLE_ACK_BASE_URL": ack_base})
    try:
        page = sign_in(browser, console, "vic")  # a store manager: a viewer may acknowledge
        page.goto(console.url + "/stores/shop-1/live")
        row = page.locator("#incidents tbody tr")
        row.locator("td.rule", has_text="queue-long").wait_for(timeout=30000)
        row.locator("button", has_text="Acknowledge").click()
        page.locator("#incidents-status", has_text="acknowledged").wait_for()
        row.locator("td.action", has_text="acknowledged").wait_for()
    finally:
        log = console.stop()
    assert ACK_SECRET not in log
    assert harness.ledger.is_acked(harness.events[-1].incident_id)
    harness.feed_queue(T0 + dt.timedelta(seconds=20), [6] * 60)  # ten more minutes of long queue
    assert len(twilio.messages) == 1  # no repeat after the acknowledgement
    assert [e.action for e in harness.events].count("ack") == 1
