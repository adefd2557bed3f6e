"""Tracks across a detect restart: when a camera's tracker epoch changes, skip the replayed frames
and continue the visits of the people still in view.

A detect process numbers its tracks anew (``Detections.tracker_epoch``, a random id per camera
tracker instance; ``convert.track_key`` hashes (epoch, track) into the aggregator's track key). When
detect is killed and restarted, two things happen at the switch from the old epoch to the new one:

1. **Replay.** The new process starts from detect's last committed frame, so it publishes again the
   frames the old one published but had not committed. A frame of the new epoch whose capture time
   is not newer than the newest frame processed under the old epoch is such a duplicate: skipped
   whole and counted (``replayed``). Only at a switch: within an epoch nothing is skipped.
2. **Continuation.** The people still in view get new track keys. A new-epoch track whose first
   foot point lies within ``distance + speed * gap`` of the last foot point of an old track that
   was still open at the switch (``gap`` = time since that old track was last seen, at most
   ``gone_s``: after that the old track has ended anyway) is the same person: its key is mapped onto
   the old track's key, so visits, dwell and line sides continue. One-to-one, nearest pairs first;
   a new track that matches nobody is a new person, an old track that no new one continues ends as
   usual (``track_gone_s``): the person left during the outage.

The state is plain data (``EpochState``, checkpointed with the camera); ``EpochStitcher`` holds the
rules. Keys of tracks open in the aggregator (``open_tracks``) say which old tracks are still present.

>>> rules, state = EpochStitcher(distance=0.05, speed=0.5, gone_s=2.0), EpochState()
>>> rules.frame(state, "a", 10.0, [11, 12], [(0.2, 0.5), (0.8, 0.5)], open_tracks=set())
[11, 12]
>>> rules.frame(state, "a", 10.2, [11, 12], [(0.2, 0.5), (0.8, 0.5)], open_tracks={11, 12})
[11, 12]
>>> rules.frame(state, "b", 10.2, [21], [(0.2, 0.5)], open_tracks={11, 12}) is None   # replayed
True
>>> rules.frame(state, "b", 10.4, [22, 21], [(0.79, 0.5), (0.21, 0.5)], open_tracks={11, 12})
[12, 11]
>>> rules.frame(state, "b", 10.6, [21, 22, 23], [(0.2, 0.5), (0.8, 0.5), (0.5, 0.5)], open_tracks={11, 12})
[11, 12, 23]
>>> state.replayed, state.continued
(1, 2)
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field


@dataclass
class EpochState:
    """One camera's tracker epoch and what a switch needs; plain data (checkpointed)."""

    epoch: str = ""
    last_capture: float = -math.inf  # the newest frame processed for this camera
    replay_until: float = -math.inf  # the old epoch's newest frame at the last switch
    # track key -> last foot point (x, y) and its time, of each track (pruned to the open tracks)
    last_foot: dict[int, tuple[float, float]] = field(default_factory=dict)
    last_t: dict[int, float] = field(default_factory=dict)
    # old tracks open at the last switch that no new track has continued yet: key -> (t, x, y)
    orphans: dict[int, tuple[float, float, float]] = field(default_factory=dict)
    mapping: dict[int, int] = field(default_factory=dict)  # new-epoch key -> the old key it continues
    switches: int = 0
    replayed: int = 0  # frames skipped as a restarted detect's replay
    continued: int = 0  # new-epoch tracks continued onto an old track


class EpochStitcher:
    """The rules (no state): match radius ``distance + speed * gap`` (normalised units, units/s),
    old tracks stay candidates for ``gone_s`` after they were last seen."""

    def __init__(self, distance: float, speed: float, gone_s: float):
        self.distance = distance
        self.speed = speed
        self.gone_s = gone_s

    def frame(self, state: EpochState, epoch: str, t: float, track_ids: Sequence[int],
              feet: Sequence[tuple[float, float]], open_tracks: Collection[int]) -> list[int] | None:
        """The frame's track keys as the aggregator should use them, or None: a replayed frame, skip it.

        ``open_tracks``: the keys of the camera's tracks the aggregator holds open (before this frame).
        """
        if epoch != state.epoch:
            if state.last_capture > -math.inf:
                self._switch(state, open_tracks)
            state.epoch = epoch
        if t <= state.replay_until:
            state.replayed += 1
            return None
        ids = track_ids if isinstance(track_ids, list) else [int(k) for k in track_ids]
        if state.mapping or state.orphans:
            mapping = state.mapping
            ids = [mapping.get(k, k) for k in ids]
            if state.orphans:
                self._continue(state, t, ids, feet, open_tracks)
        if len(state.last_t) > 64 + 2 * len(open_tracks):  # ended tracks: now and then, not per frame
            self._prune(state, open_tracks)
        # Two C-level updates, no per-person Python: this runs for every frame (key 0, untracked,
        # is stored too and never used: no open track has it).
        state.last_foot.update(zip(ids, feet, strict=True))
        state.last_t.update(dict.fromkeys(ids, t))
        if t > state.last_capture:
            state.last_capture = t
        return ids

    def _switch(self, state: EpochState, open_tracks: Collection[int]) -> None:
        state.switches += 1
        state.replay_until = state.last_capture
        state.orphans = {key: (state.last_t[key], float(x), float(y))
                         for key, (x, y) in state.last_foot.items() if key in open_tracks}
        state.mapping = {}

    def _continue(self, state: EpochState, t: float, ids: list[int], feet: Sequence[tuple[float, float]],
                  open_tracks: Collection[int]) -> None:
        """Map the new tracks first seen in this frame onto the old tracks they continue."""
        orphans = state.orphans
        for key in [o for o, (to, _, _) in orphans.items() if t - to > self.gone_s or o not in open_tracks]:
            del orphans[key]  # ended (or about to): that person left during the outage
        pairs = []
        for k, key in enumerate(ids):
            if key == 0 or key in open_tracks or key in orphans:
                continue  # untracked, or a track already known
            x, y = feet[k]
            for old, (to, xo, yo) in orphans.items():
                d = math.hypot(x - xo, y - yo)
                if d <= self.distance + self.speed * max(t - to, 0.0):
                    pairs.append((d, k, key, old))
        taken_new: set[int] = set()
        for _, k, key, old in sorted(pairs):
            if key in taken_new or old not in orphans:
                continue
            taken_new.add(key)
            del orphans[old]
            state.mapping[key] = old
            state.continued += 1
            ids[k] = old

    def _prune(self, state: EpochState, open_tracks: Collection[int]) -> None:
        state.last_foot = {key: foot for key, foot in state.last_foot.items() if key in open_tracks}
        state.last_t = {key: t for key, t in state.last_t.items() if key in open_tracks}
        if not state.orphans:
            state.mapping = {new: old for new, old in state.mapping.items() if old in open_tracks}
