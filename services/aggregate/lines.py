"""Line crossing per track, with direction and a debounce band.

A track has a confirmed side of each line (+1 inside, -1 outside). The side changes only when
the foot point is more than ``debounce`` beyond the line, so a person standing on the line and
jittering across it counts once (or not at all), and a crossing needs the other side really
reached. The first confirmed side of a track is not a crossing: nobody was seen crossing.

>>> counter = LineCrossings(debounce=0.02)
>>> [counter.observe(0, 7, d) for d in (-0.1, -0.01, 0.01, -0.01, 0.05, 0.0, 0.1)]
[None, None, None, None, 'entry', None, None]
"""

from __future__ import annotations

ENTRY = "entry"
EXIT = "exit"


class LineCrossings:
    """Confirmed side per (line, track); ``observe`` returns 'entry', 'exit' or None."""

    def __init__(self, debounce: float):
        self.debounce = debounce
        self.sides: dict[tuple[int, int], int] = {}

    def observe(self, line: int, track: int, distance: float) -> str | None:
        """``distance``: signed distance of the track's foot to the line, > 0 on the inside."""
        if distance > self.debounce:
            return self.observe_side(line, track, 1)
        if distance < -self.debounce:
            return self.observe_side(line, track, -1)
        return None

    def observe_side(self, line: int, track: int, side: int) -> str | None:
        """``side``: +1 / -1, the foot already known to be beyond the band (``LineSet.sides``)."""
        key = (line, track)
        before = self.sides.get(key)
        self.sides[key] = side
        if before is None or before == side:
            return None
        return ENTRY if side > 0 else EXIT

    def forget(self, track: int) -> None:
        for key in [k for k in self.sides if k[1] == track]:
            del self.sides[key]
