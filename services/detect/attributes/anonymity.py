"""k-anonymous aggregation of smoothed track attributes, per zone per window.

Each track is counted exactly once: when it ends (unseen for ``close_after_s``), in the
window where it was last seen, in the zone where it was seen most. So groups never overlap
and one group cannot be subtracted from another to single out a person. A group is
reported only when at least ``k`` distinct tracks contributed; otherwise it is dropped
whole (only counted as suppressed). Event time throughout: ``now`` is a capture time.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from storesight.attributes import AttributeGroup

from .smoothing import Observation, TrackAttributes, TrackVotes


def k_anonymous_group(zone_id: str, window_start: float, window_end: float,
                      tracks: list[TrackAttributes], k: int) -> AttributeGroup | None:
    """Histograms over ``tracks``, or None when fewer than ``k`` tracks contributed."""
    if len(tracks) < k:
        return None
    return AttributeGroup(
        zone_id=zone_id, window_start=window_start, window_end=window_end, distinct_tracks=len(tracks),
        expressions=dict(Counter(t.expression for t in tracks)),
        age_bands=dict(Counter(t.age_band for t in tracks)),
        genders=dict(Counter(t.gender for t in tracks)),
    )


@dataclass
class _Track:
    last_seen: float
    votes: TrackVotes = field(default_factory=TrackVotes)
    zones: Counter = field(default_factory=Counter)


class TrackLedger:
    """Per-camera memory of live tracks and of finished tracks waiting for their window to close."""

    def __init__(self, k: int, window_s: float, close_after_s: float, min_observations: int):
        self.k = k
        self.window_s = window_s
        self.close_after_s = close_after_s
        self.min_observations = min_observations
        self._tracks: dict[int, _Track] = {}
        self._pending: dict[tuple[float, str], list[TrackAttributes]] = defaultdict(list)
        self.suppressed_groups = 0

    def seen(self, track_id: int, when: float, zone_ids: Iterable[str]) -> None:
        """Record that a track was in the frame at ``when`` (and inside these zones)."""
        track = self._tracks.get(track_id)
        if track is None:
            track = self._tracks[track_id] = _Track(last_seen=when)
        track.last_seen = max(track.last_seen, when)
        track.zones.update(zone_ids)

    def observe(self, track_id: int, when: float, observation: Observation) -> None:
        """Add one classified face to the track's vote."""
        self.seen(track_id, when, ())
        self._tracks[track_id].votes.add(observation)

    def advance(self, now: float) -> tuple[list[AttributeGroup], set[int]]:
        """Finish tracks unseen since ``now - close_after_s``; report windows that can no longer change.

        Returns the groups to publish (each over >= k tracks) and the finished track ids.
        ``advance(math.inf)`` finishes everything (shutdown).
        """
        finished = {tid for tid, t in self._tracks.items() if now - t.last_seen > self.close_after_s}
        for track_id in finished:
            track = self._tracks.pop(track_id)
            result = track.votes.result(self.min_observations)
            if result is None:
                continue
            start = math.floor(track.last_seen / self.window_s) * self.window_s
            zone = track.zones.most_common(1)[0][0] if track.zones else ""
            self._pending[(start, zone)].append(result)
        groups = []
        # A window is final once every track last seen in it must have finished.
        for key in sorted(k for k in self._pending if k[0] + self.window_s + self.close_after_s < now):
            start, zone = key
            group = k_anonymous_group(zone, start, start + self.window_s, self._pending.pop(key), self.k)
            if group is None:
                self.suppressed_groups += 1
            else:
                groups.append(group)
        return groups, finished
