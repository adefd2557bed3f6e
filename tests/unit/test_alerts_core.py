"""The alerts pure core: incident state machine, schedule, policy, messages. No servers."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.alerts.incident import IncidentKey, IncidentState, Notify, State, evaluate
from services.alerts.message import Notice, ack_signature, ack_url, ack_valid, mask, webhook_signature
from services.alerts.observe import Observation
from services.alerts.policy import RetryPolicy, http_retryable, rate_allows, smtp_retryable
from services.alerts.schedule import QUIET_HOURS, STORE_CLOSED, mute_reason
from storesight.config import Rule, Store

KEY = IncidentKey("s1", "r1", "z1")
T0 = dt.datetime(2026, 11, 20, 15, 0, tzinfo=dt.UTC).timestamp()


def make_rule(**kw) -> Rule:
    return Rule(**{"id": "r1", "metric": "queue_length", "zone": "z1", "op": ">=", "threshold": 5,
                   "clear_threshold": 2, "for_s": 30, "cooldown_s": 60, **kw})


def run(rule: Rule, values: list[float | None], window_s: float = 10, start: float = T0, **kw):
    state, steps = IncidentState(), []
    for i, value in enumerate(values):
        t = start + i * window_s
        state, new = evaluate(rule, KEY, state, Observation("z1", t, t + window_s, value), **kw)
        steps += new
    return state, steps


def notifications(steps) -> list[Notify]:
    return [s.notify for s in steps if s.notify]


def test_fires_once_the_condition_held_for_the_for_duration():
    state, steps = run(make_rule(), [6, 6, 6])
    assert [(s.from_state, s.to_state) for s in steps] == [(State.inactive, State.pending),
                                                           (State.pending, State.firing)]
    assert steps[1].at == T0 + 30 and steps[1].since == T0 and state.state is State.firing
    assert notifications(steps) == [Notify.firing] and steps[1].tx_id.endswith(":firing")


def test_a_short_crossing_is_dropped_and_a_new_one_gets_a_new_id():
    _, steps = run(make_rule(), [6, 6, 1, 6, 6, 6])
    ids = {s.incident_id for s in steps}
    assert len(ids) == 2 and notifications(steps) == [Notify.firing]


def test_for_zero_fires_on_the_first_window():
    _, steps = run(make_rule(for_s=0), [6])
    assert [s.to_state for s in steps] == [State.pending, State.firing]


def test_unknown_neither_starts_nor_confirms_nor_resolves():
    _, steps = run(make_rule(for_s=0), [None, None])
    assert steps == []
    _, steps = run(make_rule(for_s=20), [6, None, 6])
    assert [s.to_state for s in steps] == [State.pending, State.inactive, State.pending]
    state, steps = run(make_rule(for_s=0), [6, None, None, 3])
    assert state.state is State.firing and notifications(steps) == [Notify.firing]


def test_resolves_only_past_the_clear_threshold_then_cools_down():
    state, steps = run(make_rule(for_s=0, cooldown_s=60), [6, 4, 3, 2, 9, 9, 9, 9, 9, 9, 9])
    kinds = notifications(steps)
    assert kinds == [Notify.firing, Notify.resolved, Notify.firing]
    resolved = next(s for s in steps if s.to_state is State.resolved)
    refired = [s for s in steps if s.to_state is State.firing][-1]
    assert refired.at - resolved.at >= 60 and refired.incident_id != resolved.incident_id


def test_less_than_rules_use_the_clear_threshold_upwards():
    _, steps = run(make_rule(op="<", threshold=2, clear_threshold=4, for_s=0), [1, 3, 1, 3, 5])
    assert notifications(steps) == [Notify.firing, Notify.resolved]


def test_repeat_and_escalation_until_acknowledged():
    rule = make_rule(for_s=0, repeat_s=60, escalate_after_s=100,
                     escalate_to=[{"name": "Boss", "phone": "+15550100999"}])
    _, steps = run(rule, [6] * 20)
    assert notifications(steps).count(Notify.repeat) == 3  # at +60, +120, +180 after the first message
    assert notifications(steps).count(Notify.escalate) == 1
    _, steps = run(rule, [6] * 20, acked=True)
    assert notifications(steps) == [Notify.firing] and [s.action for s in steps].count("ack") == 1


def test_muted_firing_is_announced_when_the_mute_ends_and_resolution_follows_announcement():
    rule = make_rule(for_s=0)
    state, steps = run(rule, [6, 6], muted=QUIET_HOURS)
    assert notifications(steps) == [] and steps[1].suppressed == QUIET_HOURS
    state, more = evaluate(rule, KEY, state, Observation("z1", T0 + 20, T0 + 30, 6))
    assert [(s.action, s.notify) for s in more] == [("notify", Notify.firing)]
    assert more[0].tx_id == steps[1].tx_id  # the same transition: sent at most once
    # an incident never announced is not "resolved" to anyone
    _, steps = run(rule, [6, 1], muted=QUIET_HOURS)
    assert notifications(steps) == [] and steps[-1].to_state is State.resolved and steps[-1].suppressed is None


def test_replayed_observations_change_nothing():
    rule = make_rule(for_s=0)
    state, _ = run(rule, [6, 6])
    again, steps = evaluate(rule, KEY, state, Observation("z1", T0, T0 + 10, 6))
    assert steps == [] and again == state
    assert IncidentState.from_dict(state.to_dict()) == state


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.floats(0, 10)), max_size=60))
def test_every_firing_message_is_one_incident_and_alternates_with_resolution(values):
    _, steps = run(make_rule(for_s=20, cooldown_s=30), values)
    kinds = [n for n in notifications(steps) if n in (Notify.firing, Notify.resolved)]
    assert all(a != b for a, b in zip(kinds, kinds[1:], strict=False))  # never two firings in a row
    firing_ids = [s.incident_id for s in steps if s.notify is Notify.firing]
    assert len(firing_ids) == len(set(firing_ids))


def store(**kw) -> Store:
    return Store(**{"id": "s1", "timezone": "America/New_York",
                    "cameras": [{"id": "c1", "source": "x"}], **kw})


@pytest.mark.parametrize(("utc", "quiet"), [
    ("2026-03-08T06:30:00", True),   # 01:30 EST, before the jump
    ("2026-03-08T10:59:00", True),   # 06:59 EDT
    ("2026-03-08T11:00:00", False),  # 07:00 EDT (would be 06:00 with a fixed -05:00)
    ("2026-11-01T11:30:00", True),   # 06:30 EST on the fall-back day (07:30 with a fixed -04:00)
    ("2026-11-01T12:00:00", False),  # 07:00 EST
    ("2026-11-02T02:59:00", False),  # 21:59 EST
    ("2026-11-02T03:00:00", True),   # 22:00 EST
])
def test_quiet_hours_follow_the_store_zone_across_dst(utc, quiet):
    rule = make_rule(quiet_hours=[{"start": "22:00", "end": "07:00"}], only_business_hours=False)
    at = dt.datetime.fromisoformat(utc).replace(tzinfo=dt.UTC).timestamp()
    assert (mute_reason(rule, store(), at) == QUIET_HOURS) is quiet


def test_business_hours_mute_only_rules_that_ask_for_it():
    shop = store(business_hours=[{"start": "09:00", "end": "21:00", "days": ["mon", "tue", "wed", "thu", "fri"]}])
    saturday_noon = dt.datetime(2026, 11, 21, 17, 0, tzinfo=dt.UTC).timestamp()
    friday_noon = dt.datetime(2026, 11, 20, 17, 0, tzinfo=dt.UTC).timestamp()
    assert mute_reason(make_rule(only_business_hours=True), shop, saturday_noon) == STORE_CLOSED
    assert mute_reason(make_rule(only_business_hours=True), shop, friday_noon) is None
    assert mute_reason(make_rule(only_business_hours=False), shop, saturday_noon) is None


def test_retry_policy_backs_off_and_never_retries_rejections():
    policy = RetryPolicy(max_attempts=4, initial_s=0.5, max_delay_s=1.5)
    assert [policy.delay_before(n) for n in (2, 3, 4, 5)] == [0.5, 1.0, 1.5, 1.5]
    assert policy.should_retry(1, True) and not policy.should_retry(4, True)
    assert not policy.should_retry(1, False)
    assert http_retryable(None) and http_retryable(500) and http_retryable(503) and http_retryable(429)
    assert not http_retryable(400) and not http_retryable(401) and not http_retryable(404)
    assert smtp_retryable(421) and smtp_retryable(None) and not smtp_retryable(550)


def test_rate_window_is_one_hour_per_recipient():
    sent = [T0 - 3700, T0 - 3000, T0 - 10]
    assert rate_allows(sent, T0, 3)
    assert not rate_allows(sent + [T0 - 5], T0, 3)


def test_masks_keep_contacts_out_of_the_audit_trail():
    assert mask("+15550100123") == "+155***0123"
    assert mask("manager@shop.example") == "m***@shop.example"
    assert mask("https://hooks.example/x?token=abc") == "https://hooks.example/x"


def test_ack_links_and_webhook_signatures():
    url = ack_url("http://alerts:8084/", "k", "abc123")
    sig = url.split("sig=")[1]
    assert url.startswith("http://alerts:8084/ack/abc123?sig=") and len(sig) == 16
    assert ack_valid("k", "abc123", sig) and not ack_valid("k", "abc124", sig) and not ack_valid("j", "abc123", sig)
    assert ack_signature("k", "a") != ack_signature("k", "b")
    assert webhook_signature("k", "1", b"{}") != webhook_signature("k", "2", b"{}")


def test_messages_carry_the_facts_and_no_personal_data():
    n = Notice(Notify.firing, "inc1", "s1", "Shop", "Europe/Lisbon", "r1", "queue_length", "till", 7.0, 5.0,
               ">=", "warning", T0, T0 + 60, "http://dash", "http://ack/inc1?sig=x")
    text = n.sms()
    for part in ("Shop / till", "queue_length 7", ">= 5", "since 2026-11-20 15:00 WET", "http://dash", "ack:"):
        assert part in text
    assert "ack:" not in Notice(**{**n.__dict__, "kind": Notify.resolved}).sms()
    assert n.payload()["value"] == 7.0 and "<b>7</b>" in n.email_html()


def test_provider_errors_are_scrubbed_of_contacts():
    from services.alerts.message import scrub

    text = scrub("The 'To' number +15550100123 is not valid; <ana.silva@shop.example> refused")
    assert "5550100123" not in text and "ana.silva" not in text
    assert "+155***0123" in text and "a***@shop.example" in text
    assert scrub("twilio 500: 20500 Internal Server Error") == "twilio 500: 20500 Internal Server Error"


def test_a_firing_incident_is_not_repeated_while_its_value_is_unknown():
    rule = make_rule(for_s=0, repeat_s=20)
    _, steps = run(rule, [6] + [None] * 10)
    assert notifications(steps) == [Notify.firing]
    _, steps = run(rule, [6] + [None] * 10 + [6])
    assert notifications(steps) == [Notify.firing, Notify.repeat]
