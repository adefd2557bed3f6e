"""When a rule's messages are muted: quiet hours and business hours, in the store's own time zone."""

from __future__ import annotations

import datetime as dt

from storesight.config import Rule, Store

QUIET_HOURS = "quiet hours"
STORE_CLOSED = "outside business hours"


def mute_reason(rule: Rule, store: Store, at: float) -> str | None:
    """Why messages for this rule are muted at event time ``at`` (epoch s), or None.

    The wall clock and time zone of the machine play no part: ``at`` is converted to the
    store's IANA zone, so a DST change day is handled by zoneinfo.
    """
    when = dt.datetime.fromtimestamp(at, dt.UTC)
    local = when.astimezone(store.tz)
    if any(r.contains(local) for r in rule.quiet_hours):
        return QUIET_HOURS
    if rule.only_business_hours and not store.is_open(when):
        return STORE_CLOSED
    return None
