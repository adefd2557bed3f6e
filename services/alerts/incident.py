"""The incident state machine: inactive -> pending -> firing -> resolved (-> inactive after cooldown).

Pure and driven by event time only (the ``at`` of each observation), so a replay gives the same
incidents, ids and decisions. Each call returns the steps to publish on the audit trail; a step
with ``notify`` set asks the shell to send a message (once, keyed by ``tx_id``).

Rules of the machine:
- unknown values (``None``) never start or confirm an incident; they cancel a pending one and
  leave a firing one firing (unknown is not "back to normal" either) without repeating it;
- a firing incident resolves only once the value is past ``clear_threshold`` (hysteresis);
- after resolving, no new incident starts until ``cooldown_s`` has passed;
- while muted (quiet hours, store closed) transitions still happen but messages are suppressed;
  a firing incident that could not be announced is announced once the mute ends;
- repeat and escalation stop once the incident is acknowledged.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum

from services.alerts.observe import Observation
from storesight.config import Comparison, Rule


class State(StrEnum):
    inactive = "inactive"
    pending = "pending"
    firing = "firing"
    resolved = "resolved"


class Notify(StrEnum):
    firing = "firing"
    repeat = "repeat"
    escalate = "escalate"
    resolved = "resolved"


@dataclass(frozen=True)
class IncidentKey:
    store_id: str
    rule_id: str
    scope: str  # zone id or camera id

    def incident_id(self, since: float) -> str:
        """Deterministic id: every replica computes the same one for the same incident."""
        raw = f"{self.store_id}|{self.rule_id}|{self.scope}|{since:.3f}"
        return hashlib.sha256(raw.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class IncidentState:
    state: State = State.inactive
    incident_id: str | None = None
    since: float | None = None  # when the condition first held (event time)
    fired_at: float | None = None
    resolved_at: float | None = None
    last_at: float | None = None  # event time of the last observation applied (replays are skipped)
    announced: bool = False  # the firing message was sent (not suppressed)
    last_sent_at: float | None = None
    repeats: int = 0
    escalated: bool = False
    acked: bool = False

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> IncidentState:
        return cls(**{**data, "state": State(data["state"])})


@dataclass(frozen=True)
class Step:
    """One entry of the audit trail: a transition, or an action on a firing incident."""

    incident_id: str
    from_state: State
    to_state: State
    at: float
    since: float
    value: float | None
    action: str = ""  # "", "notify" (deferred announcement), "repeat", "escalate", "ack"
    notify: Notify | None = None
    suppressed: str | None = None  # why a message was not sent (quiet hours, store closed)
    tx_id: str = field(default="")


def holds(rule: Rule, value: float) -> bool:
    op, t = rule.op, rule.threshold
    return {Comparison.gt: value > t, Comparison.ge: value >= t,
            Comparison.lt: value < t, Comparison.le: value <= t}[op]


def cleared(rule: Rule, value: float) -> bool:
    """Back to normal: past the clear threshold when one is set, else the condition no longer holds."""
    if rule.clear_threshold is None:
        return not holds(rule, value)
    if rule.op in (Comparison.gt, Comparison.ge):
        return value <= rule.clear_threshold
    return value >= rule.clear_threshold


def _tx(incident_id: str, what: str) -> str:
    return f"{incident_id}:{what}"


def evaluate(rule: Rule, key: IncidentKey, st: IncidentState, obs: Observation,
             acked: bool = False, muted: str | None = None) -> tuple[IncidentState, list[Step]]:
    """Apply one observation; return the new state and the steps it caused (possibly none)."""
    if st.last_at is not None and obs.at <= st.last_at:
        return st, []  # already applied (a replay after a restart or rebalance)
    steps: list[Step] = []
    at, value = obs.at, obs.value
    st = replace(st, last_at=at)

    def step(to: State, **kw) -> Step:
        return Step(st.incident_id or "", st.state, to, at, st.since or at, value, **kw)

    if st.state is State.resolved and at - (st.resolved_at or at) >= rule.cooldown_s:
        steps.append(step(State.inactive))
        st = replace(IncidentState(), last_at=at)

    if st.state is State.inactive:
        if value is None or not holds(rule, value):
            return st, steps
        since = obs.window_start
        st = replace(IncidentState(), state=State.inactive, incident_id=key.incident_id(since),
                     since=since, last_at=at)
        steps.append(step(State.pending))
        st = replace(st, state=State.pending)

    if st.state is State.pending:
        if value is None or not holds(rule, value):
            steps.append(step(State.inactive))
            return replace(IncidentState(), last_at=at), steps
        if at - (st.since or at) < rule.for_s:
            return st, steps
        fire = step(State.firing, notify=None if muted else Notify.firing, suppressed=muted,
                    tx_id=_tx(st.incident_id or "", "firing"))
        steps.append(fire)
        st = replace(st, state=State.firing, fired_at=at, announced=not muted,
                     last_sent_at=None if muted else at)
        return st, steps

    if st.state is State.firing:
        if value is not None and cleared(rule, value):
            steps.append(step(State.resolved, notify=None if (muted or not st.announced) else Notify.resolved,
                              suppressed=muted if st.announced else None,
                              tx_id=_tx(st.incident_id or "", "resolved")))
            return replace(st, state=State.resolved, resolved_at=at), steps
        if acked and not st.acked:
            steps.append(step(State.firing, action="ack"))
            st = replace(st, acked=True)
        if muted or value is None:  # nothing to say while muted, nothing to assert while unknown
            return st, steps
        if not st.announced:
            steps.append(step(State.firing, action="notify", notify=Notify.firing,
                              tx_id=_tx(st.incident_id or "", "firing")))
            return replace(st, announced=True, last_sent_at=at), steps
        if st.acked:
            return st, steps
        if rule.escalate_after_s and rule.escalate_to and not st.escalated \
                and at - (st.fired_at or at) >= rule.escalate_after_s:
            steps.append(step(State.firing, action="escalate", notify=Notify.escalate,
                              tx_id=_tx(st.incident_id or "", "escalate")))
            st = replace(st, escalated=True)
        if rule.repeat_s and at - (st.last_sent_at or at) >= rule.repeat_s:
            n = st.repeats + 1
            steps.append(step(State.firing, action="repeat", notify=Notify.repeat,
                              tx_id=_tx(st.incident_id or "", f"repeat-{n}")))
            st = replace(st, repeats=n, last_sent_at=at)
    return st, steps
