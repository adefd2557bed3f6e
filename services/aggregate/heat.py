"""Heat: where people stood in a window, as foot points per cell of a coarse grid over the view.

Counted by the aggregator per window from the per-batch geometry pass; drawn by ``heatmap.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class HeatGrid:
    """Foot points per grid cell over one window, flat (row-major, ``grid`` = (grid_x, grid_y)).

    The cells come from the per-batch geometry pass (``geometry.grid_cells``): one int per person.

    >>> heat = HeatGrid.empty((4, 2))
    >>> heat.add([0, 5, 5])
    >>> heat.array().tolist()
    [[1, 0, 0, 0], [0, 2, 0, 0]]
    """

    grid: tuple[int, int]
    counts: list[int] = field(default_factory=list)

    @classmethod
    def empty(cls, grid: tuple[int, int]) -> HeatGrid:
        return cls(tuple(grid), [0] * (grid[0] * grid[1]))

    def add(self, cells: list[int]) -> None:
        counts = self.counts
        for cell in cells:
            counts[cell] += 1

    def array(self) -> np.ndarray:
        """(grid_y, grid_x) int64 counts."""
        gx, gy = self.grid
        return np.asarray(self.counts, dtype=np.int64).reshape(gy, gx)
