"""Visits and dwell: how long each track stays in each zone, and how long it is in view.

A track is in a zone from its first frame inside to its last frame inside; it has left once
seen outside for more than ``zone_exit_grace_s`` (or gone for ``track_gone_s``). Dwell = last
inside - first inside. A visit counts once it has lasted ``min_zone_dwell_s`` (shorter ones are
pass-bys: in the occupancy only): zone entries count visits reaching that dwell, in the window
where they reach it; exits count counted visits ending. A track counts once as a visitor of the
camera view when it has been seen for ``min_visit_dwell_s``; its view visit is its lifetime.

``ZoneVisits`` holds the rules of one camera (no state); the state is plain data:
``TrackPresence`` per track, ``VisitTally`` per window. Ended visits are handed back as
``(slot, Visit)`` for the aggregator to book into the window of their end (slot = the zone,
or the number of zones for the camera view).

>>> from storesight.config import AggregateSettings
>>> rules = ZoneVisits("cam", ["shelf"], [None], AggregateSettings(min_zone_dwell_s=1.0, zone_exit_grace_s=0.5))
>>> tracks, tally = {}, VisitTally.empty(zones=1)
>>> for t in (0.0, 1.0, 2.0):                     # track 7 stands in the shelf zone (bit 0) ...
...     _ = rules.observe(tracks, t, [7], [0b1], tally)
>>> _, ended = rules.observe(tracks, 3.0, [7], [0], tally)   # ... and is outside for 1 s
>>> tally.entries, [(slot, v.zone_id, v.dwell_s) for slot, v in ended]
([1, 0], [(0, 'shelf', 2.0)])
>>> [(slot, v.zone_id, v.dwell_s) for slot, v in rules.end_track(tracks, 7)]
[(1, 'camera:cam', 3.0)]
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from services.aggregate.queues import Queue, percentile
from storesight.config import AggregateSettings


@dataclass
class Visit:
    """A completed stay of one track in one zone (``zone_id`` = ``camera:<id>`` for the view)."""

    camera_id: str
    zone_id: str
    track_id: int
    start_s: float
    end_s: float
    served: bool | None = None

    @property
    def dwell_s(self) -> float:
        return self.end_s - self.start_s


@dataclass
class TrackPresence:
    """Where one track of one camera has been: first/last seen, and per zone its open visit."""

    first_seen: float
    last_seen: float
    visit_start: list[float | None] = field(default_factory=list)  # per zone, None = not in it
    last_in: list[float | None] = field(default_factory=list)  # per zone, last time inside
    counted_visitor: bool = False

    @classmethod
    def start(cls, t: float, zones: int) -> TrackPresence:
        return cls(t, t, [None] * zones, [None] * zones)


@dataclass
class VisitTally:
    """One window's visits per slot (zones, then the camera view)."""

    tracks: list[set[int]] = field(default_factory=list)  # per zone: tracks whose stay counted here
    entries: list[int] = field(default_factory=list)
    exits: list[int] = field(default_factory=list)
    dwells: list[list[float]] = field(default_factory=list)
    served: list[int] = field(default_factory=list)
    waits: list[list[float]] = field(default_factory=list)  # dwell of served queue visits
    visitors: int = 0  # tracks of the view that reached min_visit_dwell_s here

    @classmethod
    def empty(cls, zones: int) -> VisitTally:
        n = zones + 1  # the last slot is the whole camera view
        return cls([set() for _ in range(n)], [0] * n, [0] * n, [[] for _ in range(n)], [0] * n,
                   [[] for _ in range(n)])

    def book(self, slot: int, visit: Visit) -> None:
        """A visit ended in this window: its dwell (and for a zone, an exit; if served, its wait)."""
        dwell = visit.dwell_s
        self.dwells[slot].append(dwell)
        if slot == len(self.exits) - 1:
            return  # the view: its exits are line crossings
        self.exits[slot] += 1
        if visit.served:
            self.served[slot] += 1
            self.waits[slot].append(dwell)

    def dwell_values(self, slot: int) -> dict:
        dwells = self.dwells[slot]
        return dict(dwell_p50_s=percentile(dwells, 50), dwell_p90_s=percentile(dwells, 90),
                    dwell_max_s=max(dwells) if dwells else None)


