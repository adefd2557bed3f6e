"""Line crossings counted per window: entries and exits of each counting line.

``lines.LineCrossings`` decides whether a track crossed; this tallies what it decided.

>>> counts = LineCounts.empty(lines=2)
>>> counts.count(1, "entry"); counts.count(1, "exit"); counts.count(1, "entry")
>>> counts.entries, counts.exits
([0, 2], [0, 1])
"""

from __future__ import annotations

from dataclasses import dataclass, field

from services.aggregate.lines import ENTRY


@dataclass
class LineCounts:
    entries: list[int] = field(default_factory=list)
    exits: list[int] = field(default_factory=list)

    @classmethod
    def empty(cls, lines: int) -> LineCounts:
        return cls([0] * lines, [0] * lines)

    def count(self, line: int, crossed: str) -> None:
        """``crossed``: what ``LineCrossings.observe`` returned ('entry' or 'exit')."""
        if crossed == ENTRY:
            self.entries[line] += 1
        else:
            self.exits[line] += 1
