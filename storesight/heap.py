"""Garbage-collector settings for a long-running stream worker.

Why: a worker's heap is mostly long-lived (imported modules, config, per-track and per-window
state), while each batch makes short-lived objects that reference counting frees on its own.
With CPython's defaults a young collection runs every 700 allocations and every tenth of those
walks older generations again, so on the aggregate worker about a fifth of the CPU went to the
collector finding nothing (``python -m bench.aggregate``; bench/RESULTS-aggregate.md).

``settle_after_startup()`` moves everything alive after start-up into the permanent generation
(``gc.freeze``: never scanned again, never freed) and lets the young generation grow before it is
collected. Reference cycles are still collected, only less often.

>>> import gc
>>> before = gc.get_threshold()
>>> settle_after_startup()
>>> gc.get_threshold()[0]
10000
>>> gc.unfreeze(); gc.set_threshold(*before)
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000  # allocations minus frees before a young collection (CPython: 700)
OLDER_THRESHOLD = 10  # young collections per middle one, and middle per full one (CPython: 10, 10)


def settle_after_startup() -> None:
    """Call once, when the worker has opened its clients and loaded its state."""
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, OLDER_THRESHOLD, OLDER_THRESHOLD)