class ZoneVisits:
    """The visit rules of one camera: its zones (with their queue rule, None for other kinds)."""

    def __init__(self, camera_id: str, zone_ids: list[str], queues: list[Queue | None],
                 settings: AggregateSettings):
        self.camera_id = camera_id
        self.zone_ids = zone_ids
        self.view_id = f"camera:{camera_id}"
        self.queues = queues
        self.settings = settings
        # Close queue visits last so a till visit closing at the same time is already recorded.
        self.end_order = sorted(range(len(zone_ids)), key=lambda z: queues[z] is not None)

    def observe(self, tracks: dict[int, TrackPresence], t: float, track_ids: list[int], masks: list[int],
                tally: VisitTally) -> tuple[list[tuple[int, int]], list[tuple[int, Visit]]]:
        """One frame: ``masks[k]`` has bit z set when person k stands in zone z.

        Returns the (person index, track id) of persons that moved their track forward (untracked
        persons and points older than their track's last are left out: a track's path only moves
        forward in time) and the visits that ended, in order.
        """
        settings = self.settings
        gone_s, min_visit, min_stay = settings.track_gone_s, settings.min_visit_dwell_s, settings.min_zone_dwell_s
        grace = settings.zone_exit_grace_s
        nz = len(self.zone_ids)
        accepted: list[tuple[int, int]] = []
        ended: list[tuple[int, Visit]] = []
        for k, track_id in enumerate(track_ids):
            if track_id == 0:
                continue
            track = tracks.get(track_id)
            if track is not None and t - track.last_seen > gone_s:
                ended.extend(self.end_track(tracks, track_id))
                track = None
            if track is None:
                track = tracks[track_id] = TrackPresence.start(t, nz)
            elif t < track.last_seen:
                continue  # out of order for this track: counted in occupancy, not in its path
            track.last_seen = t
            accepted.append((k, track_id))
            if not track.counted_visitor and t - track.first_seen >= min_visit:
                track.counted_visitor = True
                tally.visitors += 1
            mask = masks[k]
            visit_start, last_in = track.visit_start, track.last_in
            if mask:
                for z in range(nz):
                    if mask >> z & 1:
                        start = visit_start[z]
                        if start is None:
                            visit_start[z] = start = t
                            stayed_before = -math.inf
                        else:
                            stayed_before = last_in[z] - start
                        if t - start >= min_stay:
                            tally.tracks[z].add(track_id)
                            if stayed_before < min_stay:
                                tally.entries[z] += 1  # the stay just became long enough to count
                        last_in[z] = t
            # Zones the track is no longer in (after every zone it is in was updated above, so a
            # queue visit ending now sees this frame at the till).
            for z, start in enumerate(visit_start):
                if start is not None and not mask >> z & 1 and t - last_in[z] > grace:
                    visit = self._end_visit(track_id, track, z)
                    if visit is not None:
                        ended.append((z, visit))
        return accepted, ended

    def end_track(self, tracks: dict[int, TrackPresence], track_id: int) -> list[tuple[int, Visit]]:
        """The track is gone: end its open zone visits and its view visit; forget it."""
        track = tracks.pop(track_id)
        ended = []
        for z in self.end_order:
            if track.visit_start[z] is not None:
                visit = self._end_visit(track_id, track, z)
                if visit is not None:
                    ended.append((z, visit))
        ended.append((len(self.zone_ids), Visit(self.camera_id, self.view_id, track_id,
                                                track.first_seen, track.last_seen)))
        return ended

    def end_gone(self, tracks: dict[int, TrackPresence], now: float) -> list[tuple[int, Visit]]:
        """End every track unseen for more than ``track_gone_s`` at event time ``now``."""
        gone_s = self.settings.track_gone_s
        ended: list[tuple[int, Visit]] = []
        for track_id in [i for i, track in tracks.items() if now - track.last_seen > gone_s]:
            ended.extend(self.end_track(tracks, track_id))
        return ended

    def _end_visit(self, track_id: int, track: TrackPresence, z: int) -> Visit | None:
        start, end = track.visit_start[z], track.last_in[z]
        track.visit_start[z] = None
        if end - start < self.settings.min_zone_dwell_s:
            return None  # a pass-by: it never counted as an entry, so no exit, dwell or wait either
        queue = self.queues[z]
        served = None
        if queue is not None:
            served = queue.served(end, None if queue.till is None else track.last_in[queue.till])
        return Visit(self.camera_id, self.zone_ids[z], track_id, start, end, served)
