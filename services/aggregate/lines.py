"""Line crossing per track, with direction, that an id switch cannot fake.

A track has a confirmed side of each line (+1 inside, -1 outside). Sides come from
``LineSet.sides``, which leaves out foot points inside the band of ``line_debounce_px`` around
the line: a point in the band says nothing. The rule:

1. The first confirmed side of a track is not a crossing: nobody was seen crossing.
2. A crossing is the confirmed side changing: the foot point was seen beyond the band on one
   side, then beyond the band on the other (so it travelled at least the band's width, and
   more than the band on each side). Standing on the line, jittering across it, or turning back
   inside the band never changes the confirmed side.
3. Continuity: ``move(track, t, point)`` is told every position of the track (band and outside
   the segment included). A step faster than ``max_speed`` (normalised image units per second,
   measured over at least ``min_step_s`` so that box jitter between two close frames is not a
   "speed") is a teleport: the tracker's id jumped from one person to another. The track is
   split there: its confirmed sides are forgotten, as for a new person, so the jump itself is
   never a crossing, and the person behind the new half must then be seen crossing on its own.
4. A track that ends (``finish``) is on the side of the line where it was last seen, band or
   not: the band waits for more evidence, and an ended track gives none. A person walking out
   of the picture across a line is last seen just past it when the detector runs few frames a
   second (at 2 frames/s one step is ~0.15 of the width: the last foot point before the frame
   edge can be anywhere in the band); at the camera rate they are seen beyond the band anyway.
   Jitter on the line still counts at most once: the track is over.

>>> counter = LineCrossings()
>>> [counter.observe(0, 7, side) for side in (-1, -1, 1, 1, -1)]
[None, None, 'entry', None, 'exit']
>>> counter.observe(0, 8, 1), counter.finish(8, [-1])  # last seen in the band, beyond the line
(None, [(0, 'exit')])
>>> counter = LineCrossings(max_speed=1.0)
>>> counter.move(8, 0.0, (0.5, 0.40)), counter.observe(0, 8, -1)
(False, None)
>>> counter.move(8, 0.08, (0.5, 0.90)), counter.observe(0, 8, 1)  # 0.5 in 80 ms: an id switch
(True, None)
"""

from __future__ import annotations

ENTRY = "entry"
EXIT = "exit"


class LineCrossings:
    """Confirmed side per (line, track); ``observe`` returns 'entry', 'exit' or None.

    ``max_speed`` None turns the continuity check off (then ``move`` only records positions).
    """

    # Class-level defaults: a checkpoint from before the continuity rule restores only ``sides``
    # (checkpoints set attributes directly, no constructor runs).
    max_speed: float | None = None
    min_step_s: float = 0.2
    splits: int = 0
    last: dict[int, tuple[float, float, float]] | None = None

    def __init__(self, max_speed: float | None = None, min_step_s: float = 0.2):
        self.sides: dict[tuple[int, int], int] = {}
        self.max_speed = max_speed
        self.min_step_s = min_step_s
        self.last = {}  # track -> (t, x, y) of its last position
        self.splits = 0  # teleports seen (tracks split)

    def move(self, track: int, t: float, point: tuple[float, float]) -> bool:
        """Record the track's foot point at ``t``; True when the step was a teleport (track split).

        Call before ``observe`` for that frame. A step back in time is ignored. Called for every
        tracked person of every frame on a camera with lines: kept to plain float arithmetic.
        """
        last = self.last
        if last is None:
            last = self.last = {}
        before = last.get(track)
        x, y = point
        if before is None:
            last[track] = (t, x, y)
            return False
        t0, x0, y0 = before
        if t < t0:
            return False
        last[track] = (t, x, y)
        if self.max_speed is None:
            return False
        reach = self.max_speed * max(t - t0, self.min_step_s)
        if (x - x0) ** 2 + (y - y0) ** 2 <= reach * reach:
            return False
        self.splits += 1
        self._forget_sides(track)
        return True

    def observe(self, line: int, track: int, side: int) -> str | None:
        """``side``: +1 / -1, a foot point beyond the debounce band (``LineSet.sides``); 0 says nothing."""
        if not side:
            return None
        key = (line, track)
        before = self.sides.get(key)
        self.sides[key] = side
        if before is None or before == side:
            return None
        return ENTRY if side > 0 else EXIT

    def finish(self, track: int, last_sides: list[int]) -> list[tuple[int, str]]:
        """The track ended: (line, 'entry'/'exit') for each line whose confirmed side differs from
        the side of its last position (``last_sides[line]``: +1 / -1 ignoring the band, 0 beside
        the segment; see rule 4). Forgets the track."""
        # The last side is one more observation, band or not: ``observe``'s rule decides.
        crossed = [(line, c) for line, side in enumerate(last_sides) if (c := self.observe(line, track, side))]
        self.forget(track)
        return crossed

    def last_position(self, track: int) -> tuple[float, float] | None:
        """The track's last foot point given to ``move`` (None when it has none)."""
        last = (self.last or {}).get(track)
        return None if last is None else (last[1], last[2])

    def forget(self, track: int) -> None:
        self._forget_sides(track)
        if self.last:
            self.last.pop(track, None)

    def _forget_sides(self, track: int) -> None:
        for key in [k for k in self.sides if k[1] == track]:
            del self.sides[key]
