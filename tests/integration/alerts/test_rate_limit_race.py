"""The per-recipient rate limit holds across replicas: processes racing on one recipient in real
Redis never send more than the limit together (Ledger.rate_take is one Lua script)."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid

from services.alerts.ledger import Ledger
from tests.support.servers import REPO

LIMIT = 5
TRIES = 200  # per replica, all for the same recipient within one hour of event time

RACER = """
import sys, time
from services.alerts.ledger import Ledger
url, prefix, replica, start, limit, tries = sys.argv[1:7]
ledger = Ledger.from_url(url, prefix=prefix, replica_id=replica)
while time.time() < float(start):
    pass
granted = sum(ledger.rate_take("sms:recipient", 1_800_000_000.0 + i * 0.001, int(limit), f"{replica}-{i}/sms")
              for i in range(int(tries)))
print(granted)
"""


def test_two_replicas_racing_on_one_recipient_never_exceed_the_limit(redis_url):
    prefix = f"storesight:test-rate-{uuid.uuid4().hex[:8]}:"
    start = time.time() + 2.0  # both processes are up by then and start at once
    procs = [subprocess.Popen([sys.executable, "-c", RACER, redis_url, prefix, replica, str(start), str(LIMIT),
                               str(TRIES)], cwd=REPO, stdout=subprocess.PIPE, text=True)
             for replica in ("alerts-a", "alerts-b")]
    granted = [int(p.communicate(timeout=60)[0].strip()) for p in procs]
    ledger = Ledger.from_url(redis_url, prefix=prefix)
    try:
        assert sum(granted) == LIMIT, granted  # never more; and the limit is reached
        assert ledger.r.zcard(prefix + "rate:sms:recipient") == LIMIT
        # A replay of a delivery already counted is not refused (its intent may be re-sent).
        first = ledger.r.zrange(prefix + "rate:sms:recipient", 0, 0, withscores=True)[0]
        assert ledger.rate_take("sms:recipient", first[1], LIMIT, first[0])
        assert not ledger.rate_take("sms:recipient", first[1], LIMIT, "someone-else/sms")
    finally:
        for key in ledger.r.scan_iter(prefix + "*"):
            ledger.r.delete(key)
