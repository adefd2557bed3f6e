"""Which cameras a replica runs: replica i of n takes every n-th camera in id order.

Pure and deterministic, so every replica of a StatefulSet computes the same split without
talking to the others, and each camera runs in exactly one replica.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping


def assign(camera_ids: Iterable[str], replica_index: int, replicas: int) -> list[str]:
    """Camera ids for one replica: balanced (sizes differ by at most one), disjoint, complete.

    >>> assign(["c", "a", "b", "d"], 1, 2)
    ['b', 'd']
    """
    if replicas < 1:
        raise ValueError("replicas must be at least 1")
    if not 0 <= replica_index < replicas:
        raise ValueError(f"replica index {replica_index} is outside 0..{replicas - 1}")
    return [cid for i, cid in enumerate(sorted(camera_ids)) if i % replicas == replica_index]


def replica_index_from_env(env: Mapping[str, str]) -> int | None:
    """The StatefulSet pod ordinal: POD_NAME ``ingest-2`` -> 2; None if unset or without one."""
    match = re.fullmatch(r".*-(\d+)", env.get("POD_NAME", ""))
    return int(match[1]) if match else None
