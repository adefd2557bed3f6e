"""Redis: the incident states, the send ledger (one record per incident transition), acks, rate windows.

The ledger is what makes "one incident transition, one message" hold across replicas and
crashes. Per transition (``tx_id``) and per delivery (channel + recipient):
  1. claim the transition (SET NX with a lease; a restarted replica with the same replica id
     takes its dead predecessor's claim over at once, others wait for the lease to lapse);
  2. write the delivery's intent;
  3. send;
  4. write the delivery's result (provider id, status).
A crash between 3 and 4 leaves an intent without a result: the next owner sends that delivery
again, so a message is never lost and is duplicated at most once (per delivery, per crash).
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass

import redis

from services.alerts.incident import IncidentKey, IncidentState
from storesight.redis_client import connect_redis

RECORD_TTL_S = 30 * 24 * 3600

_SAVE_IF_NEWER = """
local current = redis.call('GET', KEYS[1])
if current then
  local last = cjson.decode(current)['last_at']
  if type(last) == 'number' and last > tonumber(ARGV[2]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
return 1
"""


# Per-recipient rate limit, atomic across replicas: drop sends older than an hour, then either
# record this send (a member already there is a replay of one counted before: allowed) or refuse.
# Sends later in event time count too (replicas and replays are not in event-time order).
_RATE_TAKE = """
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 3600)
if redis.call('ZSCORE', KEYS[1], ARGV[3]) then return 1 end
if redis.call('ZCOUNT', KEYS[1], '(' .. (now - 3600), '+inf') >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('EXPIRE', KEYS[1], 7200)
return 1
"""


@dataclass(frozen=True)
class Claim:
    owned: bool  # we may send
    done: bool  # someone already finished: reuse ``results``
    results: dict[str, dict]  # delivery key -> recorded result
    intents: set[str]  # delivery keys with an intent but (maybe) no result


class Ledger:
    def __init__(self, client: redis.Redis, prefix: str = "storesight:alerts:", replica_id: str = "replica"):
        self.r = client
        self.prefix = prefix
        self.replica_id = replica_id
        self.owner = f"{replica_id}/{uuid.uuid4().hex[:8]}"

    @classmethod
    def from_url(cls, url: str, **kw) -> Ledger:
        """A checked client (REDIS_PASSWORD, rediss:// with a CA): a wrong credential is a StartupError."""
        return cls(connect_redis(url, decode_responses=True, socket_timeout=5), **kw)

    def _k(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    # -- incident states --------------------------------------------------------------
    def load_state(self, key: IncidentKey) -> IncidentState:
        raw = self.r.get(self._k("state", key.store_id, key.rule_id, key.scope))
        return IncidentState.from_dict(json.loads(raw)) if raw else IncidentState()

    def save_state(self, key: IncidentKey, st: IncidentState) -> bool:
        """Store the state unless Redis already holds a newer one (a replica that lost the partition
        must not roll its new owner back); True when written."""
        written = self.r.eval(_SAVE_IF_NEWER, 1, self._k("state", key.store_id, key.rule_id, key.scope),
                              json.dumps(st.to_dict()), st.last_at if st.last_at is not None else -1,
                              RECORD_TTL_S)
        return bool(written)

    def remember_incident(self, incident_id: str, key: IncidentKey) -> None:
        """So the ack endpoint can tell a real incident from a made-up id."""
        self.r.set(self._k("incident", incident_id),
                   json.dumps({"store": key.store_id, "rule": key.rule_id, "scope": key.scope}),
                   ex=RECORD_TTL_S, nx=True)

    def incident_exists(self, incident_id: str) -> bool:
        return bool(self.r.exists(self._k("incident", incident_id)))

    # -- acknowledgements -------------------------------------------------------------
    def acknowledge(self, incident_id: str) -> bool:
        """Record the ack; False when it was already acknowledged."""
        return bool(self.r.set(self._k("ack", incident_id), str(time.time()), ex=RECORD_TTL_S, nx=True))

    def is_acked(self, incident_id: str | None) -> bool:
        return bool(incident_id) and bool(self.r.exists(self._k("ack", incident_id)))

    # -- the send ledger ---------------------------------------------------------------
    def claim(self, tx_id: str, ttl_s: float, wait_s: float | None = None) -> Claim:
        """Claim a transition for sending, or learn that it was sent already.

        Waits (up to the lease plus a margin) while another live replica holds the claim.
        """
        lock, record = self._k("lock", tx_id), self._k("tx", tx_id)
        deadline = time.monotonic() + (ttl_s + 5.0 if wait_s is None else wait_s)
        while True:
            fields = self.r.hgetall(record)
            if fields.get("done"):
                return Claim(False, True, _results(fields), set())
            if self.r.set(lock, self.owner, nx=True, px=int(ttl_s * 1000)):
                return Claim(True, False, _results(fields), _intents(fields))
            holder = self.r.get(lock) or ""
            if holder.split("/")[0] == self.replica_id and holder != self.owner:
                # Our own previous incarnation died holding it: take over now.
                self.r.set(lock, self.owner, px=int(ttl_s * 1000))
                return Claim(True, False, _results(fields), _intents(fields))
            if time.monotonic() > deadline:
                return Claim(False, False, _results(fields), _intents(fields))
            time.sleep(0.05)

    def extend(self, tx_id: str, ttl_s: float) -> None:
        self.r.pexpire(self._k("lock", tx_id), int(ttl_s * 1000))

    def record_intent(self, tx_id: str, delivery_key: str) -> None:
        record = self._k("tx", tx_id)
        self.r.hset(record, f"i:{delivery_key}", str(time.time()))
        self.r.expire(record, RECORD_TTL_S)

    def record_result(self, tx_id: str, delivery_key: str, result: dict) -> None:
        self.r.hset(self._k("tx", tx_id), f"d:{delivery_key}", json.dumps(result))

    def finish(self, tx_id: str) -> None:
        self.r.hset(self._k("tx", tx_id), mapping={"done": str(time.time()), "by": self.owner})
        self.r.expire(self._k("tx", tx_id), RECORD_TTL_S)
        self.r.delete(self._k("lock", tx_id))

    def transition(self, tx_id: str) -> dict[str, str]:
        return self.r.hgetall(self._k("tx", tx_id))

    # -- per-recipient rate limit (event time) ------------------------------------------
    def rate_take(self, recipient_key: str, now: float, per_hour: int, tx_delivery: str) -> bool:
        """Count one send to this recipient at ``now`` unless ``per_hour`` were sent in the hour
        before it; False = refused. One Lua script, so replicas racing on one recipient never
        exceed the limit together (policy.rate_allows is the same rule on a list)."""
        return bool(self.r.eval(_RATE_TAKE, 1, self._k("rate", recipient_key), repr(float(now)), per_hour,
                                tx_delivery))


def _results(fields: dict[str, str]) -> dict[str, dict]:
    return {k[2:]: json.loads(v) for k, v in fields.items() if k.startswith("d:")}


def _intents(fields: dict[str, str]) -> set[str]:
    return {k[2:] for k, v in fields.items() if k.startswith("i:")}
