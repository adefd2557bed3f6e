"""Line crossing per track, with direction.

A track has a confirmed side of each line (+1 inside, -1 outside). Sides come from
``LineSet.sides``, which already leaves out foot points inside the debounce band: so a person
standing on the line and jittering across it counts once (or not at all), and a crossing needs
the other side really reached. The first confirmed side of a track is not a crossing: nobody was
seen crossing.

>>> counter = LineCrossings()
>>> [counter.observe(0, 7, side) for side in (-1, -1, 1, 1, -1)]
[None, None, 'entry', None, 'exit']
"""

from __future__ import annotations

ENTRY = "entry"
EXIT = "exit"


class LineCrossings:
    """Confirmed side per (line, track); ``observe`` returns 'entry', 'exit' or None."""

    def __init__(self):
        self.sides: dict[tuple[int, int], int] = {}

    def observe(self, line: int, track: int, side: int) -> str | None:
        """``side``: +1 / -1, a foot point beyond the debounce band (``LineSet.sides``)."""
        key = (line, track)
        before = self.sides.get(key)
        self.sides[key] = side
        if before is None or before == side:
            return None
        return ENTRY if side > 0 else EXIT

    def forget(self, track: int) -> None:
        for key in [k for k in self.sides if k[1] == track]:
            del self.sides[key]
