"""Reconnect schedule: exponential backoff with full jitter, capped, reset after success.

Jitter spreads the reconnects of many cameras that failed together (a switch reboot), so
they do not hammer the network at the same instant.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """``next_delay()`` after each failure; ``reset()`` once a frame arrives again.

    The n-th delay is uniform in [ceiling/2, ceiling] with ceiling = min(max_s, initial_s * 2**n):
    half-jitter keeps a floor so a dead camera is never retried in a tight loop.

    >>> b = Backoff(0.5, 4.0, rng=random.Random(1))
    >>> [round(b.next_delay(), 2) for _ in range(5)]
    [0.28, 0.92, 1.76, 2.51, 2.99]
    """

    initial_s: float
    max_s: float
    rng: random.Random = field(default_factory=random.Random)
    failures: int = 0

    def ceiling(self) -> float:
        return min(self.max_s, self.initial_s * 2 ** min(self.failures, 30))

    def next_delay(self) -> float:
        ceiling = self.ceiling()
        self.failures += 1
        return self.rng.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self.failures = 0
